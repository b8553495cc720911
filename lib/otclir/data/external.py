"""External collections through ``ir_datasets`` identifiers (WikiCLIR, mMARCO, HC4, NeuCLIR, ...).

They load into the same :class:`~otclir.data.tasks.RetrievalTask` as the Bible tasks, so notebooks
03, 04 and 05 run on them by a parameter once the data is on the machine. An id may hold
``{language}`` (``wikiclir/{language}``, ``mmarco/v2/{language}/train``), filled per language.

Folders of plain files under ``data/collections/`` (or ``$OTCLIR_COLLECTIONS``) are registered with
ir_datasets' own API as ``local/<folder>`` whenever a collection is loaded, in any process (a
notebook's kernel too): ``docs.tsv`` (id, text), ``queries.tsv`` (id, text), ``qrels.txt`` (TREC),
and for training ``docpairs.tsv`` (query id, positive id, negative id). A folder per language
(``local/<name>/<language>``) gives mMARCO's layout: the same ids in every language.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from otclir.data.tasks import RetrievalTask, sample_ids, sample_pool
from otclir.errors import MissingPackageError, OtclirError
from otclir.paths import data_dir, env_path

LOCAL = "local"
LOCAL_FILES = ("docs.tsv", "queries.tsv", "qrels.txt")


def _ir_datasets():
    try:
        import ir_datasets
    except ImportError:
        raise MissingPackageError("ir_datasets is not installed; install it with `pip install ir-datasets==0.6.3`") from None
    return ir_datasets


def _text(record) -> str:
    if hasattr(record, "default_text"):
        return record.default_text()
    return getattr(record, "text")


def collections_dir() -> Path:
    return env_path("OTCLIR_COLLECTIONS", data_dir() / "collections")


def register_local(folder: Path | str, name: str) -> str:
    """Register a folder of plain files (see the module notes) as ir_datasets id ``name``."""
    ir_datasets = _ir_datasets()
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocPairs, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    folder = Path(folder)
    missing = [f for f in LOCAL_FILES if not (folder / f).is_file()]
    if missing:
        raise OtclirError(f"{folder} lacks {', '.join(missing)}; a local collection holds {', '.join(LOCAL_FILES)}")
    if name in ir_datasets.registry:
        return name
    parts = [TsvDocs(LocalDownload(folder / "docs.tsv")), TsvQueries(LocalDownload(folder / "queries.tsv")),
             TrecQrels(LocalDownload(folder / "qrels.txt"), {0: "not relevant", 1: "relevant", 2: "highly relevant"})]
    if (folder / "docpairs.tsv").is_file():
        parts.append(TsvDocPairs(LocalDownload(folder / "docpairs.tsv")))
    ir_datasets.registry.register(name, Dataset(*parts))
    return name


def register_local_collections() -> list[str]:
    """Register every folder with ``docs.tsv`` below the collections folder; returns their ids."""
    root = collections_dir()
    if not root.is_dir():
        return []
    return [register_local(docs.parent, f"{LOCAL}/{docs.parent.relative_to(root).as_posix()}")
            for docs in sorted(root.rglob("docs.tsv"))]


def collection_id(template: str, language: str) -> str:
    """An id with ``{language}`` filled in (an id without it is used as it is)."""
    return template.format(language=language) if "{language}" in template else template


def check_collection_id(template: str, language: str | None = None) -> None:
    """Refuse an ir_datasets id (``{language}`` filled in) that is not registered, before anything
    runs; the error names close ids."""
    import fnmatch

    root = collections_dir()
    # the local folders are found, not registered: registering here would tie this process's
    # registry to folders that may move (the kernel registers them where it runs)
    local = [f"{LOCAL}/{docs.parent.relative_to(root).as_posix()}" for docs in sorted(root.rglob("docs.tsv"))] \
        if root.is_dir() else []
    ids = [*_ir_datasets().registry, *local]
    if language is None and "{language}" in template:  # no language named: some language's id must exist
        dataset_id = template.replace("{language}", "*")
        known = fnmatch.filter(ids, dataset_id)
    else:
        dataset_id = collection_id(template, language) if language else template
        known = [dataset_id] if dataset_id in ids else []
    if not known:
        close = difflib.get_close_matches(dataset_id, ids, n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise OtclirError(f"unknown ir_datasets id '{dataset_id}'{hint} (local folders go under "
                          f"{collections_dir()} as {LOCAL}/<folder>)")


def open_dataset(dataset_id: str, needs=("queries", "docs", "qrels")):
    ir_datasets = _ir_datasets()
    register_local_collections()
    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        close = difflib.get_close_matches(dataset_id, list(ir_datasets.registry), n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise OtclirError(f"unknown ir_datasets id '{dataset_id}'{hint} (local folders go under "
                          f"{collections_dir()} as {LOCAL}/<folder>)") from None
    for part in needs:
        if not getattr(dataset, f"has_{part}")():
            raise OtclirError(f"ir_datasets id '{dataset_id}' has no {part}; this use needs {', '.join(needs)}")
    return dataset


def load_ir_dataset(dataset_id: str, max_queries: int | None = None, max_docs: int | None = None,
                    seed: int = 0) -> RetrievalTask:
    """Queries, documents and qrels of an ``ir_datasets`` id as a task: ``max_queries`` judged queries
    sampled (seeded), and a pool of every judged document of those queries plus seeded random others
    up to ``max_docs``. Documents are read twice, ids first, so only the pool's texts are held."""
    dataset = open_dataset(dataset_id)
    queries = {q.query_id: _text(q) for q in dataset.queries_iter()}
    judged: dict[str, dict[str, int]] = {}
    for judgment in dataset.qrels_iter():
        if judgment.query_id in queries:
            judged.setdefault(judgment.query_id, {})[judgment.doc_id] = int(judgment.relevance)
    rng = np.random.default_rng(seed)
    chosen = sample_ids([q for q, docs in judged.items() if any(r > 0 for r in docs.values())], max_queries, rng)
    doc_ids = [d.doc_id for d in dataset.docs_iter()]
    pool = set(sample_pool(doc_ids, {d for q in chosen for d in judged[q]}, max_docs, rng))
    docs = {d.doc_id: _text(d) for d in dataset.docs_iter() if d.doc_id in pool}
    return RetrievalTask(
        name=f"irds/{dataset_id}",
        queries={q: queries[q] for q in chosen},
        docs=docs,
        qrels={q: {d: r for d, r in judged[q].items() if d in docs} for q in chosen},
        meta={"kind": "ir_datasets", "dataset_id": dataset_id, "max_queries": max_queries, "max_docs": max_docs,
              "seed": seed},
    )


@dataclass
class TrainingData:
    """Contrastive training examples in every language: ``texts[language][id]`` (query ids ``q:<id>``
    and passage ids ``d:<id>`` share one table), relevant passages per query, one hard negative
    per query where the collection gives one, and the (query, positive) pairs in training order."""

    texts: dict[str, dict[str, str]]
    relevant: dict[str, frozenset[str]]
    negatives: dict[str, str]
    pairs: list[tuple[str, str]]


def training_data(template: str, languages, budget: int | None = None, seed: int = 0,
                  with_negatives: bool = False) -> TrainingData:
    """(query, positive passage, hard negative) examples of a collection with the same query and
    passage ids in every language (mMARCO's layout): the pairs from ``docpairs`` (or, without them,
    from positive qrels, without negatives) in a seeded order, the first ``budget`` of them (of
    those with a negative when ``with_negatives``), less any whose texts some language lacks. Only
    the texts of those examples are read."""
    languages = list(languages)
    first = open_dataset(collection_id(template, languages[0]), needs=("queries", "docs"))
    relevant: dict[str, set[str]] = {}
    negatives: dict[str, str] = {}
    if first.has_docpairs():
        for pair in first.docpairs_iter():
            relevant.setdefault(f"q:{pair.query_id}", set()).add(f"d:{pair.doc_id_a}")
            negatives.setdefault(f"q:{pair.query_id}", f"d:{pair.doc_id_b}")
    elif first.has_qrels():
        for judgment in first.qrels_iter():
            if int(judgment.relevance) > 0:
                relevant.setdefault(f"q:{judgment.query_id}", set()).add(f"d:{judgment.doc_id}")
    else:
        raise OtclirError(f"'{collection_id(template, languages[0])}' has neither docpairs nor qrels to train on")
    pairs = sorted((q, d) for q, docs in relevant.items() for d in docs)
    order = np.random.default_rng(seed).permutation(len(pairs))
    wanted = [pairs[i] for i in order if not with_negatives or pairs[i][0] in negatives][:budget]
    texts = {}
    for language in languages:
        dataset = first if language == languages[0] else open_dataset(collection_id(template, language), needs=("queries", "docs"))
        ids = {q for q, _ in wanted} | {d for _, d in wanted} | {negatives[q] for q, _ in wanted if q in negatives}
        table = {f"q:{q.query_id}": _text(q) for q in dataset.queries_iter() if f"q:{q.query_id}" in ids}
        table.update({f"d:{d.doc_id}": _text(d) for d in dataset.docs_iter() if f"d:{d.doc_id}" in ids})
        texts[language] = table
        wanted = [(q, d) for q, d in wanted if q in table and d in table
                  and (not with_negatives or negatives[q] in table)]
    if not wanted:
        raise OtclirError(f"'{template}' has no training pair" + (" with a hard negative" if with_negatives else "")
                          + f" whose texts every language of {languages} has")
    present = set.intersection(*(set(t) for t in texts.values()))
    negatives = {q: n for q, n in negatives.items() if n in present}
    return TrainingData(texts, {q: frozenset(d) for q, d in relevant.items()}, negatives, wanted)
