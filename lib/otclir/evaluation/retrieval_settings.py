"""Evaluation of one shared dual encoder in three settings, language bias and robustness.

The pool is parallel: the same query verses and the same document verses in every evaluation
language, so settings and languages differ only in the language of the text.

- ``monolingual``: queries and documents in one language, for each language.
- ``cross-lingual``: queries in one language, documents in another, for every ordered pair
  (English to each language, each language to English, and between non-English languages).
- ``multilingual``: queries in one language against one pool holding every language's copy of
  each document (LAReQA-like); every copy of a relevant verse is relevant.
- ``bitext`` (XTREME-R-like bitext retrieval, asked for by name): each document verse of the pool
  in one language against every pool verse in another; its own translation is the one relevant
  verse, so AP is the reciprocal rank (MRR) and R@1 is P@1. Pairs: each language to English and
  English to each language (every ordered pair when English is not evaluated).

Relevant documents are the query's cross-referenced verses; the query's own verse (every copy)
is removed from its ranking. Language bias (Elmahdy et al. 2024): in the multilingual pool, the
rank distance between the best- and the worst-ranked copy of the same relevant verse, averaged
over a query's relevant verses, then over queries. Lower is less biased. Beside it, measured at
the top of the ranking (:mod:`otclir.evaluation.language_fairness`): the same distance within the
top 100, the share of the top 10 each language takes, and PEER at 100.

Two training-free merges of the per-language rankings rival a trained model's fairness: they rank
the multilingual pool from each language's own ranking of its copies. ``multilingual-round-robin``
takes each language's next best in turn (the pool's language order); ``multilingual-normalised``
ranks by each score standardised within its language (mean 0, unit spread per query and language).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from otclir import checks
from otclir.data import trec
from otclir.data.languages import TIERS, check_languages, language
from otclir.data.tasks import judged_queries, sample_ids, sample_pool, split_verses
from otclir.errors import OtclirError
from otclir.evaluation import language_fairness
from otclir.retrieval.measures import per_query
from otclir.settings import choice, each

DEFAULT_SETTINGS = ("monolingual", "cross-lingual", "multilingual")  # evaluated unless a grid names its settings
MERGED_SETTINGS = ("multilingual-round-robin", "multilingual-normalised")  # training-free merges of the pool
RETRIEVAL_SETTINGS = DEFAULT_SETTINGS + ("bitext",) + MERGED_SETTINGS
FAIRNESS_CUTOFF, FAIRNESS_TOP = 100, 10  # PEER and the rank distance within the top 100; shares of the top 10
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
    query_texts: dict[str, dict[str, str]] | None = None  # language -> query id -> text, where queries are not verses

    @property
    def query_languages(self) -> list[str]:
        return self.languages if self.query_texts is None else [c for c in self.languages if c in self.query_texts]

    def query_text(self, code: str, query: str) -> str:
        return (self.texts if self.query_texts is None else self.query_texts)[code][query]

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


def parallel_pools(languages, tasks=("crossref",), split: str = "test", max_queries: int | None = None,
                   max_docs: int | None = None, seed: int = 0) -> dict[str, ParallelPool]:
    """One pool per task over the same document verses (so every model encodes them once for all
    tasks): the cross-reference pool of :func:`parallel_pool`, and for ``topical`` Nave's English
    topics with 3 to 100 of their verses among the pool's (``max_queries`` of them sampled with
    their own seeded draw); documents cut to every verse some task judges plus random others."""
    from otclir.data.tasks import check_tasks, topical_judgments

    check_tasks(tasks)
    languages = list(check_languages(languages))
    if not languages:
        raise OtclirError("give at least one evaluation language")
    texts = {code: split_verses(code, split) for code in languages}
    present = set.intersection(*(set(t) for t in texts.values()))
    rng = np.random.default_rng(seed)
    chosen = {}
    if "crossref" in tasks:
        qrels = judged_queries(split, present, lambda verse: (verse,) if verse in present else ())
        queries = sample_ids(qrels, max_queries, rng)
        chosen["crossref"] = ({q: qrels[q] for q in queries}, None)
    if "topical" in tasks:
        topics, qrels, _ = topical_judgments(split, present)
        queries = sample_ids(qrels, max_queries, np.random.default_rng([seed, 1]))
        chosen["topical"] = ({q: qrels[q] for q in queries}, {"en": {q: topics[q] for q in queries}})
    judged = {v for qrels, _ in chosen.values() for rel in qrels.values() for v in rel}
    docs = sample_pool(present, judged, max_docs, rng)
    return {task: ParallelPool(languages, list(qrels), docs, qrels, texts, split, query_texts)
            for task, (qrels, query_texts) in ((t, chosen[t]) for t in tasks)}


def encode_pool(encoder, pool: ParallelPool, batch_size: int = 64) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per language: query embeddings (``query`` kind) and document embeddings (``passage`` kind),
    encoded once and shared by every setting; a student with frozen layers continues from the
    base model's states of the pool, computed once per process for all such students."""
    from otclir.models.state_cache import encode_sharing

    out = {}
    for code in pool.languages:
        text = pool.texts[code]
        queries = (encode_sharing(encoder, [pool.query_text(code, q) for q in pool.queries], "query", batch_size=batch_size)
                   if code in pool.query_languages else None)
        out[code] = (queries, encode_sharing(encoder, [text[d] for d in pool.docs], "passage", batch_size=batch_size))
    return out


def _rank_scores(scores: np.ndarray, doc_ids: list[str], query_ids: list[str], excluded, depth: int) -> trec.Run:
    """Top ``depth`` of each row, ties by pool order; ``excluded(i)`` gives the column indices one
    query must not see. A partial sort finds every document scored at least the ``depth``-th best,
    and only those are ordered."""
    run: trec.Run = {}
    for i, query in enumerate(query_ids):
        row = scores[i].astype(np.float64).copy()
        row[excluded(i)] = -np.inf
        k = min(depth, len(row))
        part = np.flatnonzero(row >= -np.partition(-row, k - 1)[k - 1]) if k < len(row) else np.arange(len(row))
        top = part[np.lexsort((part, -row[part]))][:k]
        run[query] = {doc_ids[j]: float(row[j]) for j in top if np.isfinite(row[j])}
    return run


def _stable_ranks(row: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The 1-based ranks of ``columns`` (any shape) in the row's descending order, ties by column
    order (as a stable sort gives them): 1 + columns scored higher + columns scored the same
    that come earlier."""
    values = row[columns][..., None]
    earlier = np.arange(len(row)) < columns[..., None]
    return 1 + (row > values).sum(-1) + ((row == values) & earlier).sum(-1)


FULL_POOL_MEASURE = re.compile(r"^(AP|RR|nDCG@\d+|R@\d+|P@\d+|Success@\d+)$")


def full_pool_measures(scores: np.ndarray, doc_ids: list[str], query_ids: list[str], excluded,
                       qrels: dict[str, dict[str, int]], measures) -> pd.DataFrame:
    """Per query, measures of the ranking of the whole pool (every column but the excluded),
    computed from the ranks of the relevant documents alone, so no run of the whole pool is built.
    Ties are broken by pool order (trec_eval breaks them by document id). AP, R@k, P@k and
    Success@k count documents of grade > 0; nDCG@k uses the grades as gains, as trec_eval does."""
    bad = [m for m in measures if not FULL_POOL_MEASURE.match(m)]
    if bad:
        raise OtclirError(f"measure(s) {', '.join(bad)} cannot be computed over the whole pool; "
                          "use AP, RR, nDCG@k, R@k, P@k or Success@k, or set a depth")
    column = {d: j for j, d in enumerate(doc_ids)}
    rows = {}
    for i, query in enumerate(query_ids):
        judged = {d: r for d, r in qrels.get(query, {}).items() if r > 0 and d in column}
        if not judged:
            continue
        row = scores[i].astype(np.float64).copy()
        row[excluded(i)] = -np.inf
        relevant = np.array([column[d] for d in judged])
        ranks = _stable_ranks(row, relevant)
        order = np.argsort(ranks)
        ranks, grades = ranks[order], np.array([judged[doc_ids[j]] for j in relevant[order]], dtype=float)
        out = {}
        for name in measures:
            kind, _, cut = name.partition("@")
            k = int(cut) if cut else None
            if kind == "AP":
                out[name] = float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
            elif kind == "RR":
                out[name] = float(1.0 / ranks[0])
            elif kind == "R":
                out[name] = float((ranks <= k).sum() / len(ranks))
            elif kind == "P":
                out[name] = float((ranks <= k).sum() / k)
            elif kind == "Success":
                out[name] = float(ranks[0] <= k)
            else:  # nDCG@k
                top = ranks <= k
                dcg = float((grades[top] / np.log2(ranks[top] + 1)).sum())
                ideal = np.sort(grades)[::-1][:k]
                out[name] = dcg / float((ideal / np.log2(np.arange(2, len(ideal) + 2))).sum())
        rows[query] = out
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(measures))
    return table.rename_axis("query").sort_index()


def language_bias(scores: np.ndarray, pool: ParallelPool, languages: list[str]) -> pd.Series:
    """Per query: mean over its relevant verses of (worst rank - best rank) among the verse's copies
    in the multilingual pool (columns ordered language by language, ``pool.docs`` within each)."""
    return multilingual_fairness(scores, pool, languages, cutoff=None)["language_bias"]


def multilingual_fairness(scores: np.ndarray, pool: ParallelPool, languages: list[str],
                          cutoff: int | None = FAIRNESS_CUTOFF, top: int = FAIRNESS_TOP) -> pd.DataFrame:
    """Per query, the language fairness of its ranking of the multilingual pool (columns ordered
    language by language, ``pool.docs`` within each; the query's own verse removed): the rank
    distance over the whole pool (``language_bias``) and, with ``cutoff``, within the top
    ``cutoff`` (``language_bias@<cutoff>``), the share of the top ``top`` slots each language takes
    (``top<top>:<language>``) and how far those shares are from equal (``top<top>_skew``), and
    PEER at ``cutoff`` (``PEER@<cutoff>``). Ties go by column order, as in the measures."""
    n_docs, n_languages = len(pool.docs), len(languages)
    position = {v: i for i, v in enumerate(pool.docs)}
    rows = {}
    for i, query in enumerate(pool.queries):
        row = scores[i].astype(np.float64).copy()
        if query in position:
            row[[k * n_docs + position[query] for k in range(n_languages)]] = -np.inf
        copies = np.array([[k * n_docs + position[v] for k in range(n_languages)] for v in pool.qrels[query]])
        ranks = _stable_ranks(row, copies)
        out = {"language_bias": language_fairness.rank_distance(ranks)}
        if cutoff is not None:
            out[f"language_bias@{cutoff}"] = language_fairness.rank_distance(ranks, cutoff)
            k = min(top, len(row))
            candidates = np.flatnonzero(row >= -np.partition(-row, k - 1)[k - 1])
            best = candidates[np.lexsort((candidates, -row[candidates]))][:k]
            shares = language_fairness.top_shares(best // n_docs, n_languages)
            out.update({f"top{top}:{code}": float(share) for code, share in zip(languages, shares)})
            out[f"top{top}_skew"] = language_fairness.share_skew(shares)
            out[f"PEER@{cutoff}"] = language_fairness.peer(ranks.T, cutoff)
        rows[query] = out
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("query")


def merged_scores(scores: np.ndarray, n_languages: int, how: str, excluded=None) -> np.ndarray:
    """Scores that rank the multilingual pool by merging each language's own ranking of its block
    of columns (``scores``: queries x (languages x documents), language by language): ``round-robin``
    interleaves the blocks' rankings (best of each language in the pool's language order, then the
    second best, ...); ``normalised`` standardises each block's scores per query. ``excluded(i)``
    gives the columns query ``i`` must not see (they rank last in their block).

    >>> import numpy as np
    >>> scores = np.array([[0.9, 0.8, 0.3, 0.2]])  # one query; two languages of two documents
    >>> merged_scores(scores, 2, 'round-robin').argsort()[0, ::-1].tolist()
    [0, 2, 1, 3]
    """
    checks.array(scores, "scores", ndim=2)
    checks.whole(n_languages, "n_languages", 1)
    checks.one_of(how, "how", ("round-robin", "normalised"))
    if how not in ("round-robin", "normalised"):
        raise OtclirError(f"unknown merge {how!r}; use round-robin or normalised")
    n_queries, width = scores.shape
    if n_languages < 1 or width % n_languages:
        raise OtclirError(f"{width} columns do not split into {n_languages} equal language blocks")
    n_docs = width // n_languages
    blocks = scores.astype(np.float64).reshape(n_queries, n_languages, n_docs).copy()
    if excluded is not None:
        for i in range(n_queries):
            for column in excluded(i):
                blocks[i, column // n_docs, column % n_docs] = -np.inf
    if how == "normalised":
        finite = np.where(np.isfinite(blocks), blocks, np.nan)
        spread = np.nanstd(finite, axis=2, keepdims=True)
        merged = (blocks - np.nanmean(finite, axis=2, keepdims=True)) / np.where(spread > 0, spread, 1.0)
        return merged.reshape(n_queries, width)
    order = np.argsort(-blocks, axis=2, kind="stable")  # ties by column order within a block
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n_docs)[None, None, :], axis=2)
    merged = -(ranks * n_languages + np.arange(n_languages)[None, :, None]).astype(np.float64)
    return merged.reshape(n_queries, width)


def evaluate_settings(embeddings: dict, pool: ParallelPool, settings=DEFAULT_SETTINGS, measures=MEASURES,
                      depth: int | None = 100, folder: Path | None = None, tag: str = "system",
                      run_depth: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean measures per setting and language (pair), and the per-query table behind them.

    Rows: setting, query_language, doc_language (``all`` in the multilingual pool), tier, each
    measure, and ``language_bias`` in the multilingual setting. A language whose query embeddings
    are None asks nothing (the topical task's queries are English only); bitext retrieval, which
    needs no query, is computed only where every language asks. Measures are of the top ``depth``
    (through ir_measures), or of the whole pool with ``depth=None``. With ``folder``, each
    setting's TREC run is written as ``<setting>/<query>-<doc>.run`` with its qrels beside it
    (cut at ``run_depth`` when the whole pool is ranked; 0 writes no runs).
    """
    check_settings(settings)
    langs = pool.languages
    position = {v: i for i, v in enumerate(pool.docs)}
    own = [position.get(q) for q in pool.queries]
    rows, tables = [], []

    def record(setting, q_lang, d_lang, scores, doc_ids, query_ids, excluded, qrels, tier, fairness=None):
        run = None
        if depth is None:
            table = full_pool_measures(scores, doc_ids, query_ids, excluded, qrels, measures)
        else:
            run = _rank_scores(scores, doc_ids, query_ids, excluded, depth)
            table = per_query(qrels, run, measures)
        if fairness is not None:
            table = table.join(fairness)
        table.insert(0, "setting", setting)
        table.insert(1, "query_language", q_lang)
        table.insert(2, "doc_language", d_lang)
        tables.append(table.reset_index())
        rows.append({"setting": setting, "query_language": q_lang, "doc_language": d_lang, "tier": tier,
                     **table.drop(columns=["setting", "query_language", "doc_language"]).mean().to_dict()})
        if folder is not None and (run is not None or run_depth):
            base = Path(folder) / setting
            run = run if run is not None else _rank_scores(scores, doc_ids, query_ids, excluded, run_depth)
            trec.write_run(base / f"{q_lang}-{d_lang}.run", run, tag=tag)
            if not (base / "qrels.txt").is_file():
                trec.write_qrels(base / "qrels.txt", qrels)

    def not_own(i):
        return [own[i]] if own[i] is not None else []

    asking = [code for code in langs if embeddings[code][0] is not None]  # languages the queries are in
    pairs = []
    if "monolingual" in settings:
        pairs += [("monolingual", a, a) for a in asking]
    if "cross-lingual" in settings:
        pairs += [("cross-lingual", a, b) for a in asking for b in langs if a != b]
    for setting, a, b in pairs:
        record(setting, a, b, embeddings[a][0] @ embeddings[b][1].T, pool.docs, pool.queries, not_own, pool.qrels,
               pair_tier(a, b))
    pooled = [s for s in ("multilingual", *MERGED_SETTINGS) if s in settings]
    if pooled:
        ids = [f"{code}:{d}" for code in langs for d in pool.docs]
        docs = np.concatenate([embeddings[code][1] for code in langs], 0)
        qrels = setting_qrels(pool, "multilingual")
        n = len(pool.docs)

        def own_copies(i):
            return [k * n + own[i] for k in range(len(langs))] if own[i] is not None else []

        for a in asking:
            scores = embeddings[a][0] @ docs.T
            for setting in pooled:
                ranked = scores if setting == "multilingual" else \
                    merged_scores(scores, len(langs), setting.removeprefix("multilingual-"), own_copies)
                record(setting, a, "all", ranked, ids, pool.queries, own_copies, qrels, tier_of(a),
                       multilingual_fairness(ranked, pool, langs))
    if "bitext" in settings and len(asking) == len(langs):  # document to document: the same for every task
        qrels = setting_qrels(pool, "bitext")
        for a, b in bitext_language_pairs(langs):
            record("bitext", a, b, embeddings[a][1] @ embeddings[b][1].T, pool.docs, pool.docs, lambda i: [], qrels,
                   pair_tier(a, b))
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True)


def check_settings(settings) -> None:
    each(choice(RETRIEVAL_SETTINGS, "settings"), distinct=True)("settings", list(settings))


def bitext_language_pairs(languages) -> list[tuple[str, str]]:
    """The (source, target) language pairs of the bitext setting."""
    if "en" in languages:
        others = [code for code in languages if code != "en"]
        return [(code, "en") for code in others] + [("en", code) for code in others]
    return [(a, b) for a in languages for b in languages if a != b]


def setting_qrels(pool: ParallelPool, setting: str) -> dict[str, dict[str, int]]:
    """The judgments a setting ranks against: the pool's; in the multilingual pool every
    language's copy of each relevant verse (ids ``lang:verse``); in the bitext setting each
    document verse's own translation."""
    if setting == "bitext":
        return {d: {d: 1} for d in pool.docs}
    if setting not in ("multilingual", *MERGED_SETTINGS):
        return pool.qrels
    return {q: {f"{code}:{d}": r for code in pool.languages for d, r in rel.items()} for q, rel in pool.qrels.items()}


def attainable(pool: ParallelPool, settings=DEFAULT_SETTINGS, measures=MEASURES, depth: int | None = 100) -> pd.DataFrame:
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
