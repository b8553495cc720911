"""Paired tests against scipy and statsmodels, and their error rates over repeated seeds."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from otclir.evaluation import stats
from otclir.evaluation.stats import StatisticsError


def _pair(n=60, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, n)
    return np.clip(base + shift + rng.normal(0, 0.15, n), 0, 1), base


def test_t_test_is_scipys_paired_t_test():
    x, y = _pair(shift=0.05)
    assert stats.paired_t_test(x, y) == sps.ttest_rel(x, y).pvalue
    assert stats.paired_t_test(x, x) == 1.0


@pytest.mark.parametrize("shift", [0.0, 0.03, 0.06])
def test_randomization_agrees_with_scipy_permutation_test(shift):
    x, y = _pair(n=40, shift=shift, seed=1)
    ours = stats.randomization_test(x, y, n_permutations=20_000, seed=3)
    theirs = sps.permutation_test((x, y), lambda a, b, axis: np.mean(a - b, axis=axis), permutation_type="samples",
                                  n_resamples=20_000, alternative="two-sided", random_state=5, vectorized=True).pvalue
    assert abs(ours - theirs) < 4 * np.sqrt(max(theirs, 1e-3) * (1 - theirs) / 20_000) + 2e-3


def test_randomization_is_reproducible_for_a_seed_and_never_zero():
    x, y = _pair(shift=0.3)
    assert stats.randomization_test(x, y, seed=7) == stats.randomization_test(x, y, seed=7)
    assert stats.randomization_test(x, y, n_permutations=1000) == pytest.approx(1 / 1001)


@pytest.mark.parametrize("method,theirs", [("holm", "holm"), ("bonferroni", "bonferroni")])
def test_corrections_agree_with_statsmodels(method, theirs):
    p = np.random.default_rng(2).uniform(0, 0.2, 12)
    np.testing.assert_allclose(stats.correct(p, method), multipletests(p, method=theirs)[1])
    assert (stats.correct(p, "none") == p).all()
    with pytest.raises(ValueError, match="unknown correction"):
        stats.correct(p, "fdr")


def test_a_real_difference_is_found_and_no_difference_is_not_at_the_stated_rate():
    alpha, reps = 0.05, 200
    null_t = [stats.paired_t_test(*_pair(n=50, shift=0.0, seed=s)) < alpha for s in range(reps)]
    real_t = [stats.paired_t_test(*_pair(n=50, shift=0.08, seed=s)) < alpha for s in range(reps)]
    bound = alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
    assert np.mean(null_t) <= bound
    assert np.mean(real_t) >= 0.9
    null_r = [stats.randomization_test(*_pair(n=50, seed=s), n_permutations=2000, seed=s) < alpha for s in range(60)]
    real_r = [stats.randomization_test(*_pair(n=50, shift=0.08, seed=s), n_permutations=2000, seed=s) < alpha
              for s in range(60)]
    assert np.mean(null_r) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / 60)
    assert np.mean(real_r) >= 0.9


def test_bootstrap_intervals_cover_the_mean_and_the_difference():
    x, y = _pair(n=200, shift=0.05, seed=4)
    low, high = stats.bootstrap_ci(x, seed=1)
    assert low < x.mean() < high
    d_low, d_high = stats.paired_bootstrap_ci(x, y, seed=1)
    assert 0 < d_low < (x - y).mean() < d_high
    assert stats.effect_size(x, y) > 0


def test_compare_to_baseline_corrects_over_the_family():
    rng = np.random.default_rng(5)
    import pandas as pd

    base = rng.uniform(0, 1, 80)
    table = pd.DataFrame({"base": base, "better": np.clip(base + 0.1, 0, 1), "same": base + rng.normal(0, 1e-3, 80)})
    result = stats.compare_to_baseline(table, "base", test="t", correction="bonferroni", n_resamples=2000)
    assert result.loc["better", "significant"] and not result.loc["same", "significant"]
    assert result.loc["same", "p_adjusted"] == pytest.approx(min(1.0, 2 * result.loc["same", "p"]))
    assert np.isnan(result.loc["base", "p_adjusted"])
    pairwise = stats.pairwise_p_values(table, test="t")
    assert pairwise.loc["base", "better"] == pairwise.loc["better", "base"] < 0.05


def test_gap_share_is_the_ratio_of_mean_differences_with_an_interval():
    from otclir.evaluation.stats import gap_share_interval

    zero = np.array([0.1, 0.2, 0.0, 0.3])
    ceiling = zero + np.array([0.2, 0.2, 0.2, 0.2])
    half = zero + np.array([0.1, 0.1, 0.05, 0.15])  # half the gap on average
    share, low, high = gap_share_interval(half, zero, ceiling, seed=0)
    assert share == pytest.approx(0.5)
    assert low <= 0.5 <= high and low >= 0.25 and high <= 0.75
    assert gap_share_interval(ceiling, zero, ceiling)[0] == pytest.approx(1.0)
    assert np.isnan(gap_share_interval(zero, zero, zero)[0])  # no gap: no share
    with pytest.raises(ValueError, match="one length"):
        gap_share_interval(zero, zero, ceiling[:3])


def test_a_family_of_pairs_is_corrected_together():
    from otclir.evaluation.stats import compare_pairs, correct, p_value

    rng = np.random.default_rng(4)
    base = rng.random(60)
    frame = pd.DataFrame({"zero": base, "better": base + 0.05 + 0.01 * rng.standard_normal(60),
                          "same": base + 0.001 * rng.standard_normal(60)})
    pairs = [("better", "zero"), ("same", "zero"), ("better", "same")]
    table = compare_pairs(frame, pairs, n_permutations=2000, seed=1)
    raw = [p_value(frame[t].to_numpy(), frame[b].to_numpy(), "randomization", 2000, 1) for t, b in pairs]
    np.testing.assert_allclose(table.p_adjusted, correct(raw, "holm"))
    assert table.significant.tolist() == [True, False, True]
    assert table.attrs["family_size"] == 3 and table.loc[0, "diff_ci_low"] > 0
    with pytest.raises(ValueError, match="not among the per-query columns"):
        compare_pairs(frame, [("worse", "zero")])


# ---------------------------------------------------------------- degenerate and misaligned input
def test_constant_nonzero_differences_make_the_t_test_undefined_not_significant():
    with pytest.raises(StatisticsError, match="no variance the t-test is undefined"):
        stats.paired_t_test([1, 1, 1], [0, 0, 0])
    assert stats.paired_t_test([1, 2, 3], [1, 2, 3]) == 1.0


def test_series_are_paired_by_query_label_and_other_queries_are_refused():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.normal(size=40), index=[f"q{i}" for i in range(40)])
    b = (a + rng.normal(0.3, 0.5, size=40)).sample(frac=1, random_state=1)  # another order
    aligned = b.reindex(a.index).to_numpy()
    assert stats.paired_t_test(a, b) == stats.paired_t_test(a.to_numpy(), aligned)
    assert stats.randomization_test(a, b, 500) == stats.randomization_test(a.to_numpy(), aligned, 500)
    with pytest.raises(StatisticsError, match="indexed by different queries"):
        stats.paired_t_test(a, b.rename(index={"q0": "other"}))


@pytest.mark.parametrize("call, says", [
    (lambda: stats.randomization_test([1, 2, 3], [0, 1, 1], n_permutations=100, chunk=0), "chunk"),
    (lambda: stats.randomization_test([1, 2, 3], [0, 1, 1], seed=-1), "seed"),
    (lambda: stats.randomization_test([1, 2, 3], [0, 1, 1], n_permutations=100.5), "n_permutations"),
    (lambda: stats.bootstrap_ci([1, 2, 3], level=0), "confidence level"),
    (lambda: stats.bootstrap_ci([1, 2, 3], level=1.5), "confidence level"),
    (lambda: stats.bootstrap_ci([[1, 2], [3, 4]]), "1-d"),
])
def test_bad_arguments_are_named_instead_of_hanging_or_passing_through(call, says):
    with pytest.raises(StatisticsError, match=says):
        call()


def test_numpy_integers_are_whole_numbers():
    assert stats.randomization_test([1, 2, 3], [0, 1, 1], n_permutations=np.int64(200)) > 0


def test_power_of_differences_without_spread_is_undefined_not_a_crash():
    import math

    from otclir.evaluation.power import minimum_detectable_effect

    found = minimum_detectable_effect([0.5, 0.4, 0.3], [0.4, 0.3, 0.2])
    assert math.isnan(found["mde"]) and math.isnan(found["queries_needed"]) and found["queries"] == 3


def test_a_bootstrap_interval_over_many_queries_draws_in_bounded_blocks_with_the_same_draws():
    """20,000 queries: blocks of 419 resamples (2**23 indices) instead of 1,000, the same interval."""
    import numpy as np

    from otclir.evaluation import stats

    values = np.random.default_rng(3).random(20_000)
    whole = stats.percentile_interval(stats.bootstrap(lambda idx: values[idx].mean(1), values.size, 600, 0, block=1000))
    assert stats.bootstrap_ci(values, 600) == whole
