"""Exact dense retrieval into TREC runs, and the dev scores the trainers log.

Queries and documents may use different encoders: English queries through the teacher,
target-language documents through the student is OPTICAL's CLIR setting.
"""
from __future__ import annotations

import numpy as np

from otclir.data import trec
from otclir.data.tasks import RetrievalTask
from otclir.errors import OtclirError
from otclir.retrieval.measures import evaluate

DEV_MEASURES = ("AP", "nDCG@10")


def dense_retrieve(query_emb: np.ndarray, doc_emb: np.ndarray, query_ids, doc_ids, k: int = 1000,
                   exclude: dict[str, set[str]] | None = None, chunk: int = 512) -> trec.Run:
    """Top-k documents per query by inner product of (normalised) embeddings, ``chunk`` queries at a
    time so memory stays at chunk x documents; ``exclude`` removes documents from one query's ranking."""
    import torch

    if query_emb.shape[1] != doc_emb.shape[1]:
        raise OtclirError(f"query and document embeddings differ in size: {query_emb.shape[1]} vs {doc_emb.shape[1]}")
    doc_ids = list(doc_ids)
    position = {d: i for i, d in enumerate(doc_ids)}
    docs = torch.from_numpy(np.ascontiguousarray(doc_emb, dtype=np.float32))
    k = min(k, len(doc_ids))
    run: trec.Run = {}
    query_ids = list(query_ids)
    for start in range(0, len(query_ids), chunk):
        block = torch.from_numpy(np.ascontiguousarray(query_emb[start:start + chunk], dtype=np.float32))
        scores = block @ docs.T
        for row, qid in enumerate(query_ids[start:start + chunk]):
            for doc in (exclude or {}).get(qid, ()):
                if doc in position:
                    scores[row, position[doc]] = float("-inf")
        top = torch.topk(scores, k, dim=1)
        for row, qid in enumerate(query_ids[start:start + chunk]):
            values, index = top.values[row].tolist(), top.indices[row].tolist()
            run[qid] = {doc_ids[i]: v for i, v in zip(index, values) if v != float("-inf")}
    return run


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
