"""Distillation training: resumable to the same weights, deterministic for a seed, and identical
across DistributedDataParallel ranks."""
import json

import pytest
import torch

from conftest import torchrun_checksums
from otclir.errors import OtclirError
from otclir.training import DistillConfig, EpochSampler, bitext_pairs, linear_schedule, train

TINY = dict(language="tl", objective="ot+sentence_mse", train_pairs=32, steps=4, batch_size=4, max_length=24,
            eval_every=2, dev_queries=10, dev_docs=60, checkpoint_every=2, seed=1)


def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    config = DistillConfig(**TINY)
    whole = train(config, tmp_path / "whole")
    partial = train(config, tmp_path / "resumed", stop_after=2)
    assert partial == {"interrupted_at": 2}
    resumed = train(config, tmp_path / "resumed")
    assert resumed["resumed"] and resumed["steps"] == whole["steps"] == 4
    assert resumed["parameter_checksum"] == whole["parameter_checksum"]
    assert resumed["best"] == whole["best"]
    again = train(config, tmp_path / "whole")  # a finished run is not trained twice
    assert again == whole
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1, 2, 3, 4] and "dev_AP" in log[0] and "dev_AP" in log[2]
    assert "ot" in log[1] and "loss" not in log[0]


def test_trained_student_loads_as_an_encoder_and_differs_from_the_base(tmp_path):
    from otclir.encoder import Encoder

    result = train(DistillConfig(**{**TINY, "eval_every": 0, "lr": 1e-4}), tmp_path / "run")
    student = Encoder(result["final_model"])
    base = Encoder("e5-small-student")
    text = ["Sa pasimula ay nilikha ng Dios ang langit at ang lupa."]  # Tagalog 1905, Genesis 1:1
    a, b = student.encode(text), base.encode(text)
    assert 0.9 < float((a * b).sum()) < 0.99999
    assert student.prefixes


def test_two_processes_end_with_identical_weights(tmp_path):
    ranks, result = torchrun_checksums("otclir.training", {**TINY, "eval_every": 0, "steps": 3}, tmp_path, 29533)
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


def test_budget_and_bad_settings():
    pairs = bitext_pairs("tl", budget=50, seed=3)
    assert len(pairs) == 50 and pairs == bitext_pairs("tl", budget=50, seed=3)
    assert pairs != bitext_pairs("tl", budget=50, seed=4)
    with pytest.raises(OtclirError, match="unknown objective 'kl'"):
        DistillConfig(objective="kl")
    with pytest.raises(OtclirError, match="unknown training setting"):
        DistillConfig.from_dict({"stepz": 3})
    with pytest.raises(OtclirError, match="cannot fill a batch"):
        EpochSampler(3, 4, 0)

