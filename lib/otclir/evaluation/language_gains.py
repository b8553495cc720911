"""Across languages: how much each objective adds to the zero-shot student, with an interval over
training seeds, beside what the language is to the student (the word pieces per word of its test
pool, the zero-shot student's share of the ceiling) and how often dev selection kept the untrained
student. Five languages make a table to read, not a correlation to test."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from otclir.errors import OtclirError

ZERO_SHOT = "student-zero-shot"
CEILING = "ceiling-teacher-on-english"


def corpus_fertility(texts: Iterable[str], tokenizer) -> float:
    """Word pieces per whitespace word over ``texts`` (``tokenizer``: the student's)."""
    words = [t.split() for t in texts if t.split()]
    n_words = sum(map(len, words))
    if not n_words:
        raise OtclirError("corpus_fertility needs at least one text with a word; the texts given are empty")
    pieces = tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    return sum(map(len, pieces)) / n_words


def seed_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean over training seeds; (nan, nan) with fewer than two."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return float("nan"), float("nan")
    half = student_t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def language_gains(results: pd.DataFrame, fertility: Mapping[str, float] | None = None, measure: str = "AP",
                   scorer: str = "mean", task: str = "crossref", budget: str | None = None) -> pd.DataFrame:
    """A row per language and trained system at ``budget`` (default: each language's largest): the
    mean gain over the zero-shot student in ``measure`` across seeds with its t interval, the
    number of seeds, how many of them dev selection kept untrained, the zero-shot student's share
    of the ceiling, and the language's fertility when given."""
    missing = {"language", "system", "scorer", measure} - set(results)
    if missing:
        raise OtclirError(f"language_gains needs result columns {sorted(missing)}; pass notebook 03's results table")
    rows = results[results.scorer == scorer]
    if "task" in rows:
        rows = rows[rows.task == task]
    if rows.empty:
        raise OtclirError(f"no results for scorer '{scorer}' and task '{task}'; "
                          f"scorers: {sorted(results.scorer.unique())}")
    out = []
    for language, part in rows.groupby("language", sort=False):
        zero = part.loc[part.system == ZERO_SHOT, measure]
        if zero.empty:
            raise OtclirError(f"language '{language}' has no {ZERO_SHOT} row to measure gains from")
        zero = float(zero.iloc[0])
        ceiling = part.loc[part.system == CEILING, measure]
        trained = part[part.system.str.contains("@", regex=False)]
        budgets = trained.system.str.rsplit("@", n=1).str[1]
        chosen = budget if budget is not None else max(budgets, key=int, default=None)
        for system, runs in trained[budgets == chosen].groupby("system", sort=False):
            gains = runs[measure].to_numpy(float) - zero
            low, high = seed_interval(gains)
            untrained = runs["selected_untrained"].astype(str).str.lower().eq("true").sum() \
                if "selected_untrained" in runs else np.nan
            out.append({"language": language, "system": system, "seeds": len(gains), "gain": gains.mean(),
                        "gain_low": low, "gain_high": high, "kept_untrained": untrained,
                        "zero_shot": zero,
                        "zero_shot_share": zero / float(ceiling.iloc[0]) if not ceiling.empty else np.nan,
                        "fertility": (fertility or {}).get(language, np.nan)})
    return pd.DataFrame(out)
