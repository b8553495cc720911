"""Hybrid batches: the sampler's plan, hard negatives from the train split only, InfoNCE, and a
contrastive run that resumes to the same weights and agrees across DistributedDataParallel ranks."""
import json
from collections import Counter

import pytest
import torch

from otclir.data.splits import split_of_verse
from otclir.data.tasks import relevant_verses, split_verses
from otclir.errors import OtclirError, UnknownLanguageError
from otclir.training.configs import ContrastiveConfig
from otclir.training.hybrid import batch_kind, hard_negatives, training_pairs
from otclir.training.samplers import BatchPlan, HybridSampler
from otclir.training.trainer import train
from otclir.transport.losses import info_nce

from helpers import torchrun_checksums

TINY = dict(languages=["en", "tl"], alpha=0.5, train_pairs=32, steps=4, batch_size=4, max_length=24,
            eval_every=2, dev_queries=10, dev_docs=60, checkpoint_every=2, seed=1, ot_weight=0.1)


def test_alpha_one_is_monolingual_and_zero_cross_lingual():
    languages = ["en", "sw", "fr"]
    sampler = HybridSampler(100, 4, languages, 1.0, 0)
    mono = [sampler.next_batch() for _ in range(60)]
    assert all(b.monolingual for b in mono)
    assert set(Counter(b.query_language for b in mono)) == set(languages)
    sampler = HybridSampler(100, 4, languages, 0.0, 0)
    cross = [sampler.next_batch() for _ in range(60)]
    assert not any(b.monolingual for b in cross)
    assert len({(b.query_language, b.passage_language) for b in cross}) == 6  # every ordered pair occurs
    assert [batch_kind(a) for a in (0, 0.5, 1)] == ["cross-lingual", "hybrid", "monolingual"]


def test_hybrid_share_and_language_draws_follow_alpha():
    sampler = HybridSampler(1000, 8, ["en", "sw", "tl", "fr"], 0.25, seed=3)
    plans = [sampler.next_batch() for _ in range(2000)]
    share = sum(p.monolingual for p in plans) / len(plans)
    assert abs(share - 0.25) < 0.04
    counts = Counter(p.query_language for p in plans if p.monolingual)
    assert max(counts.values()) / min(counts.values()) < 1.35  # drawn uniformly
    assert all(len(p.indices) == 8 and len(set(p.indices)) == 8 for p in plans)


def test_plan_is_deterministic_resumable_and_split_across_ranks():
    a = HybridSampler(50, 6, ["en", "sw", "fr"], 0.5, seed=7)
    first = [a.next_batch() for _ in range(5)]
    state = json.loads(json.dumps(a.state_dict()))  # it is stored in a checkpoint
    b = HybridSampler(50, 6, ["en", "sw", "fr"], 0.5, seed=7)
    assert [b.next_batch() for _ in range(5)] == first
    c = HybridSampler(50, 6, ["en", "sw", "fr"], 0.5, seed=7)
    c.load_state_dict(state)
    assert [a.next_batch() for _ in range(12)] == [c.next_batch() for _ in range(12)]  # across an epoch boundary
    other = HybridSampler(50, 6, ["en", "sw", "fr"], 0.5, seed=8)
    assert [other.next_batch() for _ in range(5)] != first
    plan = BatchPlan("en", "sw", tuple(range(10, 16)))
    shares = [plan.share(r, 2) for r in range(2)]
    assert shares == [(10, 12, 14), (11, 13, 15)] and sorted(sum(shares, ())) == list(plan.indices)


def test_pairs_and_hard_negatives_come_from_the_train_split_only():
    languages = ["en", "sw", "tl"]
    pairs = training_pairs(languages, budget=300, seed=2)
    assert len(pairs) == 300 and pairs == training_pairs(languages, budget=300, seed=2)
    assert len(set(pairs)) == 300 and pairs != training_pairs(languages, budget=300, seed=3)
    relevant = relevant_verses("train")
    assert all(d in relevant[q] for q, d in pairs)
    negatives = hard_negatives(languages)
    assert len(negatives) > 2000
    texts = [split_verses(code, "train") for code in languages]
    for query, negative in negatives.items():
        assert split_of_verse(query) == split_of_verse(negative) == "train"
        assert negative != query and negative not in relevant[query]
        assert all(negative in t for t in texts)


def test_info_nce_matches_its_definition_and_masks_false_negatives():
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    labels = torch.tensor([0, 1, 2])
    logits = q @ p.T / 0.1
    expected = -(logits[torch.arange(3), labels] - torch.logsumexp(logits, 1)).mean()
    assert info_nce(q, p, labels, 0.1).item() == pytest.approx(expected.item(), rel=1e-6)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[0, 4] = True
    kept = torch.cat([logits[0, :4], logits[0, 5:]])
    first = -(logits[0, 0] - torch.logsumexp(kept, 0))
    rest = -(logits[1:, :][torch.arange(2), labels[1:]] - torch.logsumexp(logits[1:], 1))
    assert info_nce(q, p, labels, 0.1, mask).item() == pytest.approx(((first + rest.sum()) / 3).item(), rel=1e-6)


def test_bad_settings_name_the_problem():
    with pytest.raises(OtclirError, match="alpha is a probability"):
        ContrastiveConfig(alpha=1.5)
    with pytest.raises(OtclirError, match="need two languages"):
        ContrastiveConfig(languages=["sw"], alpha=0.5)
    with pytest.raises(UnknownLanguageError, match="known languages"):
        ContrastiveConfig(languages=["en", "xx"])
    with pytest.raises(OtclirError, match="distinct"):
        ContrastiveConfig(languages=["en", "en"])
    with pytest.raises(OtclirError, match="unknown training setting"):
        ContrastiveConfig.from_dict({"alfa": 0.5})
    with pytest.raises(OtclirError, match="lambda"):
        ContrastiveConfig(ot_weight=-1)


def test_new_settings_stay_out_of_a_record_at_their_old_behaviour():
    assert "ot_queries" not in ContrastiveConfig().to_record()  # runs stored before the setting keep their identity
    assert ContrastiveConfig(ot_queries=True).to_record()["ot_queries"] is True
    assert "pairs_collection" not in ContrastiveConfig().to_record()


@pytest.mark.slow
def test_contrastive_run_resumes_to_the_same_weights(tmp_path, tmp_outputs):
    config = ContrastiveConfig(**TINY)
    whole = train(config, tmp_path / "whole")
    assert train(config, tmp_path / "resumed", stop_after=2) == {"interrupted_at": 2}
    resumed = train(config, tmp_path / "resumed")
    assert resumed["resumed"] and resumed["steps"] == 4 and resumed["train_pairs"] == 32
    assert resumed["parameter_checksum"] == whole["parameter_checksum"]
    assert resumed["best"] == whole["best"]
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    trained = [r for r in log if r["step"] > 0]
    assert len(trained) == 4 and all(r["loss"] >= r["info_nce"] > 0 for r in trained)
    assert any(r["ot"] > 0 for r in trained)  # batches with non-English passages carry the OT term
    assert "dev_AP" in log[0] and "dev_AP" in log[2]


@pytest.mark.slow
def test_transport_covers_queries_only_when_asked(tmp_path, tmp_outputs):
    """A batch of Tagalog queries and English passages has nothing to transport on its passages;
    with ``ot_queries`` the teacher's English queries pull the student's Tagalog ones."""
    terms = {}
    for ot_queries in (False, True):
        config = ContrastiveConfig(**{**TINY, "alpha": 0.0, "ot_queries": ot_queries})
        trainer = config.trainer_class()(config, tmp_path / str(ot_queries), progress=False)
        trainer.sampler.next_batch = lambda: BatchPlan("tl", "en", (0, 1, 2, 3))
        terms[ot_queries] = trainer.batch_losses()
    assert terms[False]["ot"].item() == 0 and "ot_marginal_error" not in terms[False]
    assert terms[True]["ot"].item() > 0 and terms[True]["loss"].item() > terms[True]["info_nce"].item()
    assert terms[True]["info_nce"].item() == pytest.approx(terms[False]["info_nce"].item(), rel=1e-5)


@pytest.mark.slow
def test_two_processes_end_with_identical_weights(tmp_path, tmp_outputs):
    ranks, result = torchrun_checksums("otclir.training.hybrid", {**TINY, "eval_every": 0, "steps": 3}, tmp_path, 29541)
    assert ranks[0] == ranks[1]
    assert result["world_size"] == 2 and result["steps"] == 3


GRADIENTS = '''
import json, sys
import torch
from otclir.training.configs import ContrastiveConfig
config = ContrastiveConfig.from_dict(json.loads(sys.argv[1]))
trainer = config.trainer_class()(config, sys.argv[2], progress=False)
trainer.student.model.eval()  # no dropout: one process and two must see the same network
parts = trainer.batch_losses()
parts["loss"].backward()
grads = {n: p.grad.detach().clone() for n, p in trainer.plain_module.named_parameters() if p.grad is not None}
torch.save({"loss": parts["loss"].item(), "grads": grads}, f"{sys.argv[2]}/rank{trainer.rank}.pt")
'''


@pytest.mark.slow
def test_two_processes_on_halves_compute_the_gradient_of_one_process_on_the_whole_batch(tmp_path, tmp_outputs):
    """InfoNCE over the gathered passages of both ranks, averaged by DDP, is the whole batch's loss:
    the same gradient as one process on the whole batch, for hybrid and cross-lingual batches."""
    import subprocess
    import sys

    script = tmp_path / "gradients.py"
    script.write_text(GRADIENTS)
    settings = json.dumps({**TINY, "ot_weight": 0.0, "batch_size": 8, "hard_negative": True})
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    subprocess.run([sys.executable, str(script), settings, str(one)], check=True, capture_output=True, timeout=600)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
                          str(script), settings, str(two)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    whole = torch.load(one / "rank0.pt")
    halves = [torch.load(two / f"rank{r}.pt") for r in (0, 1)]
    assert (halves[0]["loss"] + halves[1]["loss"]) / 2 == pytest.approx(whole["loss"], rel=1e-5)
    assert set(halves[0]["grads"]) == set(whole["grads"]) and len(whole["grads"]) > 10
    total = torch.cat([g.flatten() for g in whole["grads"].values()]).norm()
    for name, grad in whole["grads"].items():
        assert torch.allclose(halves[0]["grads"][name], halves[1]["grads"][name])  # DDP averaged them
        # float32 sums in another order; gradients that are zero in exact arithmetic (attention key
        # biases) are noise, held to the scale of the whole gradient
        error = (halves[0]["grads"][name] - grad).norm()
        assert error <= 1e-4 * grad.norm() + 1e-6 * total, f"{name}: gradient differs by {error:.2e} ({grad.norm():.2e})"
