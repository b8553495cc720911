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


# ---------------------------------------------------------------- the topical task (Nave's)
def topical_reader_counts() -> dict:
    """What the reader made of Nave's module: topics read, references read, repaired and dropped
    (each reason of dropping counted)."""
    from otclir.data import naves

    found, counts = naves.topics()
    return {"topics": len(found), "references": counts.references, "repaired": counts.repaired,
            "dropped": sum(counts.dropped.values()), **{f"dropped: {why}": n for why, n in sorted(counts.dropped.items())}}


def _query_words(query: str) -> set[str]:
    return set(query.split())


def topical_stats(splits=("dev", "test"), grading: str = "graded") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per split, the topical queries: how many (names and concepts apart), their length in words,
    their relevant verses (and the share named inside a range or chapter, grade 1), and how often a
    relevant verse's English text holds a word of the query (the lexical overlap a keyword match
    can use). Returns the summary and a row per query."""
    import re

    from otclir.data.tasks import split_verses, topical_judgments

    rows = []
    for split in splits:
        docs = split_verses("en", split)
        queries, qrels, meta = topical_judgments(split, docs, grading)
        names = set(meta["names"])
        for qid, query in queries.items():
            words = _query_words(query)
            judged = qrels[qid]
            holding = sum(1 for d in judged if words & set(re.findall(r"[a-z0-9']+", docs[d].lower())))
            rows.append({"split": split, "query": qid, "kind": "name" if qid in names else "concept",
                         "words": len(query.split()), "relevant": len(judged),
                         "in_range": sum(1 for g in judged.values() if g == 1), "holding_query_word": holding})
    per_query = pd.DataFrame(rows)
    summary = per_query.groupby("split", sort=False).agg(
        queries=("query", "count"), names=("kind", lambda k: int((k == "name").sum())),
        concepts=("kind", lambda k: int((k == "concept").sum())), words_mean=("words", "mean"),
        relevant_mean=("relevant", "mean"), relevant_median=("relevant", "median"), relevant_min=("relevant", "min"),
        relevant_max=("relevant", "max"), judgments=("relevant", "sum"), in_range=("in_range", "sum"),
        holding_query_word=("holding_query_word", "sum")).reset_index()
    summary["share_in_range"] = summary.pop("in_range") / summary.judgments
    summary["share_holding_query_word"] = summary.pop("holding_query_word") / summary.judgments
    return summary.round(3), per_query


def topical_crossref_overlap(split: str = "test") -> dict:
    """How far the two relevance sources agree on a split: the share of cross-reference pairs whose
    two verses are both relevant to one topical query, and the share of topical queries whose
    relevant verses include a cross-referenced pair."""
    from itertools import combinations

    from otclir.data.tasks import split_verses, topical_judgments

    docs = split_verses("en", split)
    _, qrels, _ = topical_judgments(split, docs)
    together = {frozenset(pair) for judged in qrels.values() for pair in combinations(sorted(judged), 2)}
    crossref = {frozenset((q, d)) for q, judged in crossref_judgments(split).items() for d in judged if q != d}
    with_pair = sum(1 for judged in qrels.values()
                    if any(frozenset(p) in crossref for p in combinations(sorted(judged), 2)))
    return {"split": split, "crossref_pairs": len(crossref),
            "share_co_listed_in_a_topic": round(len(crossref & together) / len(crossref), 4),
            "topical_queries": len(qrels), "share_holding_a_crossref_pair": round(with_pair / len(qrels), 4)}


def topical_gradings(split: str = "test") -> pd.DataFrame:
    """The two ways the task can judge (``graded``: 2 for a verse named on its own, 1 inside a range
    or chapter; ``capped``: binary, verses of ranges longer than 5 left out), each with its queries,
    judgments and the score of BM25 with the English topic against the English verses."""
    import ir_measures
    from ir_measures import AP, nDCG

    from otclir.data.tasks import TOPICAL_GRADES, topical_task
    from otclir.retrieval.dictionary import bm25_dictionary_run

    rows = []
    for grading in TOPICAL_GRADES:
        task = topical_task("en", split, grading=grading)
        run = bm25_dictionary_run(task, {})  # no dictionary: the English words as they are
        qrels = [ir_measures.Qrel(q, d, r) for q, judged in task.qrels.items() for d, r in judged.items()]
        scored = [ir_measures.ScoredDoc(q, d, s) for q, docs in run.items() for d, s in docs.items()]
        scores = ir_measures.calc_aggregate([AP, nDCG @ 10], qrels, scored)
        rows.append({"grading": grading, "queries": len(task.queries), "judgments": len(qrels),
                     "relevant_mean": len(qrels) / len(task.queries), "bm25_english_AP": scores[AP],
                     "bm25_english_nDCG@10": scores[nDCG @ 10]})
    return pd.DataFrame(rows).set_index("grading").round(4)
