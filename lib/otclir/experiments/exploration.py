"""Tables for notebook 01: languages, coverage, lengths, tokenizer statistics, relevance, splits.

Every function returns counts or statistics, never verse text, so results may be shown and stored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from otclir.data.bible import read_language, versification
from otclir.data.languages import check_languages, language_table
from otclir.data.splits import SPLITS, book_splits, split_of_book
from otclir.data.tasks import crossref_judgments
from otclir.models.tokenization import load_tokenizer, subword_stats
from otclir.settings import Settings, each, setting, text, whole


@dataclass
class ExplorationSettings(Settings):
    """Notebook 01's parameters, checked before it reads anything."""

    WHAT = "notebook 01 setting"

    languages: list[str] = setting(factory=lambda: ["en", "sw"], check=each(text(), distinct=True))
    tokenizer_models: list[str] = setting(factory=lambda: ["minilm-teacher", "e5-small-student"],
                                          check=each(text(), distinct=True))
    sample_verses: int | None = setting(1000, check=whole(1, none=True))  # the same verses in every language
    seed: int = setting(0, check=whole(0))

    def __post_init__(self):
        super().__post_init__()
        check_languages(self.languages)


def languages_overview(languages) -> pd.DataFrame:
    table = language_table().loc[check_languages(languages)]
    return table[["code", "name", "script", "tier", "version", "version_name", "licence"]].reset_index(drop=True)


def coverage(languages) -> pd.DataFrame:
    """Verses per language and how their keys compare with KJV versification."""
    rows = []
    for code in check_languages(languages):
        rows.append({"language": code, **versification(read_language(code))})
    frame = pd.DataFrame(rows)
    frame["coverage"] = (frame.shared_with_kjv / (frame.shared_with_kjv + frame.missing_from_version)).round(4)
    return frame


def sample_keys(languages, sample: int | None, seed: int):
    """Verse keys present in every language, sampled once so all languages use the same verses."""
    shared = sorted(set.intersection(*(set(read_language(c)) for c in check_languages(languages))))
    if sample is None or sample >= len(shared):
        return shared
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(shared), size=sample, replace=False)
    return [shared[i] for i in sorted(picked)]


def verse_lengths(languages, keys) -> pd.DataFrame:
    """Long table: language, tier, verse key, words, characters."""
    tiers = language_table().tier
    rows = []
    for code in check_languages(languages):
        verses = read_language(code)
        for key in keys:
            text = verses[key]
            rows.append({"language": code, "tier": tiers[code], "book": key[0],
                         "words": len(text.split()), "characters": len(text)})
    return pd.DataFrame(rows)


def tokenizer_stats(languages, models, keys) -> pd.DataFrame:
    """Fertility, split-word rate and unknown-piece rate per language and tokenizer, on the same verses."""
    tiers = language_table().tier
    rows = []
    for model in models:
        tokenizer = load_tokenizer(model)
        for code in check_languages(languages):
            verses = read_language(code)
            stats = subword_stats(tokenizer, [verses[k] for k in keys])
            rows.append({"model": model, "language": code, "tier": tiers[code], **stats})
    return pd.DataFrame(rows)


def split_overview() -> pd.DataFrame:
    """Books and verses (KJV counts) per split."""
    verses = read_language("en")
    rows = []
    for split, books in book_splits().items():
        rows.append({"split": split, "books": len(books), "first_book": min(books), "last_book": max(books),
                     "verses": sum(1 for k in verses if split_of_book(k[0]) == split)})
    return pd.DataFrame(rows)


def relevance_stats(splits=SPLITS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per split: queries with at least one within-split cross-reference and their relevant counts
    (summary table, and the long table of relevant documents per query)."""
    per_query = []
    for split in splits:
        judgments = crossref_judgments(split)
        for qid, judged in judgments.items():
            per_query.append({"split": split, "query": qid, "relevant": len(judged),
                              "reverse_also_judged": sum(1 for d in judged if qid in judgments.get(d, {}))})
    long = pd.DataFrame(per_query)
    summary = long.groupby("split", sort=False).agg(
        queries=("query", "count"), judgments=("relevant", "sum"), mean_relevant=("relevant", "mean"),
        median_relevant=("relevant", "median"), max_relevant=("relevant", "max"),
        queries_with_3_or_more=("relevant", lambda r: int((r >= 3).sum())), reverse_also_judged=("reverse_also_judged", "sum"),
    ).reset_index()
    summary["mean_relevant"] = summary.mean_relevant.round(3)
    return summary, long
