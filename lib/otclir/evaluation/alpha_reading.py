"""Measures per alpha with intervals that resample training seeds and queries, and the language
fairness of each system beside the training-free merges of its rankings.

Rows are a grid's per-query rows (:func:`otclir.experiments.ablation.read_stored_grid`): one per
system, seed, setting, language (pair) and query. A query verse's value in a setting is its mean
over the setting's languages (language copies of one verse are not independent samples); a
system's mean is over its seeds and queries, and its interval draws seeds and queries together
(:mod:`otclir.evaluation.seed_bootstrap`'s counts), so a system of one seed (the untrained
student) gets the query-only interval.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from otclir.errors import OtclirError
from otclir.evaluation.seed_bootstrap import draw_counts, resampled_means
from otclir.evaluation.stats import level_of, percentile_interval, whole_number

# per-query fairness measures in the multilingual pool; PEER alone is higher where fairer
FAIRNESS = ("language_bias", "language_bias@100", "top10_skew", "PEER@100")
HIGHER_IS_FAIRER = ("PEER@100",)


def system_label(alpha) -> str:
    """``untrained`` for the zero-shot student's rows (alpha empty), else ``alpha=<a>``."""
    return "untrained" if alpha is None or pd.isna(alpha) else f"alpha={float(alpha):g}"


def seed_query_matrix(rows: pd.DataFrame, measure: str) -> np.ndarray:
    """Seeds x queries of one system in one setting: each query's ``measure`` averaged over the
    setting's languages; a query some seed lacks is left out."""
    if measure not in rows or rows[measure].isna().all():
        raise OtclirError(f"no {measure} values in these rows; the grid was evaluated without it")
    seeds = rows.seed.fillna(-1)
    table = rows.assign(seed=seeds).groupby(["seed", "query"])[measure].mean().unstack("query")
    return table.dropna(axis=1).to_numpy()


def two_level_interval(values: np.ndarray, n_resamples: int = 2_000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float, float]:
    """The mean of a seeds x queries matrix and its percentile interval with seeds and queries
    drawn together (one seed: queries alone).

    >>> mean, low, high = two_level_interval(np.array([[0.1, 0.2, 0.3], [0.2, 0.3, 0.4]]), 500)
    >>> round(mean, 3), low < mean < high
    (0.25, True)
    """
    values = np.asarray(values, dtype=float)
    n_resamples, level = whole_number(n_resamples, "n_resamples", 1), level_of(level)
    if values.ndim != 2 or values.size == 0 or not np.isfinite(values).all():
        raise OtclirError("values must be a non-empty seeds x queries matrix of finite numbers")
    rng = np.random.default_rng(seed)
    n_seeds, n_queries = values.shape
    seed_draws = rng.integers(0, n_seeds, (n_resamples, n_seeds))
    query_draws = rng.integers(0, n_queries, (n_resamples, n_queries))
    draws = resampled_means(values, seed_draws, draw_counts(query_draws, n_queries) / n_queries)
    low, high = percentile_interval(draws, level)
    return float(values.mean()), low, high


def measures_by_system(per_query: pd.DataFrame, settings, measures, n_resamples: int = 2_000, seed: int = 0,
                       level: float = 0.95) -> pd.DataFrame:
    """Per setting, system (the untrained student, each alpha) and measure: the mean with its
    two-level interval and the number of seeds; settings or measures the rows lack are named."""
    missing = sorted(set(settings) - set(per_query.setting))
    if missing:
        raise OtclirError(f"no rows for setting(s) {', '.join(missing)}; the grid evaluated "
                          f"{', '.join(sorted(per_query.setting.unique()))}")
    rows = []
    for setting in settings:
        part = per_query[per_query.setting == setting]
        for alpha, system in part.groupby(part.alpha.fillna(-1.0), sort=True):
            label = system_label(None if alpha == -1.0 else alpha)
            for measure in measures:
                mean, low, high = two_level_interval(seed_query_matrix(system, measure), n_resamples, seed, level)
                rows.append({"setting": setting, "system": label, "measure": measure, "mean": mean, "low": low,
                             "high": high, "seeds": int(system.seed.nunique()) or 1})
    return pd.DataFrame(rows)


def fairness_table(per_query: pd.DataFrame, settings=("multilingual", "multilingual-round-robin",
                                                      "multilingual-normalised"),
                   measures=("AP", *FAIRNESS), n_resamples: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Systems x (setting, measure) means with intervals as ``mean [low, high]`` text: each
    system's own ranking of the multilingual pool beside the two merges of its per-language
    rankings (the untrained student's merges are the training-free rivals)."""
    settings = [s for s in settings if s in set(per_query.setting)]
    table = measures_by_system(per_query, settings, measures, n_resamples, seed)
    table["text"] = [f"{m:.4g} [{lo:.4g}, {hi:.4g}]" for m, lo, hi in zip(table["mean"], table.low, table.high)]
    wide = table.pivot_table(index="system", columns=["setting", "measure"], values="text", aggfunc="first")
    order = ["untrained"] + sorted((s for s in wide.index if s != "untrained"), key=lambda s: float(s.split("=")[1]))
    return wide.reindex(index=[s for s in order if s in wide.index],
                        columns=pd.MultiIndex.from_product([settings, list(measures)]))
