"""Equivalence said as a test: TOST equals statsmodels' ttost_paired with one seed, the standard
error's degrees of freedom follow Satterthwaite with seeds inside, and the verdicts read both tests."""
import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.weightstats import ttost_paired

from otclir.errors import InputError
from otclir.evaluation.equivalence import detectable_difference, standard_error, tost
from otclir.evaluation.stats import StatisticsError


def _queries(n=300, shift=0.002, seed=0, spread=0.03):
    """Per-query values whose differences have exactly mean ``shift`` and standard deviation ``spread``."""
    rng = np.random.default_rng(seed)
    base, noise = rng.uniform(0, 0.4, n), rng.normal(size=n)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * spread
    return base + shift + noise, base


@pytest.mark.parametrize("shift, margin", [(0.002, 0.005), (0.004, 0.005), (0.02, 0.005), (-0.001, 0.01)])
def test_one_seed_tost_is_statsmodels_ttost_paired(shift, margin):
    x, y = _queries(shift=shift)
    p, lower, upper = ttost_paired(x, y, -margin, margin)
    found = tost(x, y, margin)
    assert found.p_equivalence == pytest.approx(p, rel=1e-9) and found.df == lower[2] == len(x) - 1
    assert found.p_difference == pytest.approx(sps.ttest_rel(x, y).pvalue, rel=1e-9)


def test_the_verdicts_read_both_tests():
    x, y = _queries(n=2000, shift=0.0005)
    assert tost(x, y, 0.005).verdict == "equivalent within ±0.005"
    x, y = _queries(n=2000, shift=0.02)
    assert tost(x, y, 0.005).verdict == "different"
    x, y = _queries(n=20000, shift=0.002)
    assert tost(x, y, 0.005).verdict == "different, within ±0.005"
    x, y = _queries(n=30, shift=0.004)
    assert tost(x, y, 0.005).verdict == "not shown either way"


def test_seeds_inside_take_satterthwaite_degrees_of_freedom_and_widen_the_detectable_difference():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 0.4, 500)
    a = base + 0.003 + rng.normal(0, 0.03, (3, 500)) + rng.normal(0, 0.004, (3, 1))  # seed effects
    b = base + rng.normal(0, 0.03, (3, 500)) + rng.normal(0, 0.004, (3, 1))
    se = standard_error(a, b)
    q, s_a, s_b = (a.mean(0) - b.mean(0)).var(ddof=1) / 500, a.mean(1).var(ddof=1) / 3, b.mean(1).var(ddof=1) / 3
    assert se.total == pytest.approx(np.sqrt(q + s_a + s_b))
    assert se.df == pytest.approx((q + s_a + s_b) ** 2 / (q ** 2 / 499 + s_a ** 2 / 2 + s_b ** 2 / 2))
    assert 2 <= se.df < 499
    normal = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * se.total
    assert detectable_difference(se.total, se.df) > normal  # t quantiles with honest df are wider
    paired = standard_error(a, b, paired_seeds=True)
    assert paired.seed_part == pytest.approx(np.sqrt((a.mean(1) - b.mean(1)).var(ddof=1) / 3))


@pytest.mark.parametrize("call, says", [
    (lambda: tost([1, 2, 3], [0, 1, 2], margin=0.5), "no spread"),
    (lambda: tost([0.1, 0.2], [0.1, 0.3], margin=0), "margin .*declared before the run.* must be > 0"),
    (lambda: tost([0.1, 0.2, 0.4], [0.1, 0.3, 0.2], margin=0.1, alpha=1.5), "alpha must be < 1"),
    (lambda: standard_error([[0.1, 0.2, 0.3]] * 2, [[0.1, 0.2, 0.3]] * 3, paired_seeds=True), "as many seeds"),
])
def test_degenerate_or_bad_input_is_named(call, says):
    with pytest.raises((StatisticsError, InputError), match=says):
        call()


def _per_query(shift_ot=0.0, same=False, n=200, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 0.3, n)
    rows = []
    for s in range(3):
        noise = rng.normal(0, 0.01, n)
        mse = base + noise
        ot = mse if same else mse + shift_ot + rng.normal(0, 0.01, n)
        for system, values in (("distill-ot@500", ot), ("distill-sentence_mse@500", mse)):
            rows += [{"task": "crossref", "query": f"q{i}", "system": system, "scorer": "mean", "seed": s, "AP": v}
                     for i, v in enumerate(values)]
    rows += [{"task": "crossref", "query": f"q{i}", "system": "student-zero-shot", "scorer": "mean", "seed": None,
              "AP": v} for i, v in enumerate(base)]
    return {"en-xx": pd.DataFrame(rows)}


def test_the_primary_comparison_reads_seed_paired_students_and_says_same_weights():
    from otclir.evaluation.primary_comparison import ot_against, sentences

    equal = ot_against(_per_query(shift_ot=0.0), "sentence MSE")
    assert equal.verdict.tolist() == ["equivalent within ±0.005"] and equal.seeds.tolist() == [3]
    apart = ot_against(_per_query(shift_ot=0.03), "sentence MSE")
    assert apart.verdict.tolist() == ["different"] and apart.p_holm.iloc[0] < 0.05
    same = ot_against(_per_query(same=True), "sentence MSE")
    assert same.verdict.tolist() == ["same weights"]
    assert sentences(same) == ["crossref: xx@500 same weights"]
    against_zero = ot_against(_per_query(shift_ot=0.03), "zero-shot")
    assert against_zero["diff"].iloc[0] == pytest.approx(0.03, abs=0.005)
    with pytest.raises(StatisticsError, match="unknown comparison"):
        ot_against(_per_query(), "contrastive")
