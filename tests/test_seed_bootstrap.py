"""The two-level bootstrap from counts gives what the direct gather of every drawn cell gives."""
import numpy as np
import pytest

from otclir.evaluation import seed_bootstrap, stats
from otclir.evaluation.stats import StatisticsError


def per_query(seeds: int, queries: int = 40, shift: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = np.clip(rng.beta(2, 6, queries) + shift + rng.normal(0, 0.05, (seeds, queries)), 0, 1)
    return values[0] if seeds == 1 else values


def test_draw_counts_count_each_row_apart():
    counts = seed_bootstrap.draw_counts(np.array([[0, 0, 2], [1, 2, 2]]), 4)
    assert counts.tolist() == [[2, 0, 1, 0], [0, 1, 2, 0]]


@pytest.mark.parametrize("seeds_a,seeds_b", [(3, 3), (3, 1), (1, 1), (2, 5)])
def test_the_bootstrap_from_counts_equals_the_gather(seeds_a, seeds_b):
    a, b = per_query(seeds_a, shift=0.02, seed=1), per_query(seeds_b, seed=2)
    reference = stats.two_level_bootstrap(a, b, 700, seed=3)
    counted = seed_bootstrap.two_level_bootstrap(a, b, 700, seed=3)
    assert counted.keys() == reference.keys()
    for key in ("diff", "diff_ci_low", "diff_ci_high", "p"):
        assert counted[key] == pytest.approx(reference[key], abs=1e-12)
    assert counted["diff_by_seed"] == pytest.approx(reference["diff_by_seed"]) and counted["seeds_agree"] == reference["seeds_agree"]


def test_a_block_boundary_inside_the_resamples_draws_as_the_gather_does():
    a, b = per_query(3, queries=300, seed=4), per_query(3, queries=300, seed=5)  # 2,222 resamples per block
    reference = stats.two_level_bootstrap(a, b, 5000, seed=0)
    counted = seed_bootstrap.two_level_bootstrap(a, b, 5000, seed=0)
    assert (counted["diff_ci_low"], counted["diff_ci_high"]) == pytest.approx((reference["diff_ci_low"], reference["diff_ci_high"]), abs=1e-12)


def test_the_gap_share_from_counts_equals_the_gather():
    zero, ceiling = per_query(1, seed=6), per_query(1, shift=0.2, seed=7)
    system = per_query(3, shift=0.05, seed=8)
    reference = stats.two_level_gap_share(system, zero, ceiling, 1200, seed=9)
    assert seed_bootstrap.two_level_gap_share(system, zero, ceiling, 1200, seed=9) == pytest.approx(reference, abs=1e-12)
    flat = np.full_like(zero, 0.1)  # no gap in any resample: the interval is undefined
    share, low, high = seed_bootstrap.two_level_gap_share(system, flat, flat, 100)
    assert np.isnan([share, low, high]).all()


def test_mismatched_queries_are_refused_with_the_shapes_named():
    with pytest.raises(StatisticsError, match="same queries .* 40 and 39"):
        seed_bootstrap.two_level_bootstrap(per_query(2), per_query(2, queries=39))
    with pytest.raises(StatisticsError, match="gap shares need the same queries"):
        seed_bootstrap.two_level_gap_share(per_query(2), per_query(1, queries=39), per_query(1, queries=39))
