"""Evaluation of one shared dual encoder in three settings, language bias and robustness.

The pool is parallel: the same query verses and the same document verses in every evaluation
language, so settings and languages differ only in the language of the text.

- ``monolingual``: queries and documents in one language, for each language.
- ``cross-lingual``: queries in one language, documents in another, for every ordered pair
  (English to each language, each language to English, and between non-English languages).
- ``multilingual``: queries in one language against one pool holding every language's copy of
  each document (LAReQA-like); every copy of a relevant verse is relevant.

Relevant documents are the query's cross-referenced verses; the query's own verse (every copy)
is removed from its ranking. Language bias (Elmahdy et al. 2024): in the multilingual pool, the
rank distance between the best- and the worst-ranked copy of the same relevant verse, averaged
over a query's relevant verses, then over queries. Lower is less biased.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from otclir.data import trec
from otclir.data.languages import TIERS, check_languages, language
from otclir.data.tasks import judged_queries, sample_ids, sample_pool, split_verses
from otclir.errors import OtclirError
from otclir.retrieval.measures import per_query

SETTINGS = ("monolingual", "cross-lingual", "multilingual")
MEASURES = ("AP", "R@1", "R@10", "nDCG@10")
TIER_RANK = {tier: i for i, tier in enumerate(TIERS)}


def tier_of(code: str) -> str:
    return language(code).tier


def pair_tier(a: str, b: str) -> str:
    """A language pair belongs to the lower-resource tier of its two languages."""
    return min(tier_of(a), tier_of(b), key=TIER_RANK.__getitem__)


@dataclass
class ParallelPool:
    """Query verses, document verses and judgments shared by every language, with each
    language's text."""

    languages: list[str]
    queries: list[str]
    docs: list[str]
    qrels: dict[str, dict[str, int]]
    texts: dict[str, dict[str, str]]  # language -> verse id -> text
    split: str

    def stats(self) -> dict:
        return {"languages": len(self.languages), "queries": len(self.queries), "documents per language": len(self.docs),
                "judgments per language": sum(len(d) for d in self.qrels.values())}


def parallel_pool(languages, split: str = "test", max_queries: int | None = None, max_docs: int | None = None,
                  seed: int = 0) -> ParallelPool:
    """Cross-reference queries of a split and its verses, kept where every language has the
    verse; ``max_queries`` queries sampled, then documents cut to every judged verse plus seeded
    random others up to ``max_docs``."""
    languages = list(check_languages(languages))
    if not languages:
        raise OtclirError("give at least one evaluation language")
    texts = {code: split_verses(code, split) for code in languages}
    present = set.intersection(*(set(t) for t in texts.values()))
    qrels = judged_queries(split, present, lambda verse: (verse,) if verse in present else ())
    rng = np.random.default_rng(seed)
    queries = sample_ids(qrels, max_queries, rng)
    qrels = {q: qrels[q] for q in queries}
    docs = sample_pool(present, {v for rel in qrels.values() for v in rel}, max_docs, rng)
    return ParallelPool(languages, queries, docs, qrels, texts, split)


def encode_pool(encoder, pool: ParallelPool, batch_size: int = 64) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per language: query embeddings (``query`` kind) and document embeddings (``passage`` kind)."""
    out = {}
    for code in pool.languages:
        text = pool.texts[code]
        out[code] = (encoder.encode([text[q] for q in pool.queries], kind="query", batch_size=batch_size),
                     encoder.encode([text[d] for d in pool.docs], kind="passage", batch_size=batch_size))
    return out


def _rank_scores(scores: np.ndarray, doc_ids: list[str], query_ids: list[str], excluded, depth: int) -> trec.Run:
    """Top ``depth`` of each row; ``excluded(i)`` gives the column indices one query must not see."""
    run: trec.Run = {}
    for i, query in enumerate(query_ids):
        row = scores[i].astype(np.float64).copy()
        row[excluded(i)] = -np.inf
        top = np.argsort(-row, kind="stable")[:depth]
        run[query] = {doc_ids[j]: float(row[j]) for j in top if np.isfinite(row[j])}
    return run


def language_bias(scores: np.ndarray, pool: ParallelPool, languages: list[str]) -> pd.Series:
    """Per query: mean over its relevant verses of (worst rank - best rank) among the verse's copies
    in the multilingual pool (columns ordered language by language, ``pool.docs`` within each)."""
    n_docs = len(pool.docs)
    position = {v: i for i, v in enumerate(pool.docs)}
    out = {}
    for i, query in enumerate(pool.queries):
        row = scores[i].astype(np.float64).copy()
        if query in position:
            row[[k * n_docs + position[query] for k in range(len(languages))]] = -np.inf
        order = np.argsort(-row, kind="stable")
        rank = np.empty(len(row), dtype=np.int64)
        rank[order] = np.arange(1, len(row) + 1)
        distances = []
        for verse in pool.qrels[query]:
            copies = rank[[k * n_docs + position[verse] for k in range(len(languages))]]
            distances.append(int(copies.max() - copies.min()))
        out[query] = float(np.mean(distances))
    return pd.Series(out, name="language_bias").rename_axis("query")


def evaluate_settings(embeddings: dict, pool: ParallelPool, settings=SETTINGS, measures=MEASURES,
                      depth: int = 100, folder: Path | None = None, tag: str = "system") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean measures per setting and language (pair), and the per-query table behind them.

    Rows: setting, query_language, doc_language (``all`` in the multilingual pool), tier, each
    measure, and ``language_bias`` in the multilingual setting. With ``folder``, each setting's TREC
    run is written as ``<setting>/<query>-<doc>.run`` with its qrels beside it.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise OtclirError(f"unknown setting(s) {', '.join(unknown)}; settings: {', '.join(SETTINGS)}")
    langs = pool.languages
    position = {v: i for i, v in enumerate(pool.docs)}
    own = [position.get(q) for q in pool.queries]
    rows, tables = [], []

    def record(setting, q_lang, d_lang, run, qrels, tier, bias=None):
        table = per_query(qrels, run, measures)
        if bias is not None:
            table["language_bias"] = bias.reindex(table.index)
        table.insert(0, "setting", setting)
        table.insert(1, "query_language", q_lang)
        table.insert(2, "doc_language", d_lang)
        tables.append(table.reset_index())
        rows.append({"setting": setting, "query_language": q_lang, "doc_language": d_lang, "tier": tier,
                     **table.drop(columns=["setting", "query_language", "doc_language"]).mean().to_dict()})
        if folder is not None:
            base = Path(folder) / setting
            trec.write_run(base / f"{q_lang}-{d_lang}.run", run, tag=tag)
            if not (base / "qrels.txt").is_file():
                trec.write_qrels(base / "qrels.txt", qrels)

    pairs = []
    if "monolingual" in settings:
        pairs += [("monolingual", a, a) for a in langs]
    if "cross-lingual" in settings:
        pairs += [("cross-lingual", a, b) for a in langs for b in langs if a != b]
    for setting, a, b in pairs:
        scores = embeddings[a][0] @ embeddings[b][1].T
        run = _rank_scores(scores, pool.docs, pool.queries, lambda i: [own[i]] if own[i] is not None else [], depth)
        record(setting, a, b, run, pool.qrels, pair_tier(a, b))
    if "multilingual" in settings:
        ids = [f"{code}:{d}" for code in langs for d in pool.docs]
        docs = np.concatenate([embeddings[code][1] for code in langs], 0)
        qrels = setting_qrels(pool, "multilingual")
        n = len(pool.docs)
        for a in langs:
            scores = embeddings[a][0] @ docs.T
            run = _rank_scores(scores, ids, pool.queries,
                               lambda i: [k * n + own[i] for k in range(len(langs))] if own[i] is not None else [], depth)
            record("multilingual", a, "all", run, qrels, tier_of(a), language_bias(scores, pool, langs))
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True)


def setting_qrels(pool: ParallelPool, setting: str) -> dict[str, dict[str, int]]:
    """The judgments a setting ranks against: the pool's, or in the multilingual pool every
    language's copy of each relevant verse (ids ``lang:verse``)."""
    if setting != "multilingual":
        return pool.qrels
    return {q: {f"{code}:{d}": r for code in pool.languages for d, r in rel.items()} for q, rel in pool.qrels.items()}


def attainable(pool: ParallelPool, settings=SETTINGS, measures=MEASURES, depth: int | None = 100) -> pd.DataFrame:
    """The best mean each measure can reach per setting: the measures of a ranking with every
    relevant document first, cut at ``depth`` as the evaluated runs are (None: the whole pool).
    Below 1 where a query has more relevant documents than a cut-off counts (R@1 with several
    relevant verses; the multilingual pool, where every language's copy is relevant) or than the
    run's depth holds; read every score in a setting against its row here."""
    rows = []
    for setting in settings:
        qrels = setting_qrels(pool, setting)
        ideal = {q: {d: float(len(rel) - i) for i, d in enumerate(sorted(rel, key=lambda d: (-rel[d], d))[:depth])}
                 for q, rel in qrels.items()}
        rows.append({"setting": setting, **per_query(qrels, ideal, measures).mean().to_dict()})
    return pd.DataFrame(rows).set_index("setting")
