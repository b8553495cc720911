"""Retrieval tasks built from the Bibles: cross-reference CLIR, bitext retrieval, multilingual pool.

Every builder is deterministic (sampling is seeded) and returns a :class:`RetrievalTask`,
the one in-memory form that external collections (:mod:`otclir.data.external`) load into too.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from otclir import checks
from otclir.data import trec
from otclir.data.bible import cross_references, read_language, verse_id
from otclir.data.languages import check_languages, known_languages
from otclir.data.splits import books_of, check_split
from otclir.errors import OtclirError
from otclir.paths import data_dir, outputs_dir

TASK_KINDS = ("crossref", "topical", "bitext", "multilingual")


@dataclass
class RetrievalTask:
    """Queries, documents and judgments (graded where a collection grades them); ``exclude`` removes documents from one query's ranking."""

    name: str
    queries: dict[str, str]
    docs: dict[str, str]
    qrels: dict[str, dict[str, int]]
    exclude: dict[str, set[str]] = field(default_factory=dict)
    doc_language: dict[str, str] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def stats(self) -> dict:
        rel = [sum(1 for r in judged.values() if r > 0) for judged in self.qrels.values()]
        return {
            "queries": len(self.queries),
            "documents": len(self.docs),
            "judgments": int(sum(rel)),
            "relevant_per_query_mean": round(float(np.mean(rel)), 3) if rel else 0.0,
            "relevant_per_query_min": int(min(rel)) if rel else 0,
            "relevant_per_query_max": int(max(rel)) if rel else 0,
        }

    def save(self, folder: Path | str | None = None) -> Path:
        folder = Path(folder) if folder else outputs_dir("derived", "tasks", self.name)
        folder.mkdir(parents=True, exist_ok=True)
        trec.write_tsv(folder / "queries.tsv", self.queries)
        trec.write_tsv(folder / "docs.tsv", self.docs)
        trec.write_qrels(folder / "qrels.txt", self.qrels)
        meta = dict(self.meta, name=self.name, stats=self.stats())
        meta["exclude"] = {q: sorted(d) for q, d in sorted(self.exclude.items())}
        if self.doc_language:
            meta["doc_language"] = dict(sorted(self.doc_language.items()))
        (folder / "task.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "RetrievalTask":
        folder = Path(folder)
        meta = json.loads((folder / "task.json").read_text(encoding="utf-8"))
        exclude = {q: set(d) for q, d in meta.pop("exclude", {}).items()}
        doc_language = meta.pop("doc_language", {})
        name = meta.pop("name")
        meta.pop("stats", None)
        return cls(
            name=name,
            queries=trec.read_tsv(folder / "queries.tsv"),
            docs=trec.read_tsv(folder / "docs.tsv"),
            qrels=trec.read_qrels(folder / "qrels.txt"),
            exclude=exclude,
            doc_language=doc_language,
            meta=meta,
        )


@lru_cache(maxsize=32)
def _split_verses_cached(code: str, split: str) -> dict[str, str]:
    books = set(books_of(check_split(split)))
    return {verse_id(k): t for k, t in read_language(code).items() if k[0] in books}


def split_verses(code: str, split: str) -> dict[str, str]:
    """Verse id -> text of one language's verses in a split (a fresh dict over a cached read)."""
    return dict(_split_verses_cached(code, split))


def crossref_judgments(split: str) -> dict[str, dict[str, int]]:
    """Within-split cross-references as binary judgments (bible.db stores every reference in both
    directions, so mutuality carries no grade)."""
    books = set(books_of(check_split(split)))
    refs = cross_references()
    inside = refs[refs.source_book.isin(books) & refs.target_book.isin(books)]
    judged: dict[str, dict[str, int]] = {}
    for source, target in sorted(zip(inside.source, inside.target)):
        judged.setdefault(source, {})[target] = 1
    return judged


def relevant_verses(split: str) -> dict[str, frozenset[str]]:
    """Query verse -> the verses it cross-references, within a split."""
    return {q: frozenset(d for d, r in docs.items() if r > 0) for q, docs in crossref_judgments(split).items()}


def sample_ids(ids, size: int | None, rng: np.random.Generator) -> list[str]:
    """``size`` ids drawn without replacement from the sorted ids, sorted; all when ``size`` is None
    or not smaller than their number (no draw then)."""
    ids = sorted(ids)
    if size is None or size >= len(ids):
        return ids
    return sorted(rng.choice(ids, size=size, replace=False).tolist())


def sample_pool(docs, judged, max_docs: int | None, rng: np.random.Generator) -> list[str]:
    """A document pool of at most about ``max_docs``: every judged document plus random others up
    to ``max_docs`` (all judged ones stay even past it), sorted; all documents when ``max_docs`` is
    None or not smaller than their number."""
    docs = sorted(docs)
    if max_docs is None or max_docs >= len(docs):
        return docs
    judged = sorted(set(judged) & set(docs))
    others = sorted(set(docs) - set(judged))
    extra = min(len(others), max(0, max_docs - len(judged)))
    picked = rng.choice(len(others), size=extra, replace=False) if extra else []
    return sorted(set(judged) | {others[i] for i in picked})


def judged_queries(split: str, query_verses, relevant_ids, min_relevant: int = 1) -> dict[str, dict[str, int]]:
    """Cross-reference judgments of a split whose query verse is in ``query_verses``, each target
    verse mapped to document ids by ``relevant_ids(verse) -> ids`` (none: not in the pool), kept
    where at least ``min_relevant`` judged verses are in the pool. Every task builder uses it."""
    qrels = {}
    for source, targets in crossref_judgments(split).items():
        present = {t: r for t, r in targets.items() if relevant_ids(t)}
        if source in query_verses and len(present) >= min_relevant:
            qrels[source] = {doc: r for t, r in present.items() for doc in relevant_ids(t)}
    return qrels


def _judged_task(kind: str, split: str, query_language: str, doc_languages: list[str], docs: dict[str, str],
                 relevant_ids, exclude_of, min_relevant: int, max_queries: int | None, seed: int,
                 doc_language: dict[str, str] | None = None) -> RetrievalTask:
    """A cross-reference task over a document pool: judgments by :func:`judged_queries`, seeded
    queries, each query's own verse (its ids by ``exclude_of``) left out of its ranking."""
    query_text = split_verses(query_language, split)
    qrels = judged_queries(split, query_text, relevant_ids, min_relevant)
    chosen = sample_ids(qrels, max_queries, np.random.default_rng(seed))
    return RetrievalTask(
        name=f"{kind}/{split}/{query_language}-{'+'.join(doc_languages)}",
        queries={q: query_text[q] for q in chosen},
        docs=docs,
        qrels={q: qrels[q] for q in chosen},
        exclude={q: set(exclude_of(q)) for q in chosen if exclude_of(q)},
        doc_language=doc_language or {},
        meta={"kind": kind, "split": split, "query_language": query_language, "doc_languages": doc_languages,
              "min_relevant": min_relevant, "max_queries": max_queries, "seed": seed},
    )


def crossref_task(language: str, split: str = "test", query_language: str = "en", min_relevant: int = 1,
                  max_queries: int | None = None, seed: int = 0) -> RetrievalTask:
    """Headline task: a query verse in ``query_language``, documents are ``language`` verses of the
    split's books, relevant are the verses it cross-references; its own translation is excluded."""
    check_languages([language, query_language])
    check_split(split)
    docs = split_verses(language, split)

    def in_pool(verse):
        return (verse,) if verse in docs else ()

    return _judged_task("crossref", split, query_language, [language], docs, in_pool, in_pool, min_relevant,
                        max_queries, seed)


TOPICAL_RELEVANT = (3, 100)  # topics with this many referenced verses in the pool's books become queries
TOPICAL_GRADES = ("graded", "capped")


def topical_judgments(split: str, docs, grading: str = "graded", range_cap: int = 5) -> tuple[dict, dict, dict]:
    """Nave's topics as (queries, qrels, meta) over the verses ``docs`` of a split: a verse is
    relevant to a topic when the topic names it; ``graded``: 2 for a verse named on its own, 1 for
    one inside a range or a whole chapter; ``capped``: binary, verses of ranges longer than
    ``range_cap`` left out. Topics with 3 to 100 relevant verses there are kept."""
    from otclir.data import naves

    if grading not in TOPICAL_GRADES:
        raise OtclirError(f"unknown grading '{grading}'; gradings: {', '.join(TOPICAL_GRADES)}")
    books = set(books_of(check_split(split)))
    queries, qrels, names = {}, {}, []
    low, high = TOPICAL_RELEVANT
    for topic in naves.topics()[0]:
        inside = {v: span for v, span in topic.references.items() if int(v[:2]) in books and v in docs}
        if grading == "graded":
            judged = {v: 2 if span == 1 else 1 for v, span in inside.items()}
        else:
            judged = {v: 1 for v, span in inside.items() if span <= range_cap}
        if low <= len(judged) <= high:
            qid = "nave-" + re.sub(r"[^a-z0-9]+", "-", topic.key.lower()).strip("-")
            queries[qid], qrels[qid] = topic.query, judged
            if naves.is_name(topic.query):
                names.append(qid)
    return queries, qrels, {"names": sorted(names), "grading": grading}


def topical_task(language: str, split: str = "test", query_language: str = "en", max_queries: int | None = None,
                 seed: int = 0, grading: str = "graded") -> RetrievalTask:
    """The second relevance source: an English topic of Nave's Topical Bible (``hospitality``) as the
    query, the split's ``language`` verses as documents, the verses the topic names as relevant
    (:func:`topical_judgments`). ``meta["names"]`` lists the topics that are proper names."""
    check_languages([language, query_language])
    if query_language != "en":
        raise OtclirError(f"Nave's topics are English; the topical task's queries cannot be in '{query_language}'")
    docs = split_verses(language, split)
    queries, qrels, meta = topical_judgments(split, docs, grading)
    chosen = sample_ids(qrels, max_queries, np.random.default_rng(seed))
    return RetrievalTask(
        name=f"topical/{split}/{query_language}-{language}",
        queries={q: queries[q] for q in chosen}, docs=docs, qrels={q: qrels[q] for q in chosen},
        meta={"kind": "topical", "split": split, "query_language": query_language, "doc_languages": [language],
              "max_queries": max_queries, "seed": seed, "grading": meta["grading"],
              "names": [q for q in meta["names"] if q in set(chosen)]},
    )


def bitext_task(
    language: str,
    split: str = "test",
    query_language: str = "en",
    max_queries: int | None = None,
    seed: int = 0,
) -> RetrievalTask:
    """Find a verse's translation (Tatoeba-like): the one relevant document is the same verse."""
    check_languages([language, query_language])
    query_text = split_verses(query_language, split)
    docs = split_verses(language, split)
    chosen = sample_ids([v for v in query_text if v in docs], max_queries, np.random.default_rng(seed))
    return RetrievalTask(
        name=f"bitext/{split}/{query_language}-{language}",
        queries={q: query_text[q] for q in chosen},
        docs=docs,
        qrels={q: {q: 1} for q in chosen},
        meta={"kind": "bitext", "split": split, "query_language": query_language,
              "doc_languages": [language], "max_queries": max_queries, "seed": seed},
    )


def multilingual_task(languages: list[str] | None = None, split: str = "test", query_language: str = "en",
                      min_relevant: int = 1, max_queries: int | None = None, seed: int = 0) -> RetrievalTask:
    """One pool of documents in several languages (LAReQA-like): every language's copy of a
    cross-referenced verse is relevant; the query's own verse is excluded in every language.
    Document ids are ``lang:BBCCCVVV``."""
    languages = sorted(check_languages(languages or known_languages()))
    check_split(split)
    per_lang = {code: split_verses(code, split) for code in languages}
    docs, doc_language = {}, {}
    for code in languages:
        for vid, text in per_lang[code].items():
            docs[f"{code}:{vid}"] = text
            doc_language[f"{code}:{vid}"] = code

    def copies(verse):
        return [f"{code}:{verse}" for code in languages if verse in per_lang[code]]

    return _judged_task("multilingual", split, query_language, languages, docs, copies, copies, min_relevant,
                        max_queries, seed, doc_language)


BIBLE_TASKS = {"crossref": crossref_task, "topical": topical_task}  # a new task: its builder, one entry here


def check_tasks(names) -> list[str]:
    from otclir.settings import choice, each

    each(choice(BIBLE_TASKS, "tasks"), distinct=True)("tasks", list(names))
    return list(names)


def bible_task(name: str, language: str, split: str = "test", query_language: str = "en",
               max_queries: int | None = None, seed: int = 0) -> RetrievalTask:
    """A Bible task by name (:data:`BIBLE_TASKS`)."""
    checks.one_of(name, "name", tuple(BIBLE_TASKS))
    checks.whole(max_queries, "max_queries", 1, optional=True)
    checks.whole(seed, "seed", 0)
    if name not in BIBLE_TASKS:
        raise OtclirError(f"unknown task '{name}'; tasks: {', '.join(BIBLE_TASKS)}")
    return BIBLE_TASKS[name](language, split, query_language, max_queries=max_queries, seed=seed)


def bible_tasks(names, language: str, split: str = "test", query_language: str = "en", max_queries: int | None = None,
                max_docs: int | None = None, seed: int = 0) -> dict[str, RetrievalTask]:
    """The named tasks of one language and split over one pool of documents (so that every system
    encodes its documents once for all of them): the whole split, or with ``max_docs`` every
    document some task judges plus seeded random others up to ``max_docs``."""
    tasks = {name: bible_task(name, language, split, query_language, max_queries, seed) for name in names}
    docs = next(iter(tasks.values())).docs
    if max_docs is None or max_docs >= len(docs):
        return tasks
    judged = {d for task in tasks.values() for rel in task.qrels.values() for d in rel}
    keep = sample_pool(docs, judged, max_docs, np.random.default_rng(seed))
    return {name: RetrievalTask(
        name=task.name + f"@{len(keep)}docs", queries=dict(task.queries), docs={d: task.docs[d] for d in keep},
        qrels=task.qrels, exclude=task.exclude, doc_language=dict(task.doc_language),
        meta=dict(task.meta, max_docs=max_docs, pool_seed=seed)) for name, task in tasks.items()}


def build_all(languages: list[str] | None = None, splits=("dev", "test"), save: bool = True) -> list[RetrievalTask]:
    """Every task of every target language and split, written under outputs/derived/tasks."""
    languages = check_languages(languages or [c for c in known_languages() if c != "en"])
    tasks = []
    for split in splits:
        for code in languages:
            tasks.append(crossref_task(code, split))
            tasks.append(topical_task(code, split))
            tasks.append(bitext_task(code, split))
        tasks.append(multilingual_task(sorted(set(languages) | {"en"}), split))
    if save:
        for task in tasks:
            task.save()
    return tasks


def manifest(tasks: list[RetrievalTask]) -> dict:
    """Counts per task, split and language: small, reviewable, committed as data/manifest.json."""
    out: dict = {}
    for task in tasks:
        kind, split, pair = task.name.split("/")
        out.setdefault(kind, {}).setdefault(split, {})[pair] = task.stats()
    return out


def manifest_path() -> Path:
    return data_dir() / "manifest.json"


def write_manifest(tasks: list[RetrievalTask]) -> Path:
    path = manifest_path()
    path.write_text(json.dumps(manifest(tasks), indent=1, sort_keys=True) + "\n")
    return path


def read_manifest() -> dict:
    return json.loads(manifest_path().read_text(encoding="utf-8"))


def read_bitext(path: Path | str) -> list[tuple[str, str]]:
    """(English, target) pairs of a TSV file: one pair a line, the two texts separated by a tab."""
    path = Path(path)
    if not path.is_file():
        raise OtclirError(f"no bitext file {path}; give a TSV file of 'English<TAB>target' lines")
    pairs = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise OtclirError(f"{path}:{number}: a bitext line is 'English<TAB>target' with two non-empty texts, "
                                  f"found {len(fields)} field(s): {line[:80]!r}")
            pairs.append((fields[0].strip(), fields[1].strip()))
    if not pairs:
        raise OtclirError(f"{path} holds no bitext pairs")
    return pairs


def bitext_pairs(language: str, query_language: str = "en", split: str = "train", budget: int | None = None,
                 seed: int = 0, source: Path | str | None = None) -> list[tuple[str, str]]:
    """(English, target) verse pairs of a split, in a seeded order, the first ``budget`` of them;
    from a TSV file instead when ``source`` names one (every line is training data then)."""
    checks.whole(budget, "budget (pairs)", 1, optional=True)
    checks.whole(seed, "seed", 0)
    if source is not None:
        pairs = read_bitext(source)
    else:
        books = set(books_of(split))
        english, target = read_language(query_language), read_language(language)
        pairs = [(english[k], target[k]) for k in sorted(k for k in english if k[0] in books and k in target)]
    order = np.random.default_rng(seed).permutation(len(pairs))
    if budget is not None:
        order = order[:budget]
    return [pairs[i] for i in order]


def subsample_documents(task: RetrievalTask, max_docs: int | None, seed: int = 0) -> RetrievalTask:
    """A smaller pool for fast runs: every judged document of the task's queries plus seeded random
    others up to ``max_docs``. Scores on it are higher than on the whole pool; compare like with like."""
    if max_docs is None or max_docs >= len(task.docs):
        return task
    judged = {d for docs in task.qrels.values() for d in docs}
    keep = sample_pool(task.docs, judged, max_docs, np.random.default_rng(seed))
    return RetrievalTask(
        name=task.name + f"@{len(keep)}docs",
        queries=dict(task.queries), docs={d: task.docs[d] for d in keep}, qrels=task.qrels,
        exclude=task.exclude, doc_language={d: task.doc_language[d] for d in keep if d in task.doc_language},
        meta=dict(task.meta, max_docs=max_docs, pool_seed=seed),
    )
