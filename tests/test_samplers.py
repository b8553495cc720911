"""The hybrid batch sampler for sentence-transformers draws the compendium's own hybrid batches:
exact sizes, alpha's share of monolingual batches, a fresh order each epoch, no pair twice in a batch."""
import numpy as np
import pytest
from torch.utils.data import ConcatDataset

from otclir.errors import OtclirError
from otclir.samplers import HybridBatchSampler, language_pairs
from otclir.training.samplers import HybridSampler

LANGUAGES = ["en", "fr", "sw"]
NAMES = [f"{q}-{p}" for q in LANGUAGES for p in LANGUAGES]


class Rows(list):
    """A dataset of ``n`` rows, each the text of one pair in one combination."""


def _sampler(rows=100, batch_size=8, alpha=0.5, seed=3, names=NAMES):
    datasets = [Rows(f"{name}:{i}" for i in range(rows)) for name in names]

    class PerDataset:  # what the trainer hands over: a batch sampler per dataset
        def __init__(self):
            self.batch_size, self.drop_last = batch_size, True

    sampler = HybridBatchSampler.with_alpha(names, alpha)(ConcatDataset(datasets), batch_samplers=[PerDataset() for _ in names],
                                                          generator=None, seed=seed)
    return sampler, [text for d in datasets for text in d]


def test_batches_are_whole_distinct_and_from_one_combination():
    sampler, texts = _sampler(rows=100, batch_size=8)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 12 and all(len(b) == 8 for b in batches)
    for batch in batches:
        combination = {texts[i].split(":")[0] for i in batch}
        assert len(combination) == 1 and len({texts[i] for i in batch}) == 8  # one combination, no text twice


def test_the_batches_are_the_compendiums_for_the_same_seed_over_epochs():
    sampler, texts = _sampler(rows=50, batch_size=5, seed=11)
    reference = HybridSampler(50, 5, LANGUAGES, 0.5, 11)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for batch in sampler:
            plan = reference.next_batch()
            assert [texts[i] for i in batch] == [f"{plan.query_language}-{plan.passage_language}:{row}"
                                                 for row in plan.indices]


def test_each_epoch_has_a_fresh_order_and_alpha_sets_the_monolingual_share():
    sampler, texts = _sampler(rows=4000, batch_size=4, alpha=0.3, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    monolingual = np.mean([texts[b[0]].split(":")[0].split("-")[0] == texts[b[0]].split(":")[0].split("-")[1]
                           for b in first])
    assert abs(monolingual - 0.3) < 4 * np.sqrt(0.3 * 0.7 / len(first))  # within binomial error
    assert all(len(list(_sampler(rows=40, batch_size=4, alpha=a)[0])) == 10 for a in (0.0, 1.0))


@pytest.mark.parametrize("names, says", [
    (["en-en", "en-sw", "sw-sw"], "no dataset is named sw-en"),
    (["en_en"], "is not '<query language>-<passage language>'"),
])
def test_missing_or_misnamed_combinations_are_named(names, says):
    with pytest.raises(OtclirError, match=says):
        language_pairs(names)


def test_bad_alpha_and_unequal_datasets_are_refused():
    with pytest.raises(OtclirError, match="probability of a monolingual batch"):
        _sampler(alpha=1.5)
    with pytest.raises(OtclirError, match="parallel datasets"):
        datasets = [Rows(range(10)), Rows(range(10)), Rows(range(10)), Rows(range(9))]

        class PerDataset:
            batch_size, drop_last = 2, True

        HybridBatchSampler(ConcatDataset(datasets), [PerDataset()] * 4, names=["a-a", "a-b", "b-a", "b-b"])
