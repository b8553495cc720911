"""Exact dense retrieval into TREC runs, and measures through ir_measures (pytrec_eval backend).

Queries and documents may use different encoders: English queries through the teacher,
target-language documents through the student is OPTICAL's CLIR setting.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import trec
from .errors import OtclirError
from .tasks import RetrievalTask

DEFAULT_MEASURES = ("AP", "nDCG@10", "RR@10", "R@100")
BITEXT_MEASURES = ("Success@1",)


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


def parse_measures(names):
    import ir_measures

    parsed = []
    for name in names:
        try:
            parsed.append(ir_measures.parse_measure(name))
        except (NameError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise OtclirError(f"unknown measure '{name}' ({err}); examples: AP, nDCG@10, RR@10, R@100, P@10, Success@1") from None
    return parsed


def per_query(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> pd.DataFrame:
    """One row per judged query, one column per measure; a query missing from the run scores 0
    (as trec_eval -c)."""
    import ir_measures

    parsed = parse_measures(measures)
    judged = sorted(q for q, docs in qrels.items() if any(r > 0 for r in docs.values()))
    table = pd.DataFrame(0.0, index=pd.Index(judged, name="query"), columns=[str(m) for m in parsed])
    present = {q: docs for q, docs in run.items() if q in qrels and docs}
    if present:
        evaluator = ir_measures.evaluator(parsed, {q: qrels[q] for q in judged})
        for metric in evaluator.iter_calc(present):
            if metric.query_id in table.index:
                table.loc[metric.query_id, str(metric.measure)] = float(metric.value)
    table.attrs["missing_queries"] = sorted(set(judged) - set(present))
    return table


def evaluate(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> dict[str, float]:
    """Mean of each measure over every judged query (missing ones scored 0)."""
    return per_query(qrels, run, measures).mean().to_dict()


def save_system(folder: Path, system: str, run: trec.Run, qrels: trec.Qrels, measures=DEFAULT_MEASURES) -> dict:
    """Write ``<system>.run`` (TREC) and ``<system>.perquery.tsv`` under ``folder``; return the means."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trec.write_run(folder / f"{system}.run", run, tag=system)
    table = per_query(qrels, run, measures)
    table.to_csv(folder / f"{system}.perquery.tsv", sep="\t", float_format="%.6f")
    return table.mean().to_dict()
