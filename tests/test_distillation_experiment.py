"""The distillation experiment end to end on the quick profile: notebook 03 computes its results with
provenance, reads them back in reporting mode, and notebook 05 tests them; every profile is valid."""
import dataclasses
import json

import pandas as pd
import pytest

from otclir import runner
from otclir.errors import OtclirError
from otclir.experiments.distillation import ExperimentSettings, reusable_study
from otclir.experiments.results import ResultStore


@pytest.mark.parametrize("profile", ["quick", "paper", "full"])
def test_every_profile_of_notebook_03_is_a_valid_experiment(profile):
    params = {**runner.declared_defaults("03"), **runner.resolve_parameters(runner.notebook_path("03"), profile)}
    names = ("languages", "budgets", "objectives", "training", "study", "systems", "scorers", "rerank_depth",
             "test_queries", "test_docs", "seed")
    settings = ExperimentSettings(**{k: params[k] for k in names if k in params})
    assert set(settings.objectives) >= {"sentence_mse", "contrastive", "ot"}
    grid = settings.study_grid()
    assert len(grid.configs()) >= len(settings.objectives)
    if profile == "paper":
        # the low-resource languages and the two contrast languages at both budgets, on whole test splits
        assert settings.languages == ["sw", "tl", "ny", "fa", "fr"] and settings.budgets == [500, 2000]
        assert settings.test_docs is None and settings.test_queries is None
        assert not params["recompute"]  # the stored notebooks read the committed results
        # three training seeds for every student, both Bible tasks, the plan sources in the study
        assert params["training_seeds"] == [0, 1, 2] and params["tasks"] == ["crossref", "topical"]
        assert set(params["study"]["plans"]) == {"adaptive", "fixed", "statistical"}


def test_bad_settings_fail_before_anything_trains():
    with pytest.raises(OtclirError, match="unknown objective"):
        ExperimentSettings(objectives=["kl"])
    with pytest.raises(OtclirError, match="unknown system"):
        ExperimentSettings(systems=["bm25"])
    with pytest.raises(OtclirError, match="unknown study setting"):
        ExperimentSettings(study={"learning_rates": [1e-4]})
    with pytest.raises(OtclirError, match="unknown language"):
        ExperimentSettings(languages=["xx"])


@pytest.mark.slow
@pytest.mark.cost(250)
def test_quick_profile_computes_reads_back_and_tests_every_system(tmp_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("OTCLIR_FIGURES", str(tmp_path / "figures"))
    runner.run_notebook("03")
    folder = tmp_path / "results" / "quick" / "03_distillation_training"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["settings"]["languages"] == ["sw"] and provenance["wall_seconds"] > 0
    assert 0 < provenance["language_seconds"]["sw"] < provenance["wall_seconds"]  # each part's time, for resumed runs
    assert provenance["language_commits"]["sw"] == provenance["git"]["commit"]
    results = pd.read_csv(folder / "results.csv")
    systems = set(results.system)
    assert {"student-zero-shot", "minilm-on-target", "bm25-dictionary@48", "ceiling-teacher-on-english",
            "oracle-translate-test"} <= systems
    assert {f"distill-{o}@48" for o in ("sentence_mse", "contrastive", "ot", "ot+contrastive")} <= systems
    dense = results[results.scorer != "bm25"]
    assert set(dense.scorer) == {"mean", "maxsim"} and dense.groupby(["system", "task", "seed"], dropna=False).size().eq(2).all()
    assert set(results.task) == {"crossref", "topical"}
    assert set(results[results.system == "distill-ot@48"].seed) == {0, 1}  # every student once per training seed
    zero = results[results.system == "student-zero-shot"].gap_share_AP
    ceiling = results[results.system == "ceiling-teacher-on-english"].gap_share_AP
    assert (zero == 0).all() and (ceiling == 1).all()
    students = results[results.system.str.startswith("distill-")]
    assert students.selected_step.notna().all() and students.selected_by.eq("dev_bitext_MRR").all()
    study = pd.read_csv(folder / "study.csv")
    assert set(study.objective) == {"sentence_mse", "contrastive", "ot", "ot+contrastive"} and (study.step == 0).any()
    assert (study.config_seconds > 0).all() and study.groupby("config").config_seconds.nunique().eq(1).all()
    logs = pd.read_csv(folder / "training_logs.csv.gz", low_memory=False)
    assert {"plan_entropy", "alignment", "uniformity", "dev_bitext_MRR"} <= set(logs.columns)
    assert (tmp_path / "figures" / "quick" / "03_recipe_study.png").is_file()
    # a recomputation with the same study settings reuses the finished study; other study settings do not
    store = ResultStore("quick", "03_distillation_training")
    stored = ExperimentSettings(**json.loads((folder / "settings.json").read_text()))
    reused = reusable_study(dataclasses.replace(stored, languages=["tl"]), store)
    assert reused is not None and reused[0].equals(study) and set(reused[1].config) == set(study.config)
    assert json.loads((folder / "study_provenance.json").read_text())["git"] == provenance["git"]
    other = dataclasses.replace(stored, study={**stored.study, "lrs": [1e-3]})
    assert reusable_study(other, store) is None
    assert not (folder / "parts").exists() and "resumed_languages" not in provenance
    # reporting mode reads the same results back; other settings are refused with the fix named
    runner.run_notebook("03", overrides={"recompute": False})
    metrics = runner.load_metrics("03_distillation_training")
    assert set(metrics["summary"]) == {f"{t} sw {s}" for t in ("crossref", "topical") for s in ("mean", "maxsim")}
    with pytest.raises(OtclirError, match="no results of profile 'quick\\+custom'"):  # overrides file apart
        runner.run_notebook("03", overrides={"recompute": False, "budgets": [128]})
    runner.run_notebook("05")
    significance = runner.load_metrics("05_map_significance")
    families = significance["families"]
    assert set(families) == {f"{t} sw {s} {m}" for t in ("crossref", "topical") for s in ("mean", "maxsim")
                             for m in ("AP", "nDCG@10")}
    pairs = {(r["treatment"], r["baseline"]) for r in families["crossref sw maxsim AP"]}
    assert ("distill-ot@48", "student-zero-shot") in pairs and ("distill-ot+contrastive@48", "student-zero-shot") in pairs
    assert not any("ceiling" in t or "oracle" in b for t, b in pairs)
    assert (tmp_path / "figures" / "quick" / "05_significance_crossref_en-sw_maxsim_AP.tex").is_file()
    assert (tmp_path / "figures" / "quick" / "05_results_maxsim_AP.png").is_file()


def test_a_recomputation_reuses_finished_languages_only_with_the_same_settings(tmp_path, monkeypatch):
    from otclir.experiments.distillation import PARTS, finished_languages

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    settings = ExperimentSettings(languages=["sw", "tl"], study=None)
    store = ResultStore("quick", "03_distillation_training")
    table = pd.DataFrame({"language": ["sw"], "system": ["student-zero-shot"], "scorer": ["mean"], "AP": [0.05]})
    logs = pd.DataFrame({"step": [0, 10], "language": "sw", "part": "headline", "loss": [1.0, 0.5]})
    with store.recomputing():  # a run that stops after sw: its parts stay staged
        store.start(settings.to_record())
        store.write_table(f"{PARTS}/results_en-sw.csv", table)
        store.write_table("perquery_en-sw.csv.gz", pd.DataFrame({"query": ["001"], "AP": [0.05]}))
        store.write_json(f"{PARTS}/results_en-sw.json", {"date": "then", "git": {"commit": "abc"}})
        store.write_table(f"{PARTS}/training_logs_en-sw.csv.gz", logs)
    found = finished_languages(settings, store)
    assert set(found) == {"sw"}  # tl has no parts yet
    stored_table, queries, record, stored_logs = found["sw"]
    assert stored_table.equals(table) and queries["query"].tolist() == ["001"] and record["git"]["commit"] == "abc"
    assert stored_logs.equals(logs)  # a fresh checkout has no trained students: their logs come with the part
    assert finished_languages(dataclasses.replace(settings, rerank_depth=50), store) == {}
    # another list of languages reuses what was computed for each (adding fa computes fa only)
    assert set(finished_languages(dataclasses.replace(settings, languages=["fa", "sw"]), store)) == {"sw"}
    with store.recomputing():
        store.start(settings.to_record())
        store.remove(PARTS)
        assert not store.staged(PARTS).exists() and finished_languages(settings, store) == {}
        # a finished run: its results table and per-query measures, with the run's date and commit
        both = pd.concat([table, table.assign(language="tl", AP=0.07)], ignore_index=True)
        store.write_table("results.csv", both)
        store.write_table("perquery_en-tl.csv.gz", pd.DataFrame({"query": ["002"], "AP": [0.07]}))
        store.write_table("training_logs.csv.gz", pd.concat([logs, logs.assign(language="tl")], ignore_index=True))
        store.finish(1.0, settings.to_record(), resumed_languages={"sw": {"date": "then", "git": {"commit": "abc"}}})
    found = finished_languages(dataclasses.replace(settings, languages=["sw", "tl", "fa"]), store)
    assert set(found) == {"sw", "tl"}
    assert found["tl"][0].AP.tolist() == [0.07] and found["tl"][1]["query"].tolist() == ["002"]
    assert set(found["tl"][3].language) == {"tl"} and len(found["tl"][3]) == 2
    assert found["sw"][2]["git"]["commit"] == "abc"  # a reused language keeps the record of where it was computed
    assert found["tl"][2]["date"] == store.provenance()["date"]
    assert finished_languages(dataclasses.replace(settings, budgets=[500]), store) == {}


def test_a_stopped_study_resumes_at_the_configuration_it_stopped_in(tmp_outputs, tmp_path, monkeypatch):
    """Each finished study configuration is staged with its points and log; a rerun with the same
    settings and code takes them as they are and trains none of them again."""
    from otclir.experiments import recipe_study
    from otclir.experiments.distillation import keep_study_points, staged_study_points

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    params = {**runner.declared_defaults("03"), **runner.resolve_parameters(runner.notebook_path("03"), "quick")}
    settings = ExperimentSettings(languages=["sw"], training=params["training"], study=params["study"])
    grid = settings.study_grid()
    labels = [recipe_study.config_label(c) for c in grid.configs()]
    store = ResultStore("quick", "03_distillation_training")
    with store.recomputing():  # a run that stops after finishing every configuration but the last
        store.start(settings.to_record())
        for i, label in enumerate(labels[:-1]):
            keep_study_points(store, label, pd.DataFrame({"config": [label] * 2, "step": [0, 8], "AP": [0.1, 0.1 + i]}),
                              pd.DataFrame({"config": [label], "step": [8], "loss": [1.0]}))
    with store.recomputing():
        store.start(settings.to_record())
        staged = staged_study_points(store)
        assert set(staged) == set(labels[:-1]) and staged[labels[1]][0].AP.tolist() == [0.1, 1.1]
        trained, kept = [], []
        monkeypatch.setattr(recipe_study, "train", lambda config, *a, **k: trained.append(recipe_study.config_label(config))
                            or (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            recipe_study.run_study(grid, "quick", test_queries=4, test_docs=20, done=staged,
                                   keep=lambda *x: kept.append(x[0]), log=lambda *_: None)
        assert trained == labels[-1:] and kept == []  # only the unfinished configuration trains
    with store.recomputing():  # a stopped run whose study finished: reused without its trainings on this machine
        store.start(settings.to_record())
        store.write_table("study.csv", pd.DataFrame({"config": labels, "step": 0}))
        store.write_json("study_provenance.json", {"date": "then"})
        assert reusable_study(settings, store) is None  # no stored logs and no trainings here
        store.write_table("study_logs.csv.gz", pd.DataFrame({"config": labels, "step": 8, "loss": 1.0}))
    reused = reusable_study(settings, store)
    assert reused is not None and set(reused[1].config) == set(labels) and reused[2] == {"date": "then"}
    with store.recomputing():  # other settings start afresh
        store.start({**settings.to_record(), "rerank_depth": 50})
        assert staged_study_points(store) == {}
