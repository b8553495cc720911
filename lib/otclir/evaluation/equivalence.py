""""No difference" said as a test: two one-sided tests (TOST) against a declared margin, with the
standard error of a comparison that has training seeds inside and its Satterthwaite degrees of
freedom.

A mean difference over queries and seeds has the variance ``q + s`` where ``q`` is the query part
(the spread over queries of the seed-averaged per-query differences, over the number of queries)
and ``s`` the seed part (each system's seed-to-seed variance of its mean, over its seeds; or, with
``paired_seeds``, the variance of the seed-paired differences of means, when seed ``i`` of both
systems shares its pair sample and batch order). Each part has its own degrees of freedom (queries
- 1, seeds - 1); the Welch-Satterthwaite approximation gives the whole its degrees of freedom.
With one seed per system this is the paired t-test over queries: :func:`tost` then equals
statsmodels' ``ttost_paired`` (a test checks it).

Verdicts: "equivalent within ±m" when both one-sided tests reject at ``alpha`` (the 1 - 2 alpha
interval lies inside (-m, m)); "different" when the two-sided t-test rejects and the interval is not
inside the margin; "different, within ±m" when both hold; else "not shown either way".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from otclir import checks
from otclir.evaluation.stats import StatisticsError, level_of, seed_matrix

POWER = 0.8


@dataclass(frozen=True)
class StandardError:
    total: float
    query_part: float
    seed_part: float
    df: float  # Satterthwaite degrees of freedom of the total


def standard_error(a, b, paired_seeds: bool = False) -> StandardError:
    """The standard error of mean(a) - mean(b) for (seeds, queries) arrays over the same queries (or
    per-query 1-d arrays), with its Satterthwaite degrees of freedom.

    >>> se = standard_error([[0.2, 0.4, 0.5, 0.1]], [[0.1, 0.3, 0.45, 0.12]])
    >>> round(se.total, 4), se.df
    (0.0284, 3.0)
    """
    a, b = seed_matrix(a), seed_matrix(b)
    if a.shape[1] != b.shape[1] or a.shape[1] < 2:
        raise StatisticsError(f"a standard error needs the same queries (at least 2) for both systems, got "
                              f"{a.shape[1]} and {b.shape[1]}")
    n = a.shape[1]
    differences = a.mean(0) - b.mean(0)
    query_var = float(differences.var(ddof=1) / n)
    parts = [(query_var, n - 1)]
    if paired_seeds and (len(a) > 1 or len(b) > 1):
        if len(a) != len(b):
            raise StatisticsError(f"seed-paired comparisons need as many seeds in both systems, got {len(a)} and "
                                  f"{len(b)}")
        parts.append((float((a.mean(1) - b.mean(1)).var(ddof=1) / len(a)), len(a) - 1))
    else:
        parts += [(float(s.mean(1).var(ddof=1) / len(s)), len(s) - 1) for s in (a, b) if len(s) > 1]
    total_var = sum(v for v, _ in parts)
    if not total_var > 0:
        raise StatisticsError("the differences have no spread over queries or seeds: the standard error is 0 and "
                              "no t-based test is defined")
    denominator = sum(v * v / df for v, df in parts if v > 0)
    df = total_var ** 2 / denominator
    seed_var = total_var - query_var
    return StandardError(math.sqrt(total_var), math.sqrt(query_var), math.sqrt(max(seed_var, 0.0)), float(df))


@dataclass(frozen=True)
class Equivalence:
    diff: float
    margin: float
    p_equivalence: float  # TOST: the larger of the two one-sided p-values
    p_difference: float  # the two-sided t-test of no difference
    low: float  # the 1 - 2 alpha interval of the difference (what TOST checks against the margin)
    high: float
    df: float
    standard_error: float
    detectable: float  # the difference the two-sided test detects with 80% power at alpha
    verdict: str

    def record(self) -> dict:
        return asdict(self)


def detectable_difference(se: float, df: float, alpha: float = 0.05, power: float = POWER) -> float:
    """(t_{1-alpha/2, df} + t_{power, df}) x se: the difference a two-sided t-test detects with
    probability about ``power`` (t quantiles with the comparison's own degrees of freedom; normal
    quantiles understate it where the seeds' part dominates and df is small).

    >>> round(detectable_difference(0.01, 20), 4)
    0.0295
    """
    checks.number(se, "se (a standard error)", 0, low_open=True)
    checks.number(df, "df (degrees of freedom)", 0, low_open=True)
    checks.level(alpha, "alpha")
    checks.level(power, "power")
    level_of(1 - alpha, "1 - alpha")
    level_of(power, "power")
    return float((sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)) * se)


def tost(a, b, margin: float, alpha: float = 0.05, paired_seeds: bool = False) -> Equivalence:
    """Two one-sided tests (Schuirmann 1987) of whether mean(a) - mean(b) lies within ±``margin``,
    beside the two-sided test of no difference and the verdict that reads both (module docstring).

    >>> found = tost([0.2, 0.4, 0.5, 0.1], [0.1, 0.3, 0.45, 0.12], margin=0.2)
    >>> found.verdict, round(found.p_equivalence, 4)
    ('equivalent within ±0.2', 0.0076)
    """
    checks.number(margin, "margin (the equivalence margin, declared before the run)", 0, low_open=True)
    checks.level(alpha, "alpha")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating)) or not margin > 0:
        raise StatisticsError(f"the equivalence margin is a positive difference (declared before the run), got {margin!r}")
    alpha = 1 - level_of(1 - alpha, "1 - alpha")
    a, b = seed_matrix(a), seed_matrix(b)
    se = standard_error(a, b, paired_seeds)
    diff = float(a.mean() - b.mean())
    p_lower = float(sps.t.sf((diff + margin) / se.total, se.df))  # H0: diff <= -margin
    p_upper = float(sps.t.cdf((diff - margin) / se.total, se.df))  # H0: diff >= +margin
    p_equivalence = max(p_lower, p_upper)
    p_difference = float(2 * sps.t.sf(abs(diff) / se.total, se.df))
    half = float(sps.t.ppf(1 - alpha, se.df) * se.total)
    equivalent, different = p_equivalence < alpha, p_difference < alpha
    verdict = (f"different, within ±{margin:g}" if equivalent and different else
               f"equivalent within ±{margin:g}" if equivalent else "different" if different else
               "not shown either way")
    return Equivalence(diff, float(margin), p_equivalence, p_difference, diff - half, diff + half, se.df, se.total,
                       detectable_difference(se.total, se.df, alpha), verdict)
