"""Notebooks 03, 04 and 05 on collections given by parameter: an ir_datasets id of a local folder
registered through ir_datasets' own API, a bitext file, and mMARCO-style training pairs."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from helpers import bible_collection
from otclir import runner
from otclir.data.tasks import bitext_pairs

TRAINING = {"batch_size": 8, "max_length": 48, "dev_queries": 20, "dev_docs": 100, "seed": 0, "steps": 6,
            "eval_every": 3, "checkpoint_every": 6}


def otclir(*args):
    return subprocess.run([sys.executable, "-m", "otclir.cli", *args], capture_output=True, text=True, timeout=1200)


@pytest.fixture
def collections(tmp_path, tmp_outputs, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("OTCLIR_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("OTCLIR_COLLECTIONS", str(tmp_path / "collections"))
    return tmp_path


@pytest.mark.slow
@pytest.mark.cost(90)
def test_notebooks_03_and_05_run_on_a_collection_with_the_same_tables_and_figures(collections):
    bible_collection(collections / "collections", "verses", ["sw"], queries=20, docs=150)
    bitext = collections / "bitext.tsv"
    bitext.write_text("".join(f"{e}\t{t}\n" for e, t in bitext_pairs("sw", budget=64, seed=5)))
    # the command a researcher types: otclir run 03 -p collection <id> ...
    params = {"collection": "local/verses/{language}", "bitext": str(bitext), "study": "null",
              "objectives": '["sentence_mse", "ot"]', "budgets": "[48]", "training": json.dumps(TRAINING),
              "test_queries": "null", "test_docs": "null", "training_seeds": "[0]"}  # seeds: the quick test's part
    done = otclir("run", "03", *[x for key, value in params.items() for x in ("-p", key, value)])
    assert done.returncode == 0, done.stderr[-3000:]
    folder = collections / "results" / "quick+custom" / "03_distillation_training"
    results = pd.read_csv(folder / "results.csv")
    assert set(results.system) == {"student-zero-shot", "minilm-on-target", "distill-sentence_mse@48", "distill-ot@48",
                                   "bm25-dictionary@48", "rrf-dictionary@48"}  # no upper bounds: the collection has no English documents
    assert results.gap_share_AP.isna().all() and results.AP.between(0, 1).all()
    per_query = pd.read_csv(folder / "perquery_en-sw.csv.gz", dtype={"query": str})
    assert per_query["query"].nunique() == 20
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["collection"] == "local/verses/{language}" and settings["bitext"] == str(bitext)
    metrics = runner.load_metrics("03_distillation_training")
    assert set(metrics["summary"]) == {"sw mean", "sw maxsim"}
    assert metrics["summary"]["sw mean"]["by"] == "AP"  # no ceiling: AP itself, not a share of the gap
    assert metrics["summary"]["sw mean"]["highest_on_test"] in {"distill-ot@48"}
    done = otclir("run", "05", "-p", "collection", "local/verses/{language}")
    assert done.returncode == 0, done.stderr[-3000:]
    families = runner.load_metrics("05_map_significance")["families"]
    assert set(families) == {f"collection sw {s} {m}" for s in ("mean", "maxsim") for m in ("AP", "nDCG@10")}
    figures = {p.name for p in (collections / "figures" / "quick+custom").iterdir()}
    for stem in ("03_results_mean", "03_results_maxsim", "03_training_sw", "05_results_mean_AP", "05_results_maxsim_nDCG10",
                 "05_per_query_differences"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= figures
    assert {"05_significance_collection_en-sw_maxsim_AP.tex", "05_significance_collection_en-sw_mean_nDCG10.csv",
            "03_results.csv"} <= figures
    unknown = otclir("run", "05", "-p", "collection", "local/nosuch/{language}")  # refused before a kernel starts
    assert unknown.returncode == 2 and "unknown ir_datasets id 'local/nosuch/*'" in unknown.stderr
    bible_collection(collections / "collections", "other", ["sw"], queries=5, docs=20)
    other = otclir("run", "05", "-p", "collection", "local/other/{language}")
    assert other.returncode != 0 and "computed on local/verses/{language}, not on local/other/{language}" in other.stderr


@pytest.mark.slow
@pytest.mark.cost(30)
def test_notebook_04_trains_on_pairs_in_mmarco_layout(collections):
    bible_collection(collections / "collections", "pairs", ["en", "sw"], split="train", queries=40, docs=300,
                     docpairs=True)
    overrides = {"pairs_collection": "local/pairs/{language}", "grid_name": "collection", "alphas": [0.0, 1.0],
                 "ot_weights": [0.0], "budgets": [32],
                 "training": {"languages": ["en", "sw"], "steps": 2, "batch_size": 8, "lr": 2e-5, "warmup": 0.1,
                              "max_length": 48, "temperature": 0.05, "eval_every": 0, "checkpoint_every": 2},
                 "evaluation": {"max_queries": 12, "max_docs": 60, "depth": 60}}
    runner.run_notebook("04", overrides=overrides)
    folder = collections / "results" / "quick+custom" / "04_hybrid_batch_ablations"
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["training"]["pairs_collection"] == "local/pairs/{language}"
    metrics = runner.load_metrics("04_hybrid_batch_ablations")
    assert set(metrics["mean_by_setting"]["monolingual"]) == {"zero-shot", "alpha=0 lambda=0", "alpha=1 lambda=0"}
    assert (collections / "figures" / "quick+custom" / "04_metric_by_alpha.png").is_file()
