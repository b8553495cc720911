"""Exact dense retrieval into TREC runs, and the dev scores the trainers log.

Queries and documents may use different encoders: English queries through the teacher,
target-language documents through the student is OPTICAL's CLIR setting.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from otclir.data import trec
from otclir.data.tasks import RetrievalTask
from otclir.errors import OtclirError
from otclir.retrieval.measures import evaluate

DEV_MEASURES = ("AP", "nDCG@10")
DEV_SIGNALS = ("dev_AP", "dev_nDCG@10", "dev_bitext_P@1", "dev_bitext_MRR")  # what a trainer logs at each dev check


def dense_retrieve(query_emb: np.ndarray, doc_emb: np.ndarray, query_ids, doc_ids, k: int = 1000,
                   exclude: dict[str, set[str]] | None = None, chunk: int = 512, doc_chunk: int = 250_000) -> trec.Run:
    """Top-k documents per query by inner product of (normalised) embeddings, ``chunk`` queries at a
    time so memory stays at chunk x documents; ``exclude`` removes documents from one query's ranking.
    More than ``doc_chunk`` documents (an array on disk, say) are read a block at a time, keeping a
    running top k, so memory stays at one block of vectors."""
    import torch

    if query_emb.shape[1] != doc_emb.shape[1]:
        raise OtclirError(f"query and document embeddings differ in size: {query_emb.shape[1]} vs {doc_emb.shape[1]}")
    doc_ids = list(doc_ids)
    k = min(k, len(doc_ids))
    blocks = [(start, min(start + doc_chunk, len(doc_ids))) for start in range(0, len(doc_ids), doc_chunk)]
    whole = torch.from_numpy(np.ascontiguousarray(doc_emb, dtype=np.float32)) if len(blocks) == 1 else None
    position = {d: i for i, d in enumerate(doc_ids)} if exclude else {}
    excluded = {qid: [position[d] for d in docs if d in position] for qid, docs in (exclude or {}).items()}
    run: trec.Run = {}
    query_ids = list(query_ids)
    for start in range(0, len(query_ids), chunk):
        ids = query_ids[start:start + chunk]
        block_queries = torch.from_numpy(np.ascontiguousarray(query_emb[start:start + chunk], dtype=np.float32))
        best_values, best_index = None, None
        for low, high in blocks:
            docs = whole if whole is not None else torch.from_numpy(np.array(doc_emb[low:high], dtype=np.float32))
            scores = block_queries @ docs.T
            for row, qid in enumerate(ids):
                for i in excluded.get(qid, ()):
                    if low <= i < high:
                        scores[row, i - low] = float("-inf")
            top = torch.topk(scores, min(k, high - low), dim=1)
            values, index = top.values, top.indices + low
            if best_values is not None:
                merged = torch.topk(torch.cat([best_values, values], 1), k, dim=1)
                index = torch.gather(torch.cat([best_index, index], 1), 1, merged.indices)
                values = merged.values
            best_values, best_index = values, index
        for row, qid in enumerate(ids):
            values, index = best_values[row].tolist(), best_index[row].tolist()
            run[qid] = {doc_ids[i]: v for i, v in zip(index, values) if v != float("-inf")}
    return run


def encode_to_disk(encoder, texts: Iterable[str], count: int, path: Path | str, kind: str | None = "passage",
                   batch_size: int = 64, block: int = 4096, progress: bool = True) -> np.ndarray:
    """Mean-pooled vectors of ``count`` texts, read from an iterator a block at a time and written to
    a ``.npy`` file on disk; returns it opened read-only as a memory map. Memory stays at one block
    of texts and vectors, whatever the collection's size."""
    from tqdm import tqdm

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, encoder.dim))
    row = 0
    with tqdm(total=count, desc=f"encoding {path.stem}", unit="text", disable=not progress) as bar:
        for part in _blocks(texts, block):
            if row + len(part) > count:
                raise OtclirError(f"more than the {count} texts announced reached {path.name}")
            out[row:row + len(part)] = encoder.encode(part, kind=kind, batch_size=batch_size)
            row += len(part)
            bar.update(len(part))
    if row != count:
        raise OtclirError(f"{row} texts reached {path.name}, {count} were announced")
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def _blocks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while part := list(itertools.islice(iterator, size)):
        yield part


def bitext_signals(target_vectors: np.ndarray, english_vectors: np.ndarray) -> dict[str, float]:
    """Bitext retrieval as a fast dev signal: row i of ``target_vectors`` (a verse in the target
    language) must find row i of ``english_vectors`` (the same verse in English) among all rows.
    Returns P@1 and MRR (ties count against the verse)."""
    if target_vectors.shape != english_vectors.shape or len(target_vectors) < 2:
        raise OtclirError(f"bitext signals need two aligned sets of at least 2 vectors, got {target_vectors.shape} "
                          f"and {english_vectors.shape}")
    scores = np.asarray(target_vectors, dtype=np.float64) @ np.asarray(english_vectors, dtype=np.float64).T
    own = np.diag(scores)
    rank = (scores >= own[:, None]).sum(1)  # 1 = the own translation is strictly the best
    return {"P@1": float((rank == 1).mean()), "MRR": float((1.0 / rank).mean())}


def retrieve(task: RetrievalTask, query_encoder, doc_encoder=None, k: int = 1000, batch_size: int = 64,
             doc_embeddings: np.ndarray | None = None) -> trec.Run:
    """Encode the task's queries and documents (``query``/``passage`` kinds) and rank."""
    doc_encoder = doc_encoder or query_encoder
    query_ids, doc_ids = list(task.queries), list(task.docs)
    queries = query_encoder.encode([task.queries[q] for q in query_ids], kind="query", batch_size=batch_size)
    if doc_embeddings is None:
        doc_embeddings = doc_encoder.encode([task.docs[d] for d in doc_ids], kind="passage", batch_size=batch_size)
    return dense_retrieve(queries, doc_embeddings, query_ids, doc_ids, k=k, exclude=task.exclude)


def dev_scores(task: RetrievalTask, query_vectors: np.ndarray, doc_vectors: np.ndarray) -> dict[str, float]:
    """``dev_AP`` and ``dev_nDCG@10`` of a dev task ranked by the given vectors (in the task's order)."""
    run = dense_retrieve(query_vectors, doc_vectors, list(task.queries), list(task.docs), k=1000, exclude=task.exclude)
    return {f"dev_{k}": v for k, v in evaluate(task.qrels, run, DEV_MEASURES).items()}
