"""The two-level bootstrap (training seeds and queries resampled together), computed from counts.

A resample's mean over (seeds, queries) only depends on how often it draws each seed and each
query: with ``s`` the seed counts and ``q`` the query counts, the mean of the drawn cells is
``s @ values @ q / (seeds * queries)``, the same sum in another order. One matrix product per
block of resamples replaces the gather of every drawn cell, which held the whole (resamples,
seeds, queries) array in memory.
The random draws are those of :func:`otclir.evaluation.stats.two_level_bootstrap` and
:func:`otclir.evaluation.stats.two_level_gap_share` (same generator, same order, same blocks), so
both give the same intervals up to the order of floating-point sums; those two gather the cells
directly and are kept as the reference the tests hold these to.
"""
from __future__ import annotations

import numpy as np

from otclir.evaluation.stats import (StatisticsError, _centred_p, _seed_differences, finite, percentile_interval,
                                     seed_matrix)

GAP_BLOCK = 500  # resamples drawn at once by the gap share (fixed: it sets the order of the draws)


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


def two_level_bootstrap(a, b, n_resamples: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """The difference of two systems' means over training seeds and queries, with an interval and a
    p-value that resample both (``a``, ``b``: (seeds, queries) arrays over the same queries, or 1-d
    for a system without seeds). Each resample draws the queries with replacement (the same draw
    for both systems) and, independently per system, its seeds with replacement; with one seed
    each, the paired bootstrap over queries. Also each seed's own difference and how many agree in
    sign with the whole."""
    a, b = seed_matrix(a), seed_matrix(b)
    if a.shape[1] != b.shape[1] or a.shape[1] < 2:
        raise StatisticsError(f"a two-level bootstrap needs the same queries (at least 2) for both systems, got "
                              f"{a.shape[1]} and {b.shape[1]}")
    observed = float(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    n_queries = a.shape[1]
    draws = np.empty(n_resamples)
    block = max(1, 2_000_000 // (n_queries * max(len(a), len(b))))
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        queries = rng.integers(0, n_queries, size=(size, n_queries))
        seeds_a = rng.integers(0, len(a), size=(size, len(a)))
        seeds_b = rng.integers(0, len(b), size=(size, len(b)))
        shares = draw_counts(queries, n_queries) / n_queries
        draws[start:start + size] = resampled_means(a, seeds_a, shares) - resampled_means(b, seeds_b, shares)
    low, high = percentile_interval(draws, level)
    by_seed = _seed_differences(a, b)
    return {"diff": observed, "diff_ci_low": low, "diff_ci_high": high, "p": _centred_p(draws, observed),
            "seeds": max(len(a), len(b)), "diff_by_seed": by_seed,
            "seeds_agree": int(sum(np.sign(d) == np.sign(observed) for d in by_seed)), "queries": int(n_queries)}


def two_level_gap_share(system, zero, ceiling, n_resamples: int = 10_000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float, float]:
    """A system's share of the zero-shot-to-ceiling gap with its training seeds inside: ``system``
    is (seeds, queries); each resample draws queries (shared by the three) and the system's seeds
    with replacement; resamples whose gap is not positive are dropped."""
    system = seed_matrix(system)
    zero, ceiling = finite(zero), finite(ceiling)
    if system.shape[1] != zero.size or zero.size != ceiling.size or zero.size < 2:
        raise StatisticsError(f"gap shares need the same queries (at least 2) for all three, got {system.shape}, "
                              f"{zero.shape}, {ceiling.shape}")
    gap = ceiling.mean() - zero.mean()
    share = float((system.mean() - zero.mean()) / gap) if gap > 0 else float("nan")
    rng = np.random.default_rng(seed)
    shares = []
    for start in range(0, n_resamples, GAP_BLOCK):
        size = min(GAP_BLOCK, n_resamples - start)
        queries = rng.integers(0, zero.size, size=(size, zero.size))
        seeds = rng.integers(0, len(system), size=(size, len(system)))
        query_shares = draw_counts(queries, zero.size) / zero.size
        means = resampled_means(system, seeds, query_shares)
        zeros = query_shares @ zero
        gaps = query_shares @ ceiling - zeros
        keep = gaps > 0
        shares.append((means[keep] - zeros[keep]) / gaps[keep])
    shares = np.concatenate(shares)
    if not shares.size:
        return share, float("nan"), float("nan")
    return (share, *percentile_interval(shares, level))
