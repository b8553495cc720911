"""Hybrid batches (Elmahdy, Lin and Ahmad 2024) for the sentence-transformers trainer.

Each batch is monolingual (queries and passages in one language, the language drawn uniformly)
with probability ``alpha``, else cross-lingual (two different languages drawn for queries and
passages). The training data are parallel: one dataset per (query language, passage language)
combination, named ``"<query>-<passage>"`` (``"sw-sw"``, ``"en-sw"``, ...), whose row ``i`` is
the same pair in those languages. A batch takes its pairs from one combination's dataset.

:class:`HybridBatchSampler` draws exactly the batches of the compendium's own trainer
(:class:`otclir.training.samplers.HybridSampler`) for the same seed: a seeded permutation of the
pairs per epoch (the ragged end dropped), and each batch's kind and languages from the seed and
the number of batches drawn before it.

Example, with a dict of datasets (``datasets.Dataset`` with "anchor" and "positive" columns)::

    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from otclir.samplers import HybridBatchSampler

    args = SentenceTransformerTrainingArguments(
        output_dir="out", per_device_train_batch_size=16,
        multi_dataset_batch_sampler=HybridBatchSampler.with_alpha(list(train_datasets), alpha=0.5))
    SentenceTransformerTrainer(model, args, train_dataset=train_datasets, loss=loss).train()
"""
from __future__ import annotations

from functools import partial

from sentence_transformers.base.sampler import MultiDatasetDefaultBatchSampler

from otclir.errors import OtclirError
from otclir.training.samplers import HybridSampler


def language_pairs(names) -> tuple[list[str], dict[tuple[str, str], int]]:
    """The languages of ``"<query>-<passage>"`` dataset names and each combination's position;
    refused unless every combination hybrid batches can draw is there.

    >>> languages, positions = language_pairs(['en-en', 'en-sw', 'sw-en', 'sw-sw'])
    >>> languages, positions[('sw', 'en')]
    (['en', 'sw'], 2)
    """
    positions = {}
    for position, name in enumerate(names):
        parts = str(name).split("-")
        if len(parts) != 2 or not all(parts):
            raise OtclirError(f"dataset name {name!r} is not '<query language>-<passage language>' (like 'en-sw')")
        positions[tuple(parts)] = position
    languages = sorted({language for pair in positions for language in pair})
    missing = [f"{q}-{p}" for q in languages for p in languages if (q, p) not in positions]
    if missing:
        raise OtclirError(f"hybrid batches over {', '.join(languages)} draw every combination of query and passage "
                          f"language; no dataset is named {', '.join(missing)}: add them (the same pairs in those "
                          "languages)")
    return languages, positions


class HybridBatchSampler(MultiDatasetDefaultBatchSampler):
    """Batches over parallel ``"<query>-<passage>"`` datasets: monolingual with probability
    ``alpha``, else cross-lingual (Elmahdy et al. 2024).

    Args:
        dataset: the trainer's ``ConcatDataset`` of the datasets, in the order of ``names``.
        batch_samplers: the trainer's per-dataset batch samplers (their batch size is used).
        generator: unused; the batches follow ``seed`` (numpy), like the compendium's sampler.
        seed: the seed of every draw (each epoch's permutation, each batch's kind and languages).
        names: the datasets' names, ``"<query language>-<passage language>"``, every combination.
        alpha: the probability of a monolingual batch, in [0, 1].

    Every dataset must have the same number of rows (row ``i`` is one pair in every combination).
    An epoch has ``rows // batch_size`` batches of exactly ``batch_size`` distinct pairs.

    >>> from datasets import Dataset
    >>> from torch.utils.data import BatchSampler, ConcatDataset, SequentialSampler
    >>> names = ['en-en', 'en-sw', 'sw-en', 'sw-sw']
    >>> parts = [Dataset.from_dict({'anchor': [f'{n} q{i}' for i in range(8)],
    ...                             'positive': [f'{n} p{i}' for i in range(8)]}) for n in names]
    >>> samplers = [BatchSampler(SequentialSampler(range(8)), batch_size=4, drop_last=True) for _ in parts]
    >>> sampler = HybridBatchSampler.with_alpha(names, alpha=0.5)(ConcatDataset(parts), samplers, seed=0)
    >>> len(sampler), [len(batch) for batch in sampler]
    (2, [4, 4])
    """

    def __init__(self, dataset, batch_samplers, generator=None, seed: int = 0, *, names, alpha: float = 0.5):
        super().__init__(dataset, batch_samplers, generator=generator, seed=seed)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise OtclirError(f"alpha is the probability of a monolingual batch, in [0, 1]; got {alpha!r}")
        if len(names) != len(dataset.datasets):
            raise OtclirError(f"{len(names)} names for {len(dataset.datasets)} datasets: name each, in order")
        self.languages, self.positions = language_pairs(names)
        sizes = {len(d) for d in dataset.datasets}
        if len(sizes) != 1:
            raise OtclirError(f"the datasets have {sorted(sizes)} rows: hybrid batches read parallel datasets "
                              "(row i the same pair in every combination)")
        self.rows = sizes.pop()
        if self.rows < self.batch_size:
            raise OtclirError(f"{self.rows} pairs do not fill one batch of {self.batch_size}")
        self.alpha = float(alpha)
        self.offsets = [0]
        for part in dataset.datasets[:-1]:
            self.offsets.append(self.offsets[-1] + len(part))

    @classmethod
    def with_alpha(cls, names, alpha: float = 0.5):
        """The callable to pass as ``multi_dataset_batch_sampler`` (the trainer passes the dataset,
        batch samplers, generator and seed)."""
        language_pairs(names)  # a bad name is refused before the trainer starts
        return partial(cls, names=list(names), alpha=alpha)

    def __len__(self) -> int:
        return self.rows // self.batch_size

    def plans(self):
        """This epoch's batches as the compendium's sampler draws them (query language, passage
        language, pair rows)."""
        sampler = HybridSampler(self.rows, self.batch_size, self.languages, self.alpha, self.seed)
        sampler.load_state_dict({"pairs": {"epoch": self.epoch, "position": 0}, "drawn": self.epoch * len(self)})
        return [sampler.next_batch() for _ in range(len(self))]

    def __iter__(self):
        for plan in self.plans():
            offset = self.offsets[self.positions[(plan.query_language, plan.passage_language)]]
            yield [offset + row for row in plan.indices]
