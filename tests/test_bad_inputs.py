"""Bad input gets a clear error that names the problem and the fix, and writes nothing.

One table per entry point; each case is (label, input, the message expected). Add a row for every
new case found, so the list only grows.
"""
import os

import pytest
import torch

from otclir import cli, runner
from otclir.errors import OtclirError

QRELS = "q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 1\n"
RUN = "q1 Q0 d1 1 2.0 a\nq1 Q0 d2 2 1.0 a\nq2 Q0 d3 1 1.5 a\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "qrels.txt").write_text(QRELS)
    (tmp_path / "A.run").write_text(RUN)
    (tmp_path / "B.run").write_text(RUN.replace("2.0", "0.5"))
    (tmp_path / "dup.run").write_text(RUN + "q1 Q0 d1 3 0.1 a\n")
    (tmp_path / "nan.run").write_text(RUN.replace("1.5", "nan"))
    (tmp_path / "short.run").write_text("q1 Q0 d1 1 2.0 a\n")
    (tmp_path / "latin1.run").write_bytes("q1 Q0 d\xe9 1 2.0 a\n".encode("latin-1"))
    (tmp_path / "norel.txt").write_text("q1 0 d1 0\nq2 0 d3 0\n")
    (tmp_path / "one.txt").write_text("q1 0 d1 1\n")
    (tmp_path / "one.run").write_text("q1 Q0 d1 1 2.0 a\n")
    (tmp_path / "one-b.run").write_text("q1 Q0 d1 1 1.0 b\n")
    (tmp_path / "params").mkdir()
    os.mkfifo(tmp_path / "pipe.run")
    return tmp_path


CLI_CASES = [
    ("duplicate (query, document) line", ["eval", "{d}/qrels.txt", "{d}/dup.run"], "dup.run:4: query q1 ranks document d1 twice"),
    ("score that is not a number", ["eval", "{d}/qrels.txt", "{d}/nan.run"], "nan.run:3: score 'nan' is not a finite number"),
    ("missing qrels file", ["eval", "{d}/none.txt", "{d}/A.run"], "none.txt: no such file"),
    ("run file that is not UTF-8", ["eval", "{d}/qrels.txt", "{d}/latin1.run"], "latin1.run: not UTF-8 text"),
    ("a measure given twice", ["eval", "{d}/qrels.txt", "{d}/A.run", "--measures", "AP", "AP"], "measure(s) AP given twice"),
    ("runs with different query sets", ["compare", "{d}/qrels.txt", "{d}/short.run", "--baseline", "{d}/A.run"],
     "short.run misses 1 of 2 judged queries"),
    ("no permutations", ["compare", "{d}/qrels.txt", "{d}/B.run", "--baseline", "{d}/A.run", "--permutations", "0"],
     "--permutations must be at least 100"),
    ("alpha outside (0, 1)", ["compare", "{d}/qrels.txt", "{d}/B.run", "--baseline", "{d}/A.run", "--alpha", "5"],
     "alpha must be < 1, got 5.0"),
    ("compare with the baseline alone", ["compare", "{d}/qrels.txt", "{d}/A.run", "--baseline", "{d}/A.run"],
     "needs at least one run besides the baseline"),
    ("the baseline named by another path", ["compare", "{d}/qrels.txt", "{d}/./A.run", "--baseline", "{d}/A.run"],
     "needs at least one run besides the baseline"),
    ("missing baseline file", ["compare", "{d}/qrels.txt", "{d}/A.run", "--baseline", "{d}/none.run"], "none.run: no such file"),
    ("a profile given as a path", ["run", "01", "--profile", "../profiles/quick"], "not a path: '../profiles/quick'"),
    ("storing a run with overrides", ["run", "01", "--profile", "paper", "-p", "sample_verses", "50", "--store"],
     "--store keeps the stored notebooks on the 'paper' profile"),
    ("storing another profile", ["reproduce", "--profile", "quick", "--store"], "this run has profile 'quick'"),
    ("a cutoff of 0", ["eval", "{d}/qrels.txt", "{d}/A.run", "--measures", "P@0"], "measure 'P@0' has cutoff 0"),
    ("a cutoff that is not whole", ["eval", "{d}/qrels.txt", "{d}/A.run", "--measures", "P@1.5"],
     "measure 'P@1.5' has cutoff 1.5"),
    ("a negative seed", ["compare", "{d}/qrels.txt", "{d}/B.run", "--baseline", "{d}/A.run", "--seed", "-1"],
     "--seed must be 0 or more, got -1"),
    ("qrels with no relevant document", ["eval", "{d}/norel.txt", "{d}/A.run"], "judges no document relevant"),
    ("a comparison over one judged query", ["compare", "{d}/one.txt", "{d}/one-b.run", "--baseline", "{d}/one.run"],
     "a paired comparison needs at least 2 judged queries"),
    ("a pipe given as a run", ["eval", "{d}/qrels.txt", "{d}/pipe.run"], "pipe.run is not a regular file"),
    ("a folder given as a parameters file", ["run", "01", "-f", "{d}/params"], "params is a folder; give a YAML file"),
    ("a parameter of the wrong type", ["run", "01", "-p", "sample_verses", "abc"],
     "sample_verses must be a whole number of at least 1, or None, got 'abc'"),
    ("an English student", ["run", "03", "-p", "languages", "[en]"], "language and query_language are both 'en'"),
    ("a hybrid question's unknown scope", ["run", "04", "-p", "question_scope", "everything"],
     "unknown question_scope 'everything'; scopes: task, all"),
    ("a dev signal the hybrid trainer does not log", ["run", "04", "-p", "single_by", "dev_bitext_MRR"],
     "unknown single_by 'dev_bitext_MRR'; dev signals the hybrid trainer logs: dev_AP, dev_nDCG@10"),
]


@pytest.mark.parametrize("label,argv,message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_command_line_cases(label, argv, message, files, tmp_outputs, capsys):
    before = sorted(p.name for p in files.iterdir())
    code = cli.main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written beside the inputs
    assert not (tmp_outputs / "notebooks").exists() or not any((tmp_outputs / "notebooks").rglob("*.ipynb"))


def test_a_byte_order_mark_is_read_as_nothing(files, capsys):
    (files / "bom.txt").write_text("\ufeff" + QRELS, encoding="utf-8")
    assert cli.main(["eval", str(files / "qrels.txt"), str(files / "B.run"), "--measures", "AP"]) == 0
    plain = capsys.readouterr().out
    assert cli.main(["eval", str(files / "bom.txt"), str(files / "B.run"), "--measures", "AP"]) == 0
    assert capsys.readouterr().out == plain and "0.7500" in plain


def test_compare_can_score_missing_queries_as_zero_when_asked(files, capsys):
    code = cli.main(["compare", str(files / "qrels.txt"), str(files / "short.run"), "--baseline", str(files / "A.run"),
                     "--allow-missing", "--permutations", "200"])
    captured = capsys.readouterr()
    assert code == 0 and "1 of 2 judged queries missing from the run, scored 0" in captured.err


def _sinkhorn_cases():
    from otclir.transport.ot import sinkhorn

    cost = torch.rand(1, 3, 4, dtype=torch.float64)
    return [
        ("marginal weights that sum to 0", lambda: sinkhorn(cost, a=torch.zeros(1, 3, dtype=torch.float64)), "sum to 0"),
        ("a float16 cost", lambda: sinkhorn(cost.half()), "float32 or float64"),
        ("an integer cost", lambda: sinkhorn(cost.long()), "convert it with .float()"),
        ("epsilon 0", lambda: sinkhorn(cost, epsilon=0), "epsilon must be > 0"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_solver_cases(case):
    label, call, message = _sinkhorn_cases()[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_a_solver_that_has_not_converged_warns():
    from otclir.transport.ot import sinkhorn

    gen = torch.Generator().manual_seed(0)
    cost = torch.rand(1, 60, 60, generator=gen, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="marginal error .* raise max_iter or epsilon"):
        sinkhorn(cost, epsilon=1e-3, max_iter=3)


CONFIG_CASES = [
    ({"epsilon": 0}, "epsilon must be positive"),
    ({"lr": -1e-4}, "lr must be positive"),
    ({"checkpoint_every": 0}, "checkpoint_every must be a whole number of at least 1"),
    ({"steps": 2.5}, "steps must be a whole number"),
    ({"patience": 0}, "patience must be at least 1 evaluation"),
    ({"eval_every": -1}, "eval_every must be a whole number"),
    ({"frozen_layers": -2}, "frozen_layers must be 0 or more"),
    ({"temperature": 0}, "temperature must be positive"),
    ({"train_pairs": 4, "batch_size": 16}, "train_pairs \\(4\\) cannot fill a batch of 16"),
    ({"language": "xx"}, "unknown language 'xx'"),
]


@pytest.mark.parametrize("values,message", CONFIG_CASES, ids=[str(c[0]) for c in CONFIG_CASES])
def test_training_settings_cases(values, message):
    from otclir.training.configs import DistillConfig

    with pytest.raises(OtclirError, match=message):
        DistillConfig(**values)


@pytest.mark.slow
def test_model_and_text_cases():
    from otclir.errors import ModelBuildError
    from otclir.models.encoder import Encoder

    with pytest.raises(ModelBuildError, match="no model 'nobody/no-such-model'.*Hugging Face cache of this offline"):
        Encoder("nobody/no-such-model")
    with pytest.raises(ModelBuildError, match="no model 'no/such/model'.*not an existing local folder"):
        Encoder("no/such/model")
    with pytest.raises(ModelBuildError, match="no model './nowhere'.*not an existing local folder"):
        Encoder("./nowhere")
    encoder = Encoder("e5-small-student")
    with pytest.raises(OtclirError, match="texts must be strings; item 1 is NoneType"):
        encoder.encode(["In the beginning", None])
    with pytest.raises(OtclirError, match="at least one text"):
        encoder.token_embeddings([])
    assert encoder.encode([]).shape == (0, 384)


def test_a_run_with_overrides_files_its_figures_apart(tmp_outputs, monkeypatch, tmp_path):
    monkeypatch.delenv("OTCLIR_FIGURES", raising=False)
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(tmp_path / "outputs"))
    assert runner.run_name("paper") == "paper" and runner.run_name("paper", overrides={"recompute": True}) == "paper"
    assert runner.run_name("paper", overrides={"sample_verses": 50}) == "paper+custom"
    assert runner.run_name("quick", params_file="mine.yaml") == "quick+custom"
    # a named customised run keeps its own folder, so two of them do not replace each other
    assert runner.run_name("quick", overrides={"seed": 1}, name="seed-1") == "quick+seed-1"
    with pytest.raises(OtclirError, match="a run name is up to 40 lower-case letters"):
        runner.run_name("quick", overrides={"seed": 1}, name="../up")
    with pytest.raises(OtclirError, match="this run has no -p or -f"):
        runner.run_name("paper", name="mine")
    from otclir.paths import figures_dir

    assert figures_dir("paper+custom") == tmp_path / "outputs" / "figures" / "paper+custom"


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("otclir ")


@pytest.mark.slow
def test_a_disk_too_full_for_a_run_is_named_before_training(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from otclir.training.configs import DistillConfig
    from otclir.training.distillation import Distiller

    trainer = Distiller(DistillConfig(language="tl", train_pairs=32, steps=2, batch_size=4, max_length=24,
                                      eval_every=0), tmp_path / "run", progress=False)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(OtclirError, match=r"run is on a disk with 1 MB free, and this run writes up to \d+ MB.*"
                                          "set OTCLIR_OUTPUTS to a folder on a larger disk"):
        trainer.train(progress=False)
    assert not (tmp_path / "run" / "log.jsonl").exists()  # nothing written, nothing lost
    assert trainer.disk_bytes_needed() > 8 * 10**7  # two students of the trained layers and a checkpoint
