"""What a paired test could have seen: the minimum detectable difference at a given power and
level, and the number of queries that would detect an observed difference.

For a paired t-test over n queries (differences with standard deviation s), the difference d
that is detected with probability ``power`` at two-sided level ``alpha`` solves
P(|T| > t_crit) = power for T noncentral t with n - 1 degrees of freedom and noncentrality
d / (s / sqrt(n)); this is what statsmodels' ``TTestPower`` solves (a test checks the two agree).
With training seeds inside the comparison the standard error has a part that more queries do
not shrink, the seed-to-seed variance of the systems' means; then the normal approximation
(z_(1-alpha/2) + z_power) x SE is used, and the queries needed may be unreachable.
"""
from __future__ import annotations

import math

from scipy import optimize
from scipy import stats as sps

from otclir import checks
from otclir.evaluation.stats import StatisticsError, seed_matrix

POWER = 0.8


def _power(effect: float, se: float, df: int, alpha: float) -> float:
    critical = sps.t.ppf(1 - alpha / 2, df)
    nc = effect / se
    return float(sps.nct.sf(critical, df, nc) + sps.nct.cdf(-critical, df, nc))


def detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest mean difference a two-sided paired t-test over ``n`` queries with differences of
    standard deviation ``sd`` detects with probability ``power`` at level ``alpha``.

    >>> round(detectable_difference(0.1, 100), 4)
    0.0283
    """
    checks.number(sd, "sd", 0)
    checks.whole(n, "n (queries)", 0)
    checks.level(alpha, "alpha")
    checks.level(power, "power")
    if n < 2 or not sd > 0:
        raise StatisticsError(f"a detectable difference needs at least 2 queries and a positive spread, got {n}, {sd}")
    se = sd / math.sqrt(n)
    guess = (sps.t.ppf(1 - alpha / 2, n - 1) + sps.t.ppf(power, n - 1)) * se  # within a few percent of the answer
    return float(optimize.brentq(lambda d: _power(d, se, n - 1, alpha) - power, 0.5 * guess, 1.5 * guess))


def two_level_standard_error(a, b) -> tuple[float, float, float]:
    """(total, query part, seed part) of the standard error of mean(a) - mean(b) for (seeds,
    queries) arrays over the same queries: the paired spread of the seed-averaged differences over
    queries, and each system's between-seed variance of its means over its number of seeds.

    >>> total, query, seed = two_level_standard_error([[0.2, 0.4, 0.5, 0.1], [0.3, 0.4, 0.4, 0.2]], [[0.1, 0.3, 0.45, 0.12]])
    >>> round(total, 4), round(query, 4), round(seed, 4)
    (0.0361, 0.0339, 0.0125)
    """
    a, b = seed_matrix(a), seed_matrix(b)
    differences = a.mean(0) - b.mean(0)
    query = float(differences.std(ddof=1) / math.sqrt(len(differences)))
    seed = 0.0
    for system in (a, b):
        if len(system) > 1:
            seed += float(system.mean(1).var(ddof=1) / len(system))
    return math.sqrt(query ** 2 + seed), query, math.sqrt(seed)


def minimum_detectable_effect(a, b, alpha: float = 0.05, power: float = POWER) -> dict:
    """What the comparison of ``a`` and ``b`` ((seeds, queries) or per-query arrays) could detect:
    ``mde`` at ``power`` and two-sided ``alpha`` (the family's corrected level), and
    ``queries_needed`` to detect a difference of the observed size (inf where even endless queries
    would not: the seed part alone is too large; 0 where there is no observed difference; NaN, both,
    where every query differs by the same non-zero amount, so the differences have no spread).

    >>> found = minimum_detectable_effect([0.2, 0.4, 0.5, 0.1, 0.3], [0.1, 0.3, 0.45, 0.12, 0.2])
    >>> round(found['mde'], 4), found['queries_needed'], found['queries']
    (0.0887, 8, 5)
    """
    checks.level(alpha, "alpha")
    checks.level(power, "power")
    a, b = seed_matrix(a), seed_matrix(b)
    observed = abs(float(a.mean() - b.mean()))
    n = a.shape[1]
    sd = float((a.mean(0) - b.mean(0)).std(ddof=1))
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    if len(a) == 1 and len(b) == 1:
        mde = detectable_difference(sd, n, alpha, power) if sd > 0 else math.nan  # no spread: undefined
        seed_part = 0.0
    else:
        total, _, seed_part = two_level_standard_error(a, b)
        mde = z * total if total > 0 else math.nan  # identical systems: nothing to detect with
    if len(a) == 1 and len(b) == 1 and sd <= 1e-12 * observed and observed != 0:
        # every query differs by the same amount: no spread, so power is undefined (not infinite)
        return {"mde": math.nan, "queries_needed": math.nan, "queries": int(n)}
    if observed == 0:
        needed = 0.0
    else:
        room = (observed / z) ** 2 - seed_part ** 2
        needed = math.inf if room <= 0 else math.ceil(sd ** 2 / room)
        if len(a) == 1 and len(b) == 1 and needed < math.inf:  # the exact t-test's answer near the estimate
            needed = _exact_queries(sd, observed, alpha, power, int(needed))
    return {"mde": float(mde), "queries_needed": needed, "queries": int(n)}


def _exact_queries(sd: float, effect: float, alpha: float, power: float, guess: int) -> int:
    n = max(2, guess - 5)
    while _power(effect, sd / math.sqrt(n), n - 1, alpha) < power:
        n += 1
    return n


def family_level(alpha: float, size: int) -> float:
    """The level each comparison of a Holm family of ``size`` must meet in the worst case (its
    first step, alpha / size): the level a detectable difference is stated at.

    >>> family_level(0.05, 5)
    0.01
    """
    checks.level(alpha, "alpha")
    checks.whole(size, "size (comparisons in the family)", 0)
    return alpha / max(1, size)
