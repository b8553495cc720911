"""Papermill runner: parameters from profiles, files and -p; unknown names rejected; failures stop."""
import subprocess
import sys

import nbformat
import pytest

from otclir import runner
from otclir.errors import OtclirError, UnknownParameterError


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "otclir.cli", *args], capture_output=True, text=True, env=env)


def test_notebooks_are_found_by_number_or_name():
    assert runner.notebook_path("01").name == "01_data_exploration.ipynb"
    assert runner.notebook_path("data_exploration") == runner.notebook_path("01_data_exploration.ipynb")
    with pytest.raises(OtclirError, match="unknown notebook 'nine'.*01_data_exploration"):
        runner.notebook_path("nine")


def test_unknown_parameter_is_rejected_with_the_known_names():
    with pytest.raises(UnknownParameterError, match="no parameter.*sample_size.*sample_verses"):
        runner.resolve_parameters(runner.notebook_path("01"), overrides={"sample_size": 3})


def test_parameter_sources_layer_in_order(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("sample_verses: 7\nseed: 3\n")
    resolved = runner.resolve_parameters(runner.notebook_path("01"), profile="full",
                                         params_file=str(params), overrides={"seed": 5})
    assert resolved == {"sample_verses": 7, "seed": 5, "profile": "full"}
    assert runner.resolve_parameters(runner.notebook_path("01"), profile="full") == {"sample_verses": None,
                                                                                   "profile": "full"}
    with pytest.raises(OtclirError, match="unknown profile 'fast'; profiles: full, paper"):
        runner.load_profile("fast")
    assert runner.parse_value("[sw, tl]") == ["sw", "tl"] and runner.parse_value("null") is None


@pytest.mark.slow
def test_a_failing_cell_stops_the_run_with_its_error(tmp_path, tmp_outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("divisor = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("ratio = 1 / divisor"),
                nbformat.v4.new_code_cell("print('never reached')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "09_fails.ipynb"
    nbformat.write(nb, path)
    out = runner.run_notebook(str(path), overrides={"divisor": 4})
    assert out == tmp_outputs / "notebooks" / "quick+custom" / "09_fails.ipynb" and out.is_file()
    with pytest.raises(runner.NotebookFailed, match=r"09_fails.ipynb failed in cell In \[2\] \(ZeroDivisionError.*"
                                                    r"outputs/notebooks/quick/09_fails.failed.ipynb"):
        runner.run_notebook(str(path))
    executed = nbformat.read(tmp_outputs / "notebooks" / "quick" / "09_fails.failed.ipynb", as_version=4)
    assert not executed.cells[-1].outputs  # nothing ran after the failure
    assert out.is_file()  # the last successful copy is kept


@pytest.mark.slow
def test_notebook_01_runs_headless_and_records_metrics(tmp_outputs):
    out = runner.run_notebook("01", overrides={"languages": ["en", "tl", "sw"], "sample_verses": 60})
    assert out == tmp_outputs / "notebooks" / "quick+custom" / "01_data_exploration.ipynb"  # overrides: apart
    metrics = runner.load_metrics("01_data_exploration")
    assert metrics["sample_verses"] == 60
    assert metrics["verses"] == {"en": 31102, "tl": 31102, "sw": 31102}
    assert metrics["relevance"]["test"]["queries"] == 1536
    # The English WordPiece teacher cuts Tagalog and Swahili into more pieces than English.
    assert metrics["teacher_fertility"]["en"] < metrics["teacher_fertility"]["tl"]
    assert metrics["teacher_fertility"]["en"] < metrics["teacher_fertility"]["sw"]
    assert "/" not in str(nbformat.read(out, as_version=4).metadata.papermill.input_path)[:1]


@pytest.mark.slow
def test_cli_reports_bad_input_clearly(tmp_outputs, tmp_path):
    result = _cli("run", "nine")
    assert result.returncode == 2 and "unknown notebook 'nine'" in result.stderr
    result = _cli("run", "01", "-p", "sample_size", "3")
    assert result.returncode == 2 and "sample_verses" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    result = _cli("run", "01", "-f", str(bad))
    assert result.returncode == 2 and "must hold a mapping" in result.stderr
    result = _cli("run", "01", "-p", "languages", "[en, xx]")
    assert result.returncode == 2 and "unknown language 'xx'" in result.stderr  # checked before anything runs


@pytest.mark.slow
def test_cli_data_check_agrees_with_the_manifest(tmp_outputs):
    result = _cli("data", "--check")
    assert result.returncode == 0, result.stderr
    assert "tasks match data/manifest.json" in result.stdout
    assert (tmp_outputs / "derived" / "tasks" / "crossref" / "test" / "en-sw" / "qrels.txt").is_file()


@pytest.mark.slow
@pytest.mark.cost(45)
def test_notebook_02_aligns_better_with_ot_than_without(tmp_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    overrides = {"alignment_verses": 40, "epsilons": [0.02, 0.05], "blur_epsilons": [0.05, 0.5],
                 "scaled_epsilons": [0.3], "layers": [8, 12]}
    runner.run_notebook("02", overrides=overrides)
    metrics = runner.load_metrics("02_ot_alignment")
    stored = tmp_path / "results" / "quick+custom" / "02_ot_alignment"
    assert {"plans.json", "alignment_quality.csv", "by_layer.csv", "provenance.json"} <= {p.name for p in stored.iterdir()}
    # reporting mode draws the same numbers from the stored files without the model; other settings are refused
    runner.run_notebook("02", overrides={**overrides, "recompute": False})
    assert runner.load_metrics("02_ot_alignment") == metrics
    with pytest.raises(OtclirError, match="computed with other settings"):
        runner.run_notebook("02", overrides={**overrides, "recompute": False, "greek_verse": "43001002"})
    nt = metrics["testaments"]["nt"]
    assert nt["verses"] == 40
    assert nt["best_aer"]["sinkhorn"] < nt["best_aer"]["cosine argmax (no OT)"] < nt["best_aer"]["diagonal"]
    entropy = metrics["plan_entropy"]
    assert entropy["0.05"] < entropy["0.5"]  # a larger epsilon spreads the plan
    assert nt["best_aer"]["fast_align-style Model 2"] < nt["best_aer"]["IBM Model 1"]  # the diagonal prior helps
    layers = metrics["by_layer"]
    assert layers["8"]["best_aer"] < layers["12"]["best_aer"]  # a middle layer aligns better than the last


def test_stored_notebooks_are_only_replaced_by_the_paper_profile_as_it_is():
    runner.check_storable("paper")
    with pytest.raises(OtclirError, match="--store keeps the stored notebooks on the 'paper' profile"):
        runner.check_storable("quick")
    with pytest.raises(OtclirError, match="overrides \\(sample_verses\\)"):
        runner.check_storable("paper", overrides={"sample_verses": 50})
    with pytest.raises(OtclirError, match="recompute"):
        runner.check_storable("paper", overrides={"recompute": True})
    with pytest.raises(OtclirError, match="not a path"):
        runner.run_notebook("01", profile="../profiles/quick")


def test_a_profile_naming_a_key_twice_is_refused_with_the_key(tmp_path):
    from otclir.errors import OtclirError
    from otclir.runner import read_yaml

    path = tmp_path / "twice.yaml"
    path.write_text("03_distillation_training:\n  seeds: [0]\n  seeds: [1]\n", encoding="utf-8")
    with pytest.raises(OtclirError, match="the key 'seeds' appears twice"):
        read_yaml(path)
    path.write_text("03_distillation_training: {seeds: [0]}\n04_hybrid_batch_ablations: {seeds: [0]}\n", encoding="utf-8")
    assert read_yaml(path)["04_hybrid_batch_ablations"] == {"seeds": [0]}  # the same key in two sections is fine


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "a\\\\b"])
def test_names_that_become_paths_stay_inside_their_folders(name, tmp_path):
    import matplotlib.pyplot as plt

    from otclir.errors import OtclirError
    from otclir.experiments.results import ResultStore
    from otclir.plots.style import save_figure

    with pytest.raises(OtclirError, match="plain name"):
        ResultStore("quick", name)
    fig = plt.figure()
    with pytest.raises(OtclirError, match="plain name"):
        save_figure(fig, name, folder=tmp_path)
    plt.close(fig)
    assert list(tmp_path.iterdir()) == []


def test_what_a_kernel_would_fail_on_is_refused_before_it_starts(tmp_path, monkeypatch):
    """A layer the model lacks, an unregistered collection, a relative file read from the wrong folder."""
    from otclir.errors import OtclirError
    from otclir.runner import notebook_path, resolve_parameters

    with pytest.raises(OtclirError, match="layer 99 does not exist: the model has 12 layers"):
        resolve_parameters(notebook_path("02"), "quick", None, {"layer": 99})
    with pytest.raises(OtclirError, match="unknown ir_datasets id 'nosuch/thing'"):
        resolve_parameters(notebook_path("03"), "quick", None, {"collection": "nosuch/thing"})
    (tmp_path / "pairs.tsv").write_text("In the beginning\tMwanzo\nAnd God said\tMungu akasema\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    resolved = resolve_parameters(notebook_path("03"), "quick", None, {"bitext": "pairs.tsv"})
    assert resolved["bitext"] == str(tmp_path / "pairs.tsv")  # the kernel runs in notebooks/: the file the user meant


def test_workers_below_one_are_refused_by_the_command(capsys):
    from otclir.cli import main

    with pytest.raises(SystemExit):
        main(["larger-budget", "--profile", "paper", "--workers", "0"])
    assert "--workers: must be a whole number of at least 1, got 0" in capsys.readouterr().err


def test_a_read_only_folder_is_named_with_the_fix(monkeypatch, capsys):
    import errno

    from otclir import cli

    def refused(args):
        raise OSError(errno.EROFS, "Read-only file system", "outputs/notebooks/quick")

    monkeypatch.setattr(cli, "_status", refused)
    assert cli.main(["status", "--profile", "quick"]) == 2
    err = capsys.readouterr().err
    assert "cannot write outputs/notebooks/quick (Read-only file system)" in err and "OTCLIR_OUTPUTS" in err
