"""Paired significance tests over per-query measures (no torch here).

Every function takes per-query values of systems over the same queries, in the same order.
Randomisation and bootstrap are seeded and vectorised, so a seed reproduces a p-value exactly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from otclir import checks
from otclir.errors import OtclirError

CORRECTIONS = ("holm", "bonferroni", "none")
TESTS = ("t", "randomization")


class StatisticsError(OtclirError, ValueError):
    """Values a statistic cannot be computed from (empty, unpaired, not finite)."""


def finite(values, what: str = "per-query values") -> np.ndarray:
    """``values`` as float64, refused when any is NaN or infinite: a NaN difference would make a
    randomisation test count no permutation as extreme and report its smallest p-value.

    >>> finite([0.1, 0.2]).dtype
    dtype('float64')
    """
    checks.array(values, what, finite=False, min_size=0)
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise StatisticsError(f"{bad.size} of {values.size} {what} are not finite numbers (first at position "
                              f"{int(bad[0])}); statistics over them would be wrong: find where they came from")
    return values


def whole_number(value, name: str, minimum: int = 0) -> int:
    """``value`` as an int (numpy integers accepted), refused unless a whole number >= ``minimum``.

    >>> import numpy as np
    >>> whole_number(np.int64(200), 'n_resamples', 1)
    200
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise StatisticsError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(value)


def level_of(level, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1.

    >>> level_of(0.95)
    0.95
    """
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, float, np.number)) or not 0 < level < 1:
        raise StatisticsError(f"{name} must be a confidence level between 0 and 1 (like 0.95), got {level!r}")
    return float(level)


def _aligned(x, y):
    """Two pandas Series paired by their index labels (y reordered to x's order); other inputs as given."""
    if isinstance(x, pd.Series) and isinstance(y, pd.Series) and not x.index.equals(y.index):
        if x.index.has_duplicates or y.index.has_duplicates or set(x.index) != set(y.index):
            raise StatisticsError(f"the two series are indexed by different queries ({len(x)} and {len(y)} labels, "
                                  f"{len(set(x.index) ^ set(y.index))} in one only); pair them by query first, for "
                                  "example x.align(y, join='inner')")
        y = y.reindex(x.index)
    return x, y


def _pair(x, y) -> np.ndarray:
    x, y = _aligned(x, y)
    x, y = finite(x), finite(y)
    if x.shape != y.shape or x.ndim != 1:
        raise StatisticsError(f"paired tests need two 1-d arrays of one length, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise StatisticsError("paired tests need at least two queries")
    return x - y


def paired_t_test(x, y) -> float:
    """Two-sided p-value of the paired t-test (scipy's ttest_rel) over per-query values ``x`` and
    ``y`` (1-d, one length; pandas Series are paired by index label); 1.0 when every difference is
    0. Differences that are all equal but not 0 have no variance: the t statistic is undefined and
    a :class:`StatisticsError` says so (scipy would give p = 0).

    >>> round(paired_t_test([0.2, 0.4, 0.5, 0.1], [0.1, 0.3, 0.45, 0.12]), 4)
    0.136
    """
    d = _pair(x, y)
    if np.all(d == 0):
        return 1.0
    if np.all(d == d[0]) or np.std(d) <= 1e-12 * np.abs(d).max():
        raise StatisticsError(f"every per-query difference is {d[0]:.6g}: with no variance the t-test is undefined; "
                              "use the randomisation test (test='randomization')")
    return float(sps.ttest_rel(d, np.zeros_like(d)).pvalue)


def randomization_test(x, y, n_permutations: int = 10_000, seed: int = 0, chunk: int = 2_000) -> float:
    """Two-sided paired randomisation (sign-flip) test of the mean difference.

    p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + n_permutations) over random sign vectors s,
    so p is never 0; the comparison carries a 1e-12 relative slack against floating-point ties.
    Reference: Smucker, Allan and Carterette (2007), a comparison of statistical significance
    tests for information retrieval evaluation.

    >>> randomization_test([0.2, 0.4, 0.5, 0.1], [0.1, 0.3, 0.45, 0.12], n_permutations=999)
    0.244
    """
    n_permutations = whole_number(n_permutations, "n_permutations", 1)
    chunk = whole_number(chunk, "chunk", 1)
    seed = whole_number(seed, "seed")
    d = _pair(x, y)
    # at most 2**23 sign cells a chunk: with a million queries a chunk is a few rows, so memory stays
    # bounded; under 4,096 queries the default chunk fits whole (p-values unchanged)
    chunk = max(1, min(chunk, 2 ** 23 // d.size))
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    extreme, done = 0, 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        signs = rng.integers(0, 2, size=(size, d.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ d) / d.size
        extreme += int(np.count_nonzero(means >= observed * (1 - 1e-12)))
        done += size
    return (extreme + 1) / (n_permutations + 1)


def bootstrap(statistic, n_items: int, n_resamples: int = 10_000, seed: int = 0, block: int = 1_000) -> np.ndarray:
    """``statistic`` over ``n_resamples`` bootstrap resamples of ``n_items`` paired items (queries
    drawn with replacement, the same draw for every system and language the statistic reads).
    ``statistic`` maps a (k, n_items) array of item indices to k values; resamples are drawn
    ``block`` at a time (the same seed gives the same draws for any block size).

    >>> import numpy as np
    >>> values = np.array([0.1, 0.2, 0.3, 0.4])
    >>> draws = bootstrap(lambda idx: values[idx].mean(1), values.size, n_resamples=1000)
    >>> draws.shape, bool(0.1 <= draws.min() and draws.max() <= 0.4)
    ((1000,), True)
    """
    checks.whole(n_items, "n_items", 1)
    checks.whole(n_resamples, "n_resamples", 1)
    checks.whole(seed, "seed", 0)
    checks.whole(block, "block", 1)
    checks.function(statistic, "statistic (a function of a (k, n_items) array of indices)")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        draws[start:start + size] = statistic(rng.integers(0, n_items, size=(size, n_items)))
    return draws


def percentile_interval(draws, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap ``draws`` (1-d, finite).

    >>> percentile_interval([0.0, 1.0, 2.0, 3.0, 4.0], level=0.5)
    (1.0, 3.0)
    """
    checks.level(level)
    checks.array(draws, "draws", ndim=1)
    alpha = (1 - level) / 2
    return float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def bootstrap_p(draws) -> float:
    """Two-sided bootstrap p-value of a difference: twice the smaller share of resampled
    differences on either side of 0 (at most 1).

    >>> bootstrap_p([0.1, 0.2, -0.05, 0.3])
    0.5
    """
    checks.array(draws, "draws", ndim=1)
    draws = np.asarray(draws)
    return float(min(1.0, 2 * min((draws <= 0).mean(), (draws >= 0).mean())))


def bootstrap_ci(values, n_resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (1-d, at least two).

    >>> low, high = bootstrap_ci([0.1, 0.2, 0.3, 0.4], n_resamples=2000)
    >>> low < 0.25 < high
    True
    """
    level, n_resamples, seed = level_of(level), whole_number(n_resamples, "n_resamples", 1), whole_number(seed, "seed")
    values = finite(values)
    if values.ndim != 1 or values.size < 2:
        raise StatisticsError(f"a bootstrap interval needs a 1-d array of at least two values, got shape {values.shape}")
    # resamples drawn at most 2**23 indices a block: the same draws (any block size gives them), and
    # memory bounded for a million queries (a block of 1,000 would hold 8 GB of indices)
    block = max(1, min(1_000, 2 ** 23 // values.size))
    return percentile_interval(bootstrap(lambda idx: values[idx].mean(1), values.size, n_resamples, seed, block), level)


def paired_bootstrap_ci(x, y, **kwargs) -> tuple[float, float]:
    """Bootstrap interval of the mean paired difference x - y (queries resampled together).

    >>> low, high = paired_bootstrap_ci([0.3, 0.5, 0.6, 0.2], [0.1, 0.3, 0.45, 0.12], n_resamples=2000)
    >>> bool(0 < low < high)
    True
    """
    return bootstrap_ci(_pair(x, y), **kwargs)


def gap_share_interval(system, zero, ceiling, n_resamples: int = 10_000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """A system's share of the gap from ``zero`` (the untrained student) to ``ceiling``, in means
    over the same queries, with a percentile bootstrap interval (queries resampled together).
    Resamples whose gap is not positive are dropped from the interval.

    >>> share, low, high = gap_share_interval([0.3, 0.4, 0.5, 0.3], [0.2, 0.3, 0.4, 0.2], [0.4, 0.5, 0.6, 0.4], n_resamples=500)
    >>> round(share, 2)
    0.5
    """
    system, zero, ceiling = (finite(v) for v in (system, zero, ceiling))
    if not system.shape == zero.shape == ceiling.shape or system.ndim != 1 or system.size < 2:
        raise StatisticsError(f"gap shares need three 1-d arrays of one length >= 2, got {system.shape}, {zero.shape}, {ceiling.shape}")
    gap = ceiling.mean() - zero.mean()
    share = float((system.mean() - zero.mean()) / gap) if gap > 0 else float("nan")

    def resampled_share(idx):
        gaps = ceiling[idx].mean(1) - zero[idx].mean(1)
        positive = gaps > 0
        return np.where(positive, (system[idx].mean(1) - zero[idx].mean(1)) / np.where(positive, gaps, 1.0), np.nan)

    shares = bootstrap(resampled_share, system.size, n_resamples, seed)
    shares = shares[~np.isnan(shares)]
    if not shares.size:
        return share, float("nan"), float("nan")
    return (share, *percentile_interval(shares, level))


def check_alpha(alpha) -> float:
    """A significance level strictly between 0 and 1, as a float.

    >>> check_alpha(0.05)
    0.05
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise StatisticsError(f"alpha is a significance level in (0, 1), got {alpha!r}")
    return float(alpha)


def verdict(diff: float, p_adjusted: float, alpha: float = 0.05, low: float | None = None,
            high: float | None = None) -> int:
    """+1 (significantly higher), -1 (significantly lower) or 0: the corrected p below ``alpha``
    and, when an interval is given, the whole interval on the side of the difference.

    >>> verdict(0.01, 0.003), verdict(0.01, 0.2), verdict(-0.01, 0.003, low=-0.02, high=0.001)
    (1, 0, 0)
    """
    if not p_adjusted < alpha:
        return 0
    if diff > 0 and (low is None or low > 0):
        return 1
    if diff < 0 and (high is None or high < 0):
        return -1
    return 0


def effect_size(x, y) -> float:
    """Cohen's d for paired samples (d_z): mean difference over the standard deviation of differences.

    >>> round(effect_size([0.2, 0.4, 0.5, 0.1], [0.1, 0.3, 0.45, 0.12]), 4)
    1.0125
    """
    d = _pair(x, y)
    sd = d.std(ddof=1)
    if sd > 0:
        return float(d.mean() / sd)
    return 0.0 if d.mean() == 0 else float("nan")  # equal systems: no effect; a constant shift: undefined


def correct(pvalues, method: str = "holm") -> np.ndarray:
    """Family-wise error correction: Holm's step-down, Bonferroni, or none.

    >>> correct([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    if method not in CORRECTIONS:
        raise StatisticsError(f"unknown correction '{method}'; corrections: {', '.join(CORRECTIONS)}")
    checks.array(pvalues, "pvalues", ndim=1, min_size=0, low=0, high=1)
    p = finite(pvalues, "p-values")
    m = p.size
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def p_value(x, y, test: str = "randomization", n_permutations: int = 10_000, seed: int = 0) -> float:
    """The two-sided p-value of ``test`` ('t' or 'randomization') for paired per-query values.

    >>> p_value([0.2, 0.4, 0.5, 0.1], [0.1, 0.3, 0.45, 0.12], test='randomization', n_permutations=999)
    0.244
    """
    if test == "t":
        return paired_t_test(x, y)
    if test == "randomization":
        return randomization_test(x, y, n_permutations, seed)
    raise StatisticsError(f"unknown test '{test}'; tests: {', '.join(TESTS)}")


def compare_to_baseline(per_query: pd.DataFrame, baseline: str, test: str = "randomization",
                        correction: str = "holm", alpha: float = 0.05, n_permutations: int = 10_000,
                        n_resamples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Each system (column) against ``baseline`` on one measure: means with bootstrap intervals,
    the difference with its interval, effect size, raw and corrected p-values over the family of
    comparisons, and whether the difference is significant at ``alpha`` after correction.

    >>> import pandas as pd
    >>> per_query = pd.DataFrame({'bm25': [0.1, 0.2, 0.3, 0.4, 0.5], 'ot': [0.3, 0.4, 0.4, 0.6, 0.7]})
    >>> table = compare_to_baseline(per_query, 'bm25', n_permutations=999, n_resamples=1000)
    >>> round(float(table.loc['ot', 'mean']), 2), round(float(table.loc['ot', 'diff']), 2), bool(table.loc['ot', 'significant'])
    (0.48, 0.18, True)
    """
    checks.frame(per_query, "per_query", 2)
    check_alpha(alpha)
    if baseline not in per_query.columns:
        raise StatisticsError(f"baseline '{baseline}' is not among the systems: {', '.join(per_query.columns)}")
    base = per_query[baseline].to_numpy()
    rows = []
    for system in per_query.columns:
        values = per_query[system].to_numpy()
        low, high = bootstrap_ci(values, n_resamples, seed=seed)
        row = {"system": system, "mean": values.mean(), "ci_low": low, "ci_high": high}
        if system != baseline:
            d_low, d_high = paired_bootstrap_ci(values, base, n_resamples=n_resamples, seed=seed)
            row.update(diff=values.mean() - base.mean(), diff_ci_low=d_low, diff_ci_high=d_high,
                       effect_size=effect_size(values, base),
                       p=p_value(values, base, test, n_permutations, seed))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("system")
    others = table.index != baseline
    table["p_adjusted"] = np.nan
    table.loc[others, "p_adjusted"] = correct(table.loc[others, "p"].to_numpy(), correction)
    table["significant"] = table.p_adjusted < alpha
    table.attrs.update(baseline=baseline, test=test, correction=correction, alpha=alpha, queries=len(per_query))
    return table


def pairwise_p_values(per_query: pd.DataFrame, test: str = "randomization", correction: str = "holm",
                      n_permutations: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Corrected p-values of every pair of systems (the family is all pairs); symmetric, NaN diagonal.

    >>> import pandas as pd
    >>> per_query = pd.DataFrame({'a': [0.1, 0.2, 0.3, 0.4], 'b': [0.3, 0.4, 0.4, 0.6], 'c': [0.1, 0.25, 0.3, 0.4]})
    >>> pairwise_p_values(per_query, n_permutations=999).shape
    (3, 3)
    """
    systems = list(per_query.columns)
    pairs = [(a, b) for i, a in enumerate(systems) for b in systems[i + 1:]]
    raw = [p_value(per_query[a].to_numpy(), per_query[b].to_numpy(), test, n_permutations, seed) for a, b in pairs]
    adjusted = correct(raw, correction)
    matrix = pd.DataFrame(np.nan, index=systems, columns=systems)
    for (a, b), p in zip(pairs, adjusted):
        matrix.loc[a, b] = matrix.loc[b, a] = p
    return matrix


def compare_pairs(per_query: pd.DataFrame, pairs: list[tuple[str, str]], test: str = "randomization",
                  correction: str = "holm", alpha: float = 0.05, n_permutations: int = 10_000,
                  n_resamples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """A family of paired comparisons (treatment, baseline) over the same queries: the mean
    difference with its paired bootstrap interval, raw and corrected p-values (the correction runs
    over the whole family) and whether each is significant at ``alpha`` after correction.

    >>> import pandas as pd
    >>> per_query = pd.DataFrame({'a': [0.1, 0.2, 0.3, 0.4], 'b': [0.3, 0.4, 0.4, 0.6]})
    >>> found = compare_pairs(per_query, [('b', 'a')], n_permutations=999, n_resamples=500)
    >>> found.treatment[0], found.baseline[0], round(float(found['diff'][0]), 3)
    ('b', 'a', 0.175)
    """
    check_alpha(alpha)
    missing = sorted({s for pair in pairs for s in pair} - set(per_query.columns))
    if missing:
        raise StatisticsError(f"system(s) {', '.join(missing)} not among the per-query columns: {', '.join(per_query.columns)}")
    rows = []
    for treatment, baseline in pairs:
        x, y = per_query[treatment].to_numpy(), per_query[baseline].to_numpy()
        low, high = paired_bootstrap_ci(x, y, n_resamples=n_resamples, seed=seed)
        rows.append({"treatment": treatment, "baseline": baseline, "treatment_mean": x.mean(), "baseline_mean": y.mean(),
                     "diff": x.mean() - y.mean(), "diff_ci_low": low, "diff_ci_high": high,
                     "p": p_value(x, y, test, n_permutations, seed)})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = correct(table.p.to_numpy(), correction) if len(table) else []
    table["significant"] = table.p_adjusted < alpha
    table.attrs.update(test=test, correction=correction, alpha=alpha, queries=len(per_query), family_size=len(pairs))
    return table


# ------------------------------------------------------------ training seeds inside the test
def seed_matrix(values) -> np.ndarray:
    """Per-query values of one system as (seeds, queries): a 1-d array is a system trained once
    (or never), a single row.

    >>> seed_matrix([0.1, 0.2]).shape, seed_matrix([[0.1, 0.2], [0.3, 0.4]]).shape
    ((1, 2), (2, 2))
    """
    checks.array(values, "per-query values", ndim=(1, 2), finite=False)
    values = finite(values)
    return values[None, :] if values.ndim == 1 else values


class GatheredMeans:
    """A block of resamples' means over drawn seeds and queries, gathering every drawn cell: the
    direct form (:mod:`otclir.evaluation.seed_bootstrap` computes the same from draw counts)."""

    def means(self, values: np.ndarray, seed_draws: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values[seed_draws], queries[:, None, :], axis=2).mean((1, 2))

    def query_means(self, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return values[queries].mean(1)


# The analyses call otclir.evaluation.seed_bootstrap, which passes the count form as ``form``;
# this gather is the reference its tests hold it to. One draw loop serves both.
def two_level_bootstrap(a, b, n_resamples: int = 10_000, seed: int = 0, level: float = 0.95, form=None) -> dict:
    """The difference of two systems' means over training seeds and queries, with an interval and
    a p-value that resample both (``a``, ``b``: (seeds, queries) arrays over the same queries, or
    1-d for a system without seeds). Each resample draws the queries with replacement (the same
    draw for both systems) and, independently per system, its seeds with replacement (different
    training runs of the two systems are independent). With one seed each, this is the paired
    bootstrap over queries. Also: each seed's own difference and how many agree in sign with
    the whole. ``form`` computes a block of resamples' means (default :class:`GatheredMeans`).


    >>> found = two_level_bootstrap([[0.2, 0.4, 0.5, 0.1], [0.3, 0.4, 0.4, 0.2]], [[0.1, 0.3, 0.45, 0.12]], n_resamples=500)
    >>> round(found['diff'], 4), found['seeds']
    (0.07, 2)
    """
    checks.whole(n_resamples, "n_resamples", 1)
    checks.whole(seed, "seed", 0)
    checks.level(level)
    a, b = seed_matrix(a), seed_matrix(b)
    if a.shape[1] != b.shape[1] or a.shape[1] < 2:
        raise StatisticsError(f"a two-level bootstrap needs the same queries (at least 2) for both systems, got "
                              f"{a.shape[1]} and {b.shape[1]}")
    observed = float(a.mean() - b.mean())
    form = form or GatheredMeans()
    rng = np.random.default_rng(seed)
    n_queries = a.shape[1]
    draws = np.empty(n_resamples)
    block = max(1, 2_000_000 // (n_queries * max(len(a), len(b))))
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        queries = rng.integers(0, n_queries, size=(size, n_queries))
        seeds_a = rng.integers(0, len(a), size=(size, len(a)))
        seeds_b = rng.integers(0, len(b), size=(size, len(b)))
        draws[start:start + size] = form.means(a, seeds_a, queries) - form.means(b, seeds_b, queries)
    low, high = percentile_interval(draws, level)
    by_seed = _seed_differences(a, b)
    return {"diff": observed, "diff_ci_low": low, "diff_ci_high": high, "p": _centred_p(draws, observed),
            "seeds": max(len(a), len(b)), "diff_by_seed": by_seed,
            "seeds_agree": int(sum(np.sign(d) == np.sign(observed) for d in by_seed)), "queries": int(n_queries)}


def _centred_p(draws: np.ndarray, observed: float) -> float:
    """Two-sided p of no difference from bootstrap draws of a difference: the share of draws of the
    difference's null-centred distribution at least as far from 0 as the observed one."""
    centred = draws - draws.mean()
    return float((1 + np.count_nonzero(np.abs(centred) >= abs(observed) * (1 - 1e-12))) / (1 + len(draws)))


def _seed_differences(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Each seed's difference: seed i of ``a`` against seed i of ``b`` (or against ``b``'s only row)."""
    if len(b) == 1:
        return [float(row.mean() - b.mean()) for row in a]
    if len(a) == 1:
        return [float(a.mean() - row.mean()) for row in b]
    return [float(x.mean() - y.mean()) for x, y in zip(a, b)]


def two_level_gap_share(system, zero, ceiling, n_resamples: int = 10_000, seed: int = 0,
                        level: float = 0.95, form=None) -> tuple[float, float, float]:
    """A system's share of the zero-shot-to-ceiling gap (:func:`gap_share_interval`) with its
    training seeds inside: ``system`` is (seeds, queries); each resample draws queries (shared by
    the three) and the system's seeds with replacement. ``form`` as in :func:`two_level_bootstrap`.

    >>> found = two_level_gap_share([[0.3, 0.4, 0.5, 0.3]], [0.2, 0.3, 0.4, 0.2], [0.4, 0.5, 0.6, 0.4], n_resamples=500)
    >>> round(found[0], 2)
    0.5
    """
    system = seed_matrix(system)
    zero, ceiling = finite(zero), finite(ceiling)
    if system.shape[1] != zero.size or zero.size != ceiling.size or zero.size < 2:
        raise StatisticsError(f"gap shares need the same queries (at least 2) for all three, got {system.shape}, "
                              f"{zero.shape}, {ceiling.shape}")
    gap = ceiling.mean() - zero.mean()
    share = float((system.mean() - zero.mean()) / gap) if gap > 0 else float("nan")
    form = form or GatheredMeans()
    rng = np.random.default_rng(seed)
    shares = []
    for start in range(0, n_resamples, 500):  # 500 resamples a block: it sets the order of the draws
        size = min(500, n_resamples - start)
        queries = rng.integers(0, zero.size, size=(size, zero.size))
        seeds = rng.integers(0, len(system), size=(size, len(system)))
        means = form.means(system, seeds, queries)
        zeros = form.query_means(zero, queries)
        gaps = form.query_means(ceiling, queries) - zeros
        keep = gaps > 0
        shares.append((means[keep] - zeros[keep]) / gaps[keep])
    shares = np.concatenate(shares)
    if not shares.size:
        return share, float("nan"), float("nan")
    return (share, *percentile_interval(shares, level))
