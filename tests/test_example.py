"""The runnable example: distil onto a tiny bitext TSV with the transport loss through the
sentence-transformers trainer, rank documents, score the run with `otclir eval`."""
import subprocess
import sys

import pytest

from otclir.data.tasks import bitext_pairs
from otclir.data.trec import write_qrels
from otclir.models.registry import resolve
from otclir.paths import project_root

pytestmark = pytest.mark.slow


def _tsv(path, rows):
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.cost(90)
def test_the_example_trains_writes_a_run_and_otclir_eval_scores_it(tmp_path, capsys):
    from otclir import cli

    pairs = bitext_pairs("sw", budget=16, seed=0)  # read from the installed data, never committed
    bitext = _tsv(tmp_path / "pairs.tsv", pairs)
    held_out = bitext_pairs("sw", split="dev", budget=6, seed=0)
    queries = _tsv(tmp_path / "queries.tsv", [(f"q{i}", english) for i, (english, _) in enumerate(held_out)])
    docs = _tsv(tmp_path / "docs.tsv", [(f"d{i}", target) for i, (_, target) in enumerate(held_out)])
    qrels = write_qrels(tmp_path / "qrels.txt", {f"q{i}": {f"d{i}": 1} for i in range(len(held_out))})
    model = resolve("e5-small-student").path
    done = subprocess.run([sys.executable, str(project_root() / "examples" / "distil_bitext.py"), "--student", model,
                           "--teacher", model, "--bitext", str(bitext), "--out", str(tmp_path / "out"), "--queries",
                           str(queries), "--docs", str(docs), "--max-steps", "2", "--batch-size", "4",
                           "--max-length", "48", "--mse-weight", "1", "--device", "cpu"],
                          capture_output=True, text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", **_env()})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained on 16 pairs" in done.stdout and (tmp_path / "out" / "model").is_dir()
    print(done.stdout)
    assert cli.main(["eval", str(qrels), str(tmp_path / "out" / "run.txt"), "--measures", "RR", "R@1"]) == 0
    table = capsys.readouterr().out
    assert "RR" in table and "run.txt" in table


def test_the_example_refuses_a_malformed_tsv(tmp_path):
    bad = _tsv(tmp_path / "pairs.tsv", [("only one field",)])
    done = subprocess.run([sys.executable, str(project_root() / "examples" / "distil_bitext.py"), "--student", "x",
                           "--teacher", "x", "--bitext", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode != 0 and "line 1 has not 2 tab-separated fields" in done.stderr


def _env():
    import os

    return {k: v for k, v in os.environ.items()}


@pytest.mark.cost(120)
def test_the_example_runs_unchanged_under_torchrun_with_a_teacher_of_another_tokenizer(tmp_path):
    """Two data-parallel processes on the CPU (gloo): the trainer hands the loss its wrapped
    student; one process writes the model and the run."""
    pairs = bitext_pairs("sw", budget=8, seed=0)
    bitext = _tsv(tmp_path / "pairs.tsv", pairs)
    held_out = bitext_pairs("sw", split="dev", budget=4, seed=0)
    queries = _tsv(tmp_path / "queries.tsv", [(f"q{i}", english) for i, (english, _) in enumerate(held_out)])
    docs = _tsv(tmp_path / "docs.tsv", [(f"d{i}", target) for i, (_, target) in enumerate(held_out)])
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           str(project_root() / "examples" / "distil_bitext.py"),
                           "--student", resolve("e5-small-student").path, "--teacher", resolve("minilm-teacher").path,
                           "--bitext", str(bitext), "--out", str(tmp_path / "out"), "--queries", str(queries),
                           "--docs", str(docs), "--max-steps", "1", "--batch-size", "2", "--max-length", "32",
                           "--device", "cpu"],
                          capture_output=True, text=True, timeout=600,
                          env={**_env(), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained on 8 pairs") == 1 and done.stdout.count("run: ") == 1  # rank 0 writes
    assert (tmp_path / "out" / "model").is_dir() and (tmp_path / "out" / "run.txt").is_file()
