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

from . import trec
from .errors import OtclirError
from .evaluation import per_query
from .languages import TIERS, check_languages, language

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
    from .hybrid import relevance, split_texts

    languages = list(check_languages(languages))
    if not languages:
        raise OtclirError("give at least one evaluation language")
    texts = {code: split_texts(code, split) for code in languages}
    present = sorted(set.intersection(*(set(t) for t in texts.values())))
    present_set = set(present)
    qrels = {}
    for query, relevant in sorted(relevance(split).items()):
        judged = sorted(v for v in relevant if v in present_set)
        if query in present_set and judged:
            qrels[query] = {v: 1 for v in judged}
    queries = sorted(qrels)
    rng = np.random.default_rng(seed)
    if max_queries is not None and max_queries < len(queries):
        queries = sorted(rng.choice(queries, size=max_queries, replace=False).tolist())
    qrels = {q: qrels[q] for q in queries}
    docs = present
    if max_docs is not None and max_docs < len(present):
        judged = sorted({v for rel in qrels.values() for v in rel})
        others = sorted(present_set - set(judged))
        extra = rng.choice(len(others), size=min(len(others), max(0, max_docs - len(judged))), replace=False)
        docs = sorted(set(judged) | {others[i] for i in extra})
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
        qrels = {q: {f"{code}:{d}": r for code in langs for d, r in rel.items()} for q, rel in pool.qrels.items()}
        n = len(pool.docs)
        for a in langs:
            scores = embeddings[a][0] @ docs.T
            run = _rank_scores(scores, ids, pool.queries,
                               lambda i: [k * n + own[i] for k in range(len(langs))] if own[i] is not None else [], depth)
            record("multilingual", a, "all", run, qrels, tier_of(a), language_bias(scores, pool, langs))
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True)


def per_language(summary: pd.DataFrame, keys, measure: str = "AP") -> pd.DataFrame:
    """One score per ``keys`` (columns naming a system), setting and language: monolingual and
    multilingual by the query language; cross-lingual as the mean over every pair the language
    takes part in."""
    keys = [k for k in keys if k != "setting"] + ["setting"]
    parts = []
    for setting, part in summary.groupby("setting", sort=False):
        if setting == "cross-lingual":
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


# ------------------------------------------------------------ grid analysis
GRID_KEYS = ("alpha", "ot_weight", "train_pairs")


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a t-interval over seeds; with one seed the interval is the value itself."""
    from scipy import stats as sps

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(sps.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def _over_seeds(frame: pd.DataFrame, keys, value: str) -> pd.DataFrame:
    rows = []
    for key, part in frame.groupby(list(keys), sort=True, dropna=False):
        mean, low, high = seed_interval(part[value])
        rows.append({**dict(zip(keys, key)), "mean": mean, "low": low, "high": high, "seeds": len(part)})
    return pd.DataFrame(rows)


def trained_only(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary.system == "trained"]


def tier_curves(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """Per grid point, setting and tier: the tier's mean score (languages as in
    :func:`per_language`), averaged over seeds with a 95% t-interval."""
    scores = per_language(trained_only(summary), list(GRID_KEYS) + ["seed"], measure)
    tiers = scores.groupby(list(GRID_KEYS) + ["seed", "setting", "tier"], dropna=False)[measure].mean().reset_index()
    return _over_seeds(tiers, list(GRID_KEYS) + ["setting", "tier"], measure)


def bias_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """Language bias in the multilingual pool per grid point (mean over query languages), over seeds."""
    multi = trained_only(summary)
    multi = multi[multi.setting == "multilingual"]
    per_seed = multi.groupby(list(GRID_KEYS) + ["seed"], dropna=False).language_bias.mean().reset_index()
    return _over_seeds(per_seed, list(GRID_KEYS), "language_bias")


def zero_shot_tiers(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """The untrained student's tier means per setting (the reference lines)."""
    base = summary[summary.system == "zero-shot"]
    if base.empty:
        return pd.DataFrame(columns=["setting", "tier", measure])
    scores = per_language(base, ["system"], measure)
    return scores.groupby(["setting", "tier"])[measure].mean().reset_index()


def robustness_table(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """Mean, worst language, spread and high-low gap per system and setting, each language's score
    averaged over seeds first. The untrained student is the row with empty grid columns."""
    scores = per_language(summary, ["system", *GRID_KEYS, "seed"], measure)
    scores = scores.groupby(["system", *GRID_KEYS, "setting", "language", "tier"], dropna=False, sort=False)[measure] \
        .mean().reset_index()
    return robustness_summary(scores, ["system", *GRID_KEYS, "setting"], measure)


def per_query_matrix(per_query: pd.DataFrame, setting: str, measure: str, systems: dict[str, dict]) -> pd.DataFrame:
    """Queries x systems for one setting: each query verse's measure averaged over the setting's
    languages (language copies of one verse are not independent samples). ``systems`` maps a label
    to the column values that pick its rows, e.g. ``{"alpha=0": {"alpha": 0.0, "seed": 0, ...}}``."""
    part = per_query[per_query.setting == setting]
    columns = {}
    for label, where in systems.items():
        rows = part
        for column, value in where.items():
            rows = rows[rows[column].isna()] if value is None or (isinstance(value, float) and np.isnan(value)) \
                else rows[rows[column] == value]
        if rows.empty:
            raise OtclirError(f"no per-query rows for {label} ({where}) in setting {setting}")
        columns[label] = rows.groupby("query")[measure].mean()
    return pd.DataFrame(columns).dropna()
