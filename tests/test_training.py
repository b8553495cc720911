"""Distillation training: resumable to the same weights, deterministic for a seed, and identical
across DistributedDataParallel ranks."""
import json

import pytest
import torch

from otclir.data.tasks import bitext_pairs
from otclir.errors import OtclirError
from otclir.training.configs import DistillConfig
from otclir.training.loop import linear_schedule
from otclir.training.samplers import EpochSampler
from otclir.training.trainer import train

from helpers import torchrun_checksums

TINY = dict(language="tl", objective="ot+contrastive", train_pairs=32, steps=4, batch_size=4, max_length=24,
            eval_every=2, dev_queries=10, dev_docs=60, checkpoint_every=2, seed=1, balance_batches=2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run trained straight through and one killed after 2 of its 4 steps, then resumed; the
    tests below read them (a test that must damage a run works on a copy)."""
    folder = tmp_path_factory.mktemp("runs")
    config = DistillConfig(**TINY)
    whole = train(config, folder / "whole")
    partial = train(config, folder / "resumed", stop_after=2)
    resumed = train(config, folder / "resumed")
    return {"config": config, "folder": folder, "whole": whole, "partial": partial, "resumed": resumed}


def _copy_of_whole(runs, tmp_path):
    import shutil

    return shutil.copytree(runs["folder"] / "whole", tmp_path / "whole")


def _log(folder):
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(runs):
    whole, resumed = runs["whole"], runs["resumed"]
    assert runs["partial"] == {"interrupted_at": 2}
    assert resumed["resumed"] and resumed["steps"] == whole["steps"] == 4
    assert resumed["parameter_checksum"] == whole["parameter_checksum"]
    assert resumed["best"] == whole["best"]
    assert resumed["term_weights"] == whole["term_weights"]


@pytest.mark.slow
def test_a_finished_run_is_not_trained_twice_and_keeps_only_its_students(runs):
    folder = runs["folder"] / "whole"
    assert train(runs["config"], folder) == runs["whole"]
    # a finished run keeps its students and result, not the resume state it no longer needs
    assert not (folder / "checkpoint.pt").exists() and (folder / "final").is_dir()


@pytest.mark.slow
def test_a_finished_run_refuses_other_settings(runs):
    with pytest.raises(OtclirError, match="finished run with other settings; use another output folder"):
        train(DistillConfig(**{**TINY, "steps": 6}), runs["folder"] / "whole")


@pytest.mark.slow
def test_a_run_finished_before_its_result_held_settings_is_known_by_its_final_student(runs, tmp_path):
    folder = _copy_of_whole(runs, tmp_path)
    older = json.loads((folder / "result.json").read_text())
    assert older.pop("config") == runs["config"].to_record()
    (folder / "result.json").write_text(json.dumps(older))
    assert train(runs["config"], folder)["parameter_checksum"] == runs["whole"]["parameter_checksum"]
    with pytest.raises(OtclirError, match="finished run with other settings"):
        train(DistillConfig(**{**TINY, "steps": 6}), folder)


@pytest.mark.slow
def test_a_damaged_result_is_named_with_its_line_and_the_students_are_kept(runs, tmp_path):
    folder = _copy_of_whole(runs, tmp_path)
    text = (folder / "result.json").read_text()
    (folder / "result.json").write_text(text[: len(text) // 2])
    with pytest.raises(OtclirError, match=r"result.json is not valid JSON \(line \d+.*delete it to train"):
        train(runs["config"], folder)
    assert (folder / "final" / "student.safetensors").is_file()


@pytest.mark.slow
def test_the_log_has_a_record_per_step_with_losses_and_dev_signals(runs):
    log = _log(runs["folder"] / "whole")
    assert [r["step"] for r in log] == [0, 1, 2, 3, 4] and "dev_AP" in log[0] and "dev_bitext_MRR" in log[2]
    assert "ot" in log[1] and "infonce" in log[1] and "loss" not in log[0]


@pytest.mark.slow
def test_the_log_holds_the_diagnostics_that_say_whether_the_method_works(runs):
    log = _log(runs["folder"] / "whole")
    assert 0 < log[1]["plan_entropy"] < 0.8 and log[1]["plan_argmax_mass"] > 0.2 and log[1]["ot_marginal_error"] < 0.1
    assert -1 <= log[1]["alignment"] <= 1 and log[1]["uniformity"] < 0
    assert log[2]["grad_norm_ot"] > 0 and log[2]["grad_norm_infonce"] > 0


@pytest.mark.slow
def test_a_result_names_its_students_relative_to_its_folder(runs):
    folder = runs["folder"] / "whole"
    stored = json.loads((folder / "result.json").read_text())
    assert stored["model"] in ("best", "final") and stored["final_model"] == "final"  # a copied folder stays whole
    assert runs["whole"]["final_model"] == str(folder / "final")


@pytest.mark.slow
def test_balanced_terms_have_equal_gradient_norms_at_the_start(tmp_path):
    from otclir.training.distillation import Distiller

    trainer = Distiller(DistillConfig(**{**TINY, "objective": "contrastive"}), tmp_path / "run", progress=False)
    torch.manual_seed(0)  # the same dropout masks in both measurements
    trainer.before_training()
    torch.manual_seed(0)
    rows = trainer._probe_batches()
    raw = {t: 0.0 for t in trainer.config.terms}
    for batch in rows:
        for term, norm in trainer.term_gradient_norms(batch).items():
            raw[term] += norm
    weighted = [trainer.term_weights[t] * raw[t] for t in trainer.config.terms]
    assert weighted[0] == pytest.approx(weighted[1], rel=1e-6)
    assert trainer.term_weights["sentence_mse"] > 10 * trainer.term_weights["infonce"]  # MSE is the small term


@pytest.mark.slow
def test_frozen_layers_keep_the_base_weights_and_speed_comes_from_cached_states(tmp_path):
    from safetensors.torch import load_file

    result = train(DistillConfig(**{**TINY, "eval_every": 0, "frozen_layers": 8, "lr": 1e-3}), tmp_path / "run")
    trained = load_file(f"{result['final_model']}/student.safetensors")
    layers = {int(name.split(".")[2]) for name in trained if name.startswith("encoder.layer.")}
    assert layers == set(range(8, 12)) and not any(name.startswith("embeddings.") for name in trained)


@pytest.mark.slow
def test_every_objective_runs_and_lowers_its_loss(tmp_path):
    from otclir.transport.objectives import OBJECTIVES

    for objective in OBJECTIVES:
        config = DistillConfig(**{**TINY, "objective": objective, "steps": 6, "eval_every": 0, "lr": 3e-4,
                                  "train_pairs": 8, "batch_size": 8})
        run = train(config, tmp_path / objective, progress=False)
        log = [json.loads(line) for line in (tmp_path / objective / "log.jsonl").read_text().splitlines()]
        assert run["steps"] == 6 and log[-1]["loss"] < log[0]["loss"], objective


@pytest.mark.slow
def test_dev_selection_can_keep_the_untrained_student(tmp_path):
    config = DistillConfig(**{**TINY, "objective": "sentence_mse", "lr": 5e-3, "steps": 2, "eval_every": 1})
    result = train(config, tmp_path / "run", progress=False)  # a rate this high wrecks the student
    assert result["best"]["step"] == 0 and result["best"]["selected_by"] == "dev_bitext_MRR"


@pytest.mark.slow
def test_trained_student_loads_as_an_encoder_and_differs_from_the_base(tmp_path):
    from otclir.models.encoder import Encoder

    result = train(DistillConfig(**{**TINY, "eval_every": 0, "lr": 1e-4}), tmp_path / "run")
    student = Encoder(result["final_model"])
    base = Encoder("e5-small-student")
    text = ["Sa pasimula ay nilikha ng Dios ang langit at ang lupa."]  # Tagalog 1905, Genesis 1:1
    a, b = student.encode(text), base.encode(text)
    assert 0.9 < float((a * b).sum()) < 0.99999
    assert student.prefixes


@pytest.mark.slow
def test_two_processes_end_with_identical_weights(tmp_path):
    ranks, result = torchrun_checksums("otclir.training.trainer", {**TINY, "eval_every": 0, "steps": 3}, tmp_path, 29533)
    assert ranks[0] == ranks[1]
    assert result["world_size"] == 2


def test_sampler_resumes_mid_epoch_and_covers_each_epoch():
    a = EpochSampler(10, 3, seed=0)
    first = [a.next_batch() for _ in range(2)]
    b = EpochSampler(10, 3, seed=0)
    b.load_state_dict(a.state_dict())
    assert [a.next_batch() for _ in range(3)] == [b.next_batch() for _ in range(3)]
    epoch = sum(first, []) + EpochSampler(10, 3, seed=0)._order()[6:9].tolist()
    assert len(set(epoch)) == 9


def test_schedule_warms_up_then_decays_to_zero():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_schedule(opt, steps=10, warmup=0.2)
    rates = []
    for _ in range(10):
        rates.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert rates[0] == 0.5 and rates[1] == 1.0 and rates[-1] == pytest.approx(0.125) and sched.get_last_lr()[0] == 0


def test_bucketed_batches_group_lengths_and_still_cover_each_epoch():
    lengths = list(range(100, 0, -1))
    sampler = EpochSampler(100, 10, seed=0, lengths=lengths, bucket=5)
    batches = [sampler.next_batch() for _ in range(10)]
    assert sorted(sum(batches, [])) == list(range(100))
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert max(spread) < 50  # batches of similar length; an unsorted batch of 10 spans about 80
    again = EpochSampler(100, 10, seed=0, lengths=lengths, bucket=5)
    again.load_state_dict({"epoch": 0, "position": 30})
    assert again.next_batch() == batches[3]


def test_budget_and_bad_settings():
    pairs = bitext_pairs("tl", budget=50, seed=3)
    assert len(pairs) == 50 and pairs == bitext_pairs("tl", budget=50, seed=3)
    assert pairs != bitext_pairs("tl", budget=50, seed=4)
    with pytest.raises(OtclirError, match="unknown objective 'kl'"):
        DistillConfig(objective="kl")
    for bad, message in (({"epsilon": 0}, "epsilon must be positive"), ({"lr": -1e-4}, "lr must be positive"),
                         ({"checkpoint_every": 0}, "checkpoint_every must be a whole number"),
                         ({"steps": 2.5}, "steps must be a whole number"), ({"patience": 0}, "patience must be at least 1"),
                         ({"select_by": "test_AP"}, "unknown select_by"), ({"cost_scale": "max"}, "unknown cost_scale")):
        with pytest.raises(OtclirError, match=message):
            DistillConfig(**bad)
    with pytest.raises(OtclirError, match="unknown training setting"):
        DistillConfig.from_dict({"stepz": 3})
    with pytest.raises(OtclirError, match="cannot fill a batch"):
        EpochSampler(3, 4, 0)

