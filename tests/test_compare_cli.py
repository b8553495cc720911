"""otclir eval / compare on TREC files, with clear errors for bad input."""
import subprocess
import sys

import numpy as np
import pytest

from otclir.data import trec
from otclir.errors import OtclirError, TrecFormatError
from otclir.evaluation import compare as significance


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    qrels = {f"q{i}": {f"d{i}": 1, f"d{i + 1}": 1} for i in range(30)}
    trec.write_qrels(tmp_path / "qrels.txt", qrels)
    paths = {}
    for name, quality in (("base", 0.3), ("good", 0.9)):
        run = {}
        for i in range(30):
            docs = {f"d{j}": float(rng.uniform()) for j in range(40)}
            if rng.uniform() < quality:
                docs[f"d{i}"] = 2.0
            run[f"q{i}"] = docs
        paths[name] = trec.write_run(tmp_path / f"{name}.run", run, name)
    return tmp_path, paths


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "otclir.cli", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_compare_marks_the_better_run_in_every_format(runs):
    folder, paths = runs
    out = _cli("compare", folder / "qrels.txt", paths["good"], "--baseline", paths["base"], "--permutations", "2000")
    assert out.returncode == 0, out.stderr
    good_line = next(line for line in out.stdout.splitlines() if line.startswith("good"))
    assert "+" in good_line.split()[1]  # significantly better marker on the mean
    latex = _cli("compare", folder / "qrels.txt", paths["good"], "--baseline", paths["base"], "--format", "latex")
    assert r"\begin{tabular}" in latex.stdout and r"$^{+}$" in latex.stdout
    csv = _cli("compare", folder / "qrels.txt", paths["good"], "--baseline", paths["base"], "--format", "csv",
               "--test", "t", "--correction", "bonferroni")
    assert csv.stdout.splitlines()[0].startswith("system,AP mean,AP diff")
    evaluated = _cli("eval", folder / "qrels.txt", paths["base"], paths["good"], "--per-query", "--measures", "AP")
    assert "AP per query" in evaluated.stdout and "q29" in evaluated.stdout


@pytest.mark.slow
def test_bad_input_gets_a_clear_error(runs, tmp_path):
    folder, paths = runs
    out = _cli("compare", folder / "qrels.txt", paths["good"], "--baseline", paths["base"], "--measures", "MAPP")
    assert out.returncode == 2 and "unknown measure 'MAPP'" in out.stderr
    (tmp_path / "empty.run").write_text("")
    out = _cli("eval", folder / "qrels.txt", tmp_path / "empty.run")
    assert out.returncode == 2 and "empty run" in out.stderr
    (tmp_path / "bad.run").write_text("q1 Q0 d1 1 0.5 x\nq1 Q0 d2 0.4 x\n")
    out = _cli("eval", folder / "qrels.txt", tmp_path / "bad.run")
    assert out.returncode == 2 and "bad.run:2" in out.stderr
    (tmp_path / "other.run").write_text("z1 Q0 d1 1 0.5 x\n")
    with pytest.raises(OtclirError, match="same query set"):
        significance.load_measures(folder / "qrels.txt", [tmp_path / "other.run"], ["AP"])
    with pytest.raises(TrecFormatError):
        significance.load_measures(folder / "qrels.txt", [tmp_path / "bad.run"], ["AP"])


def test_missing_queries_are_scored_zero_and_reported(runs, tmp_path):
    folder, paths = runs
    lines = [line for line in paths["good"].read_text().splitlines() if not line.startswith("q0 ")]
    (tmp_path / "partial.run").write_text("\n".join(lines) + "\n")
    tables, notes = significance.load_measures(folder / "qrels.txt", [tmp_path / "partial.run"], ["AP"])
    assert tables["AP"].loc["q0", "partial"] == 0.0
    assert notes == ["partial: 1 of 30 judged queries missing from the run, scored 0"]


def test_power_adds_the_detectable_difference_at_the_corrected_level(runs):
    from otclir.evaluation.power import detectable_difference

    folder, paths = runs
    tables, _ = significance.load_measures(folder / "qrels.txt", [paths["base"], paths["good"]], ["AP"])
    table = significance.significance(tables, "base", n_permutations=200, power=True)
    differences = tables["AP"]["good"] - tables["AP"]["base"]
    expected = detectable_difference(float(differences.std(ddof=1)), len(differences), 0.05)  # a family of one
    assert table.loc["good", ("AP", "mde")] == pytest.approx(expected)
    assert table.loc["good", ("AP", "queries_needed")] > 1
    assert ("AP", "mde") not in significance.significance(tables, "base", n_permutations=200).columns
    out = _cli("compare", folder / "qrels.txt", paths["good"], "--baseline", paths["base"], "--power",
               "--format", "csv", "--permutations", "200")
    assert out.returncode == 0, out.stderr
    assert "AP mde" in out.stdout.splitlines()[0] and "AP queries_needed" in out.stdout.splitlines()[0]


@pytest.mark.slow
def test_the_committed_runs_export_with_their_qrels_and_compare_on_a_fresh_clone(tmp_path, capsys):
    """The paper results keep Swahili's runs (top 10 per query); exported beside qrels rebuilt from
    the data, they are what `otclir compare` reads, with every judged query of the test split."""
    from otclir import cli

    assert cli.main(["export", "--profile", "paper", "--folder", str(tmp_path), "--tasks", "crossref",
                     "--languages", "sw"]) == 0
    said = capsys.readouterr().out
    assert "runs hold each query's top 10 documents" in said
    # what a top-10 run can reproduce is recomputed from the exported files; what it cannot is said
    assert "nDCG@10: reproduced from the runs" in said and "AP: not reproducible from runs of depth 10" in said
    folder = tmp_path / "crossref" / "en-sw"
    import yaml

    metadata = yaml.safe_load((folder / "distill-ot@2000.maxsim.metadata.yaml").read_text())
    assert metadata["tag"] == "distill-ot@2000.maxsim" and metadata["method"]["training_seed"] == 0
    assert metadata["run"]["depth"] == 10 and len(metadata["implementation"]["source"]["commit"]) == 40
    qrels = trec.read_qrels(folder / "qrels.txt")
    zero = folder / "student-zero-shot.maxsim.run.gz"
    assert len(qrels) == 1536 and set(trec.read_run(zero)) <= set(qrels)
    assert cli.main(["compare", str(folder / "qrels.txt"), str(folder / "distill-ot@2000.maxsim.run.gz"),
                     "--baseline", str(zero), "--measures", "AP", "--permutations", "200"]) == 0
    assert "distill-ot@2000" in capsys.readouterr().out
    assert cli.main(["export", "--profile", "paper", "--folder", str(tmp_path), "--languages", "xx"]) == 2
    assert "no stored runs for tasks any and languages ['xx']" in capsys.readouterr().err


def test_a_stored_run_altered_since_it_was_written_is_not_exported(tmp_path, monkeypatch, capsys):
    """Export checks each run against the checksums provenance.json holds, before writing anything."""
    import gzip
    import shutil

    from otclir import cli
    from otclir.paths import project_root

    results = tmp_path / "results"
    source = project_root() / "results" / "paper" / "03_distillation_training"
    shutil.copytree(source, results / "paper" / "03_distillation_training")
    monkeypatch.setenv("OTCLIR_RESULTS", str(results))
    run = results / "paper" / "03_distillation_training" / "runs" / "crossref" / "en-sw" / "student-zero-shot.maxsim.run.gz"
    lines = gzip.decompress(run.read_bytes()).decode().splitlines()
    negated = [" ".join([*f[:4], repr(-float(f[4])), f[5]]) for f in (line.split() for line in lines)]
    run.write_bytes(gzip.compress(("\n".join(negated) + "\n").encode(), mtime=0))
    assert cli.main(["export", "--profile", "paper", "--folder", str(tmp_path / "out"), "--languages", "sw"]) == 2
    assert "student-zero-shot.maxsim.run.gz is not the file that was written" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
