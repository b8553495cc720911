"""The two-level bootstrap (training seeds and queries resampled together), computed from counts.

A resample's mean over (seeds, queries) only depends on how often it draws each seed and each
query: with ``s`` the seed counts and ``q`` the query counts, the mean of the drawn cells is
``s @ values @ q / (seeds * queries)``, the same sum in another order. One matrix product per
block of resamples replaces the gather of every drawn cell, which held the whole (resamples,
seeds, queries) array in memory.
The draw loop is :func:`otclir.evaluation.stats.two_level_bootstrap`'s and
:func:`otclir.evaluation.stats.two_level_gap_share`'s (one loop: this module passes the count form
as their ``form``), so both forms give the same intervals up to the order of floating-point
sums; the gather stays the reference the tests hold the counts to.
"""
from __future__ import annotations

import numpy as np

from otclir.evaluation import stats


def draw_counts(draws: np.ndarray, size: int) -> np.ndarray:
    """How often each of ``size`` items occurs in each row of ``draws`` (rows, draws per row)."""
    rows = len(draws)
    offsets = draws + np.arange(rows)[:, None] * size
    return np.bincount(offsets.ravel(), minlength=rows * size).reshape(rows, size).astype(float)


def resampled_means(values: np.ndarray, seed_draws: np.ndarray, query_shares: np.ndarray) -> np.ndarray:
    """The mean over the drawn seeds and queries of ``values`` (seeds, queries), one per resample
    (``seed_draws``: resamples x seeds drawn; ``query_shares``: each query's share of a resample's
    draws, :func:`draw_counts` over the number drawn)."""
    weights = draw_counts(seed_draws, len(values)) @ values
    return np.einsum("rq,rq->r", weights, query_shares) / seed_draws.shape[1]


class CountedMeans:
    """A block of resamples' means from draw counts (:func:`resampled_means`); the queries' shares
    of one block are counted once for every system that block reads."""

    def __init__(self):
        self._queries, self._shares = None, None

    def _query_shares(self, queries: np.ndarray) -> np.ndarray:
        if queries is not self._queries:
            self._queries, self._shares = queries, draw_counts(queries, queries.shape[1]) / queries.shape[1]
        return self._shares

    def means(self, values: np.ndarray, seed_draws: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return resampled_means(values, seed_draws, self._query_shares(queries))

    def query_means(self, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return self._query_shares(queries) @ values


def two_level_bootstrap(a, b, n_resamples: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """:func:`otclir.evaluation.stats.two_level_bootstrap` from draw counts: the same draws, checks
    and result (the difference of two systems' means over training seeds and queries, its interval,
    p-value and each seed's own difference)."""
    return stats.two_level_bootstrap(a, b, n_resamples, seed, level, form=CountedMeans())


def two_level_gap_share(system, zero, ceiling, n_resamples: int = 10_000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float, float]:
    """:func:`otclir.evaluation.stats.two_level_gap_share` from draw counts (resamples whose gap is
    not positive are dropped)."""
    return stats.two_level_gap_share(system, zero, ceiling, n_resamples, seed, level, form=CountedMeans())
