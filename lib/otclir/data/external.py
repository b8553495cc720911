"""External collections through ``ir_datasets`` identifiers (WikiCLIR, mMARCO, HC4, NeuCLIR, ...).

They load into the same :class:`~otclir.data.tasks.RetrievalTask` as the Bible tasks, so every
notebook runs on them by a parameter once the data is available locally.
"""
from __future__ import annotations

import difflib
import itertools

from otclir.data.tasks import RetrievalTask
from otclir.errors import MissingPackageError, OtclirError


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


def load_ir_dataset(dataset_id: str, max_queries: int | None = None, max_docs: int | None = None) -> RetrievalTask:
    """Queries, documents and qrels of an ``ir_datasets`` id.

    ``max_docs`` reads only the first documents (with all judged ones among them
    kept by the caller's choice of collection); use it to explore large corpora.
    """
    ir_datasets = _ir_datasets()
    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        close = difflib.get_close_matches(dataset_id, list(ir_datasets.registry), n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise OtclirError(f"unknown ir_datasets id '{dataset_id}'{hint}") from None
    for part in ("queries", "docs", "qrels"):
        if not getattr(dataset, f"has_{part}")():
            raise OtclirError(f"ir_datasets id '{dataset_id}' has no {part}; a retrieval task needs queries, docs and qrels")
    queries = {q.query_id: _text(q) for q in itertools.islice(dataset.queries_iter(), max_queries)}
    docs = {d.doc_id: _text(d) for d in itertools.islice(dataset.docs_iter(), max_docs)}
    qrels: dict[str, dict[str, int]] = {}
    for judgment in dataset.qrels_iter():
        if judgment.query_id in queries:
            qrels.setdefault(judgment.query_id, {})[judgment.doc_id] = int(judgment.relevance)
    return RetrievalTask(
        name=f"irds/{dataset_id}",
        queries=queries,
        docs=docs,
        qrels=qrels,
        meta={"kind": "ir_datasets", "dataset_id": dataset_id, "max_queries": max_queries, "max_docs": max_docs},
    )
