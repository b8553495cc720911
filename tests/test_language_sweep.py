"""The language sweep: every Bible language declared, bad settings refused before anything trains,
the headline's languages read rather than trained, a language trained and evaluated for real, a
finished or stopped sweep resumed without computing a language twice; the test across languages."""
import numpy as np
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation import across_languages
from otclir.experiments import language_sweep
from otclir.experiments.distillation import NOTEBOOK, ExperimentSettings, default_recipes
from otclir.experiments.results import ResultStore
from otclir.runner import declared_language_sweep


def test_every_bible_language_is_known_with_a_pretraining_size():
    languages = language_sweep.bible_languages()
    assert len(languages) == 22 and "en" not in languages and {"sw", "tl", "ny", "zh", "ja", "bn"} <= set(languages)
    sizes = across_languages.pretraining_sizes()
    assert set(languages) <= set(sizes.index)
    assert sizes.loc["ny", "cc100_gib"] == 0 and sizes.loc["sw", "cc100_gib"] < sizes.loc["fr", "cc100_gib"]
    declared = declared_language_sweep("paper")
    assert declared.chosen_languages == languages and declared.seeds == [0] and declared.budget == 2000
    with pytest.raises(OtclirError, match="profile 'quick' declares no language_sweep"):
        declared_language_sweep("quick")


@pytest.mark.parametrize("values, message", [
    ({"objectives": ["kl"]}, "objectives"),
    ({"languages": ["en", "sw"]}, "leave 'en' out"),
    ({"languages": ["xx"]}, "unknown language 'xx'"),
    ({"scorer": "bm25"}, "scorer"),
    ({"task": "wiki"}, "unknown task|tasks"),
    ({"budget": 0}, "budget"),
    ({"seed": 1}, "unknown language_sweep setting"),
])
def test_bad_sweep_settings_fail_naming_the_fix(values, message):
    with pytest.raises(OtclirError, match=message):
        language_sweep.SweepSettings.from_dict(values)


def _headline(languages=("sw",), budgets=(16,), seeds=(0,)):
    return ExperimentSettings(languages=list(languages), budgets=list(budgets), objectives=["ot"],
                              training={"batch_size": 8, "max_length": 32, "dev_queries": 10, "dev_docs": 30,
                                        "steps": 2, "eval_every": 2, "checkpoint_every": 2},
                              study=None, scorers=["mean"], tasks=["crossref"], test_queries=20, test_docs=60,
                              training_seeds=list(seeds))


def _headline_results(language="sw", budget=16, seeds=(0,)):
    rows = [{"language": language, "task": "crossref", "system": s, "scorer": "mean", "AP": ap, "seed": np.nan}
            for s, ap in (("student-zero-shot", 0.05), ("ceiling-teacher-on-english", 0.11))]
    rows += [{"language": language, "task": "crossref", "system": f"distill-ot@{budget}", "scorer": "mean",
              "AP": 0.06 + seed / 100, "seed": seed, "selected_untrained": False} for seed in seeds]
    return pd.DataFrame(rows)


def test_the_headline_languages_are_read_only_where_it_holds_every_row():
    headline = _headline(seeds=(0, 1))
    results = _headline_results(seeds=(0, 1))
    sweep = language_sweep.SweepSettings(languages=["sw"], budget=16, objectives=["ot"], seeds=[1])
    rows = language_sweep.headline_rows(sweep, headline, results, "sw")
    assert set(rows.system) == set(sweep.systems) and rows[rows.system == "distill-ot@16"].seed.tolist() == [1]
    assert language_sweep.headline_rows(sweep, headline, results, "tl") is None  # not a headline language
    for other in ({"seeds": [2]}, {"budget": 32}, {"scorer": "maxsim"}):
        changed = language_sweep.SweepSettings(**{"languages": ["sw"], "budget": 16, "objectives": ["ot"], **other})
        assert language_sweep.headline_rows(changed, headline, results, "sw") is None
    with pytest.raises(OtclirError, match="no recipe"):
        language_sweep.experiment_settings(language_sweep.SweepSettings(objectives=["contrastive"]), headline)


def test_token_measures_cover_languages_written_without_spaces():
    from otclir.models.tokenization import load_tokenizer

    tokenizer = load_tokenizer("e5-small-student")
    french = language_sweep.token_measures("fr", "crossref", tokenizer)
    chinese = language_sweep.token_measures("zh", "crossref", tokenizer)
    assert 1.0 < french["pieces_per_word"] < 3.0 and french["verses"] > 1000
    assert chinese["pieces_per_word"] is None and chinese["pieces_per_english_piece"] > 0.3


@pytest.mark.slow
def test_a_sweep_reads_the_headline_trains_the_rest_and_resumes(tmp_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    headline = _headline()
    store = ResultStore("quick", NOTEBOOK)
    with store.recomputing():
        store.start(headline.to_record())
        store.write_table("results.csv", _headline_results())
        store.write_json("recipes.json", default_recipes(headline))
        store.finish(1.0, headline.to_record())
    sweep = language_sweep.SweepSettings(languages=["sw", "tl"], budget=16, objectives=["ot"], seeds=[0])
    language_sweep.compute(sweep, "quick")  # tl is trained for real (two steps) and evaluated on a sampled pool
    stored = language_sweep.load("quick")
    sources = stored["sources"].set_index("language")["from"]
    assert sources.to_dict() == {"sw": "headline", "tl": "sweep"}
    results = stored["results"]
    assert set(results[results.language == "tl"].system) == set(sweep.systems)
    assert results[(results.language == "sw") & (results.system == "distill-ot@16")].AP.tolist() == [0.06]
    assert stored["languages"].pieces_per_english_piece.gt(0.5).all()
    assert not language_sweep.SweepStore("quick").staged(language_sweep.PARTS).exists()

    def no_training(*args, **kwargs):
        raise RuntimeError("a language was computed twice")

    monkeypatch.setattr(language_sweep, "_train_and_compare", no_training)
    reordered = language_sweep.SweepSettings(languages=["tl", "sw"], budget=16, objectives=["ot"], seeds=[0])
    language_sweep.compute(reordered, "quick")  # another list of the same languages: nothing is trained
    assert language_sweep.load("quick")["results"].language.drop_duplicates().tolist() == ["tl", "sw"]
    longer = language_sweep.SweepSettings(languages=["tl", "sw", "fr"], budget=16, objectives=["ot"], seeds=[0])
    with pytest.raises(RuntimeError, match="twice"):  # fr must be trained: stopped there, tl and sw staged
        language_sweep.compute(longer, "quick")
    assert language_sweep.staged_languages("quick") == ["sw", "tl"]
    assert set(language_sweep.load("quick")["results"].language) == {"tl", "sw"}  # the stored sweep untouched
    gains = across_languages.gains_table(language_sweep.load("quick"))
    assert set(gains.language) == {"tl", "sw"} and gains.loc[gains.language == "sw", "gain"].round(6).tolist() == [0.01]


def _synthetic_gains(slope: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = across_languages.pretraining_sizes()
    rows = []
    for code in language_sweep.bible_languages():
        size = sizes.loc[code, "cc100_gib"]
        rows.append({"language": code, "tier": "low", "system": "distill-ot@2000", "cc100_gib": size,
                     "pieces_per_word": rng.uniform(1, 2), "pieces_per_english_piece": rng.uniform(0.9, 1.6),
                     "gain": slope * np.log1p(size) + rng.normal(0, 0.001)})
    return pd.DataFrame(rows)


def test_the_rank_correlation_finds_a_gain_that_falls_with_pretraining_text_and_only_then():
    falling = across_languages.rank_correlations(_synthetic_gains(-0.003), covariates=["cc100_gib"],
                                                 n_permutations=2000, n_resamples=300)
    row = falling.iloc[0]
    assert row.languages == 22 and row.rho < -0.7 and row.p < 0.01 and row.rho_high < 0
    assert "in the direction robustness for low-resource languages predicts" in across_languages.correlation_lines(falling)[0]
    flat = across_languages.rank_correlations(_synthetic_gains(0.0), covariates=["cc100_gib"], n_permutations=2000,
                                              n_resamples=300)
    assert flat.iloc[0].p > 0.05 and flat.iloc[0].rho_low < 0 < flat.iloc[0].rho_high
    assert "the test detects |rho| ≥ 0.58" in across_languages.correlation_lines(flat)[0]
    predicted = "(the estimate's sign is the direction robustness for low-resource languages predicts)"
    assert (predicted in across_languages.correlation_lines(flat)[0]) == (flat.iloc[0].rho < 0)
    rising = flat.assign(rho=0.3, p=0.2)  # a null whose estimate points the other way says so
    assert "sign is against the direction" in across_languages.correlation_lines(rising)[0]
    assert across_languages.detectable_rho(22) == pytest.approx(0.58, abs=0.01)
    constant = _synthetic_gains(0.0).assign(gain=0.0)
    assert "no correlation defined" in across_languages.correlation_lines(
        across_languages.rank_correlations(constant, covariates=["cc100_gib"], n_permutations=100, n_resamples=50))[0]


def test_the_contrast_is_one_gain_minus_the_other_per_language():
    left = _synthetic_gains(-0.003)
    right = left.assign(system="distill-sentence_mse@2000", gain=left.gain - 0.002)
    both = pd.concat([left, right], ignore_index=True).assign(seeds=1)
    difference = across_languages.contrast(both, "distill-ot@2000", "distill-sentence_mse@2000")
    assert len(difference) == 22 and np.allclose(difference.gain, 0.002)
    assert difference.system.iloc[0] == "distill-ot@2000 − distill-sentence_mse@2000"
    with pytest.raises(OtclirError, match="no gains of distill-contrastive@2000"):
        across_languages.contrast(both, "distill-contrastive@2000", "distill-ot@2000")


def test_the_summary_states_the_stored_sweep(tmp_path, monkeypatch):
    from otclir import summary

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    gains = _synthetic_gains(-0.003)
    rows, tokens = [], []
    for row in gains.itertuples():
        rows += [{"language": row.language, "task": "crossref", "system": "student-zero-shot", "scorer": "mean",
                  "AP": 0.05, "seed": np.nan},
                 {"language": row.language, "task": "crossref", "system": "ceiling-teacher-on-english", "scorer": "mean",
                  "AP": 0.11, "seed": np.nan}]
        rows += [{"language": row.language, "task": "crossref", "system": f"distill-{o}@2000", "scorer": "mean",
                  "AP": 0.05 + row.gain * (1 if o == "ot" else 0.5), "seed": 0, "selected_untrained": False}
                 for o in ("sentence_mse", "contrastive", "ot")]
        tokens.append({"language": row.language, "pieces_per_word": row.pieces_per_word,
                       "pieces_per_english_piece": row.pieces_per_english_piece, "verses": 3000, "english_words": 1})
    sweep = declared_language_sweep("paper")
    store = language_sweep.SweepStore("paper")
    with store.recomputing():
        store.start({"sweep": sweep.to_record()})
        store.write_table("results.csv", pd.DataFrame(rows))
        store.write_table("languages.csv", pd.DataFrame(tokens))
        store.write_table("sources.csv", pd.DataFrame([{"language": r.language, "from": "sweep"} for r in gains.itertuples()]))
        store.finish(1.0, {"sweep": sweep.to_record()})
    text = "\n".join(summary.sweep_summary("paper"))
    assert "Every language a Bible in the packages is written in (22)" in text and "| OT @2000 |" in text
    assert "low (3 languages)" in text and "OT @2000 − sentence MSE @2000 against CC-100 text (GiB)" in text
    [finding] = summary.sweep_findings("paper")
    assert finding.startswith("- Across the 22 languages the Bibles offer (1 training seed per objective and language)")
    assert "OT @2000 against CC-100 text (GiB): rho -" in finding and "in the direction" in finding
    assert "Languages: 22 trained at commit unknown (" in text  # sources without a commit still say where
    assert "gains on average" in finding and "AP in the low tier (3 languages)" in finding


def test_the_sweep_is_keyed_by_its_own_code_which_trains_as_notebook_03_does():
    from otclir.experiments.provenance import code_fingerprint, notebook_code, store_key

    code = language_sweep.SweepStore("quick").code
    assert code == code_fingerprint("otclir.experiments.language_sweep:compute") != notebook_code(NOTEBOOK)
    sweep, headline = set(store_key(language_sweep.STORE).units), set(store_key(NOTEBOOK).units)
    assert {u for u in headline if u.startswith(("otclir.training.loop", "otclir.training.distillation"))} <= sweep


def test_the_sources_line_names_each_commit_and_what_it_computed():
    sources = pd.DataFrame({"language": ["ar", "sw", "bn", "pt"], "from": ["sweep", "headline", "sweep", "sweep"],
                            "commit": ["2ba98adc", "bcd7e266", "2ba98adc", "69a29f0d"],
                            "seconds": [60.0, float("nan"), 120.0, 240.0]})
    line = across_languages.sources_line(sources)
    assert "2 trained at commit 2ba98ad (ar, bn; 3 min)" in line and "1 trained at commit 69a29f0 (pt; 4 min)" in line
    assert "1 read from notebook 03's headline run at commit bcd7e26 (sw)" in line
