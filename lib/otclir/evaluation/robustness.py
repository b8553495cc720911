"""Robustness across languages, for any table of scores with a ``language`` column: one score per
language and setting (a pair counts for both its languages in the paired settings), the mean,
worst language, spread and tier gap, intervals over training seeds, and per-query matrices for
paired tests (a query's score averaged over the languages and seeds it was measured in).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from otclir.errors import OtclirError
from otclir.evaluation.retrieval_settings import RETRIEVAL_SETTINGS, tier_of

PAIRED_SETTINGS = ("cross-lingual", "bitext")  # a language's score: the mean over the pairs it takes part in


def settings_in(frame: pd.DataFrame) -> list[str]:
    """The evaluation settings a table holds, in the usual order."""
    present = set(frame.setting)
    return [s for s in RETRIEVAL_SETTINGS if s in present]


def per_language(summary: pd.DataFrame, keys, measure: str = "AP") -> pd.DataFrame:
    """One score per ``keys`` (columns naming a system), setting and language: monolingual and
    multilingual by the query language; cross-lingual and bitext as the mean over every pair the
    language takes part in."""
    keys = [k for k in keys if k != "setting"] + ["setting"]
    parts = []
    for setting, part in summary.groupby("setting", sort=False):
        if setting in PAIRED_SETTINGS:
            both = pd.concat([part.assign(language=part.query_language), part.assign(language=part.doc_language)])
        else:
            both = part.assign(language=part.query_language)
        parts.append(both.groupby(keys + ["language"], sort=False, dropna=False)[measure].mean().reset_index())
    frame = pd.concat(parts, ignore_index=True)
    frame["tier"] = frame.language.map(tier_of)
    return frame


def robustness_summary(scores: pd.DataFrame, by, measure: str = "AP") -> pd.DataFrame:
    """Per group of ``by`` (system, setting, ...): mean over languages, the worst language and its
    score, the spread (standard deviation, ddof 0) and the high-minus-low tier gap (NaN when a tier
    is missing)."""
    rows = []
    for key, part in scores.groupby(list(by), sort=False, dropna=False):
        values = part.set_index("language")[measure]
        tiers = part.groupby("tier")[measure].mean()
        worst = values.idxmin()
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "languages": len(values),
                     "mean": values.mean(), "worst": values.min(), "worst_language": worst,
                     "spread": values.std(ddof=0),
                     "high_low_gap": tiers.get("high", np.nan) - tiers.get("low", np.nan)})
    return pd.DataFrame(rows)


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a t-interval over seeds; with one seed the interval is the value itself."""
    from scipy import stats as sps

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(sps.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def over_seeds(frame: pd.DataFrame, keys, value: str) -> pd.DataFrame:
    rows = []
    for key, part in frame.groupby(list(keys), sort=True, dropna=False):
        mean, low, high = seed_interval(part[value])
        rows.append({**dict(zip(keys, key)), "mean": mean, "low": low, "high": high, "seeds": len(part)})
    return pd.DataFrame(rows)


def per_query_matrix(per_query: pd.DataFrame, setting: str, measure: str, systems: dict[str, dict]) -> pd.DataFrame:
    """Queries x systems for one setting: each query verse's measure averaged over the setting's
    languages (language copies of one verse are not independent samples). ``systems`` maps a label
    to the column values that pick its rows, e.g. ``{"alpha=0": {"alpha": 0.0, "seed": 0, ...}}``."""
    part = per_query[per_query.setting == setting]
    columns = {}
    for label, where in systems.items():
        rows = _pick(part, where)
        if rows.empty:
            raise OtclirError(f"no per-query rows for {label} ({where}) in setting {setting}")
        columns[label] = rows.groupby("query")[measure].mean()
    return pd.DataFrame(columns).dropna()


def _pick(rows: pd.DataFrame, where: dict) -> pd.DataFrame:
    """The rows whose columns hold the given values (None or NaN: an empty cell)."""
    for column, value in where.items():
        empty = value is None or (isinstance(value, float) and np.isnan(value))
        rows = rows[rows[column].isna()] if empty else rows[rows[column] == value]
    return rows


def language_query_matrix(per_query: pd.DataFrame, setting: str, where: dict, measure: str = "AP") -> pd.DataFrame:
    """Languages x queries for one system and setting: each query's measure averaged over the
    seeds (and, in the paired settings, over the pairs the language takes part in), so that a
    language's score is the row's mean (as in :func:`per_language`)."""
    rows = _pick(per_query[per_query.setting == setting], where)
    if rows.empty:
        raise OtclirError(f"no per-query rows for {where} in setting {setting}")
    if setting in PAIRED_SETTINGS:
        rows = pd.concat([rows.assign(language=rows.query_language), rows.assign(language=rows.doc_language)])
    else:
        rows = rows.assign(language=rows.query_language)
    return rows.groupby(["language", "query"])[measure].mean().unstack("query")
