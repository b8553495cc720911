"""Batch samplers of the trainers: a seeded pass over the training pairs per epoch, optionally
in batches of similar length (:class:`EpochSampler`), and the hybrid sampler that also draws each
batch's query and passage languages (:class:`HybridSampler`). Both depend only on their seed and
how many batches came before, so every rank draws the same plan and a resumed run continues it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otclir.errors import OtclirError


class EpochSampler:
    """Batches of indices from a seeded permutation per epoch; its state resumes mid-epoch.

    With ``lengths`` the permutation is cut into groups of ``bucket`` batches, each group sorted by
    length before it is cut into batches, and the epoch's batches are shuffled: batches of similar
    lengths pad less, and every epoch still visits every index once."""

    def __init__(self, size: int, batch_size: int, seed: int, lengths=None, bucket: int = 32):
        if size < batch_size:
            raise OtclirError(f"{size} training pairs cannot fill a batch of {batch_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.bucket = bucket
        self.epoch, self.position = 0, 0
        self._batches: tuple[int, list] | None = None

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.size)

    def _epoch_batches(self) -> list[list[int]]:
        if self._batches is None or self._batches[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch, 1])
            order = self._order()[: self.size - self.size % self.batch_size]
            group = self.batch_size * self.bucket
            batches = []
            for start in range(0, len(order), group):
                chunk = order[start:start + group]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
            self._batches = (self.epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._batches[1]

    def next_batch(self) -> list[int]:
        if self.position + self.batch_size > self.size:  # drop the ragged end of an epoch
            self.epoch, self.position = self.epoch + 1, 0
        if self.lengths is None:
            batch = self._order()[self.position:self.position + self.batch_size].tolist()
        else:
            batch = self._epoch_batches()[self.position // self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]


@dataclass(frozen=True)
class BatchPlan:
    query_language: str
    passage_language: str
    indices: tuple[int, ...]

    @property
    def monolingual(self) -> bool:
        return self.query_language == self.passage_language

    def share(self, rank: int, world: int) -> tuple[int, ...]:
        """The part of the batch one of ``world`` processes trains on."""
        return self.indices[rank::world]


class HybridSampler:
    """Batches of pair indices, each with its query and passage language: monolingual with
    probability ``alpha``, else cross-lingual. Every draw depends only on the seed and how many
    batches came before, so the plan is the same on every rank and resumes from its state."""

    def __init__(self, size: int, batch_size: int, languages, alpha: float, seed: int, lengths=None):
        self.languages, self.alpha, self.seed = list(languages), float(alpha), seed
        if self.alpha < 1 and len(self.languages) < 2:
            raise OtclirError(f"cross-lingual batches need two languages, got {self.languages}")
        self.pairs = EpochSampler(size, batch_size, seed, lengths=lengths)
        self.drawn = 0

    def next_batch(self) -> BatchPlan:
        rng = np.random.default_rng([self.seed, 7, self.drawn])
        n = len(self.languages)
        if rng.random() < self.alpha:
            q = p = int(rng.integers(n))
        else:
            q, p = (int(i) for i in rng.choice(n, size=2, replace=False))
        self.drawn += 1
        return BatchPlan(self.languages[q], self.languages[p], tuple(self.pairs.next_batch()))

    def state_dict(self) -> dict:
        return {"pairs": self.pairs.state_dict(), "drawn": self.drawn}

    def load_state_dict(self, state: dict) -> None:
        self.pairs.load_state_dict(state["pairs"])
        self.drawn = state["drawn"]
