"""Late-interaction (ColBERT-style MaxSim) scoring over token vectors.

A query's score for a document is the sum (or mean) over the query's content tokens of the
best cosine with any of the document's content tokens. Token vectors come from
:meth:`otclir.models.encoder.Encoder.encode_tokens` (L2-normalised, float16, special tokens and the
e5 prefix left out) as a flat array with offsets.

Exact scoring over a whole pool runs the documents in buckets of similar length (padding costs
multiply-adds) and the queries in chunks, as one matrix product per (chunk, bucket) followed by
a max over each document's tokens. ``candidates`` restricts scoring to a first-stage ranking
(for example the mean-pooled one), as PLAID restricts it with centroids: much faster, at the
cost of relevant documents the first stage missed (:func:`candidate_recall` measures that).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from otclir.data import trec
from otclir.errors import OtclirError
from otclir.models.encoder import EncodedTexts

REDUCTIONS = ("sum", "mean")


def _torch_tokens(encoded: EncodedTexts, rows: Sequence[int]):
    """Padded (n, L, H) float32 token vectors and a (n, L) mask of the given texts."""
    import torch

    lengths = encoded.offsets[1:] - encoded.offsets[:-1]
    width = max(1, int(lengths[list(rows)].max())) if len(rows) else 1
    out = torch.zeros(len(rows), width, encoded.tokens.shape[1])
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, row in enumerate(rows):
        start, stop = encoded.offsets[row], encoded.offsets[row + 1]
        out[i, :stop - start] = torch.from_numpy(encoded.tokens[start:stop].astype(np.float32))
        mask[i, :stop - start] = True
    return out, mask


def _check(queries: EncodedTexts, docs: EncodedTexts, reduce: str):
    if reduce not in REDUCTIONS:
        raise OtclirError(f"unknown reduction '{reduce}'; reductions: {', '.join(REDUCTIONS)}")
    if queries.tokens.shape[1] != docs.tokens.shape[1]:
        raise OtclirError(f"query and document token vectors differ in size: {queries.tokens.shape[1]} vs {docs.tokens.shape[1]}")
    empty = np.flatnonzero(np.diff(docs.offsets) == 0)
    if len(empty):
        raise OtclirError(f"document {int(empty[0])} has no token vectors; encode it with encode_tokens")


def maxsim_matrix(queries: EncodedTexts, docs: EncodedTexts, reduce: str = "sum", query_chunk: int = 64,
                  bucket_size: int = 256, max_floats: int = 32_000_000) -> np.ndarray:
    """Exact MaxSim scores of every query against every document, (n_queries, n_docs) float32."""
    import torch

    _check(queries, docs, reduce)
    n_q, n_d = len(queries), len(docs)
    scores = np.zeros((n_q, n_d), dtype=np.float32)
    doc_lengths = np.diff(docs.offsets)
    order = np.argsort(doc_lengths, kind="stable")
    buckets = [order[i:i + bucket_size] for i in range(0, n_d, bucket_size)]
    padded = [_torch_tokens(docs, b) for b in buckets]
    q_lengths = np.diff(queries.offsets)
    with torch.inference_mode():
        for start in range(0, n_q, query_chunk):
            rows = list(range(start, min(n_q, start + query_chunk)))
            flat = torch.from_numpy(queries.tokens[queries.offsets[rows[0]]:queries.offsets[rows[-1] + 1]].astype(np.float32))
            owner = torch.from_numpy(np.repeat(np.arange(len(rows)), q_lengths[rows]))
            for bucket, (doc_tokens, doc_mask) in zip(buckets, padded):
                n_b, width, dim = doc_tokens.shape
                block = torch.empty(len(rows), n_b)
                step = max(1, max_floats // max(1, n_b * width))  # query tokens per product
                best_all = []
                for t0 in range(0, len(flat), step):
                    sims = flat[t0:t0 + step] @ doc_tokens.reshape(-1, dim).T  # (t, n_b * width)
                    sims = sims.view(-1, n_b, width).masked_fill(~doc_mask, float("-inf"))
                    best_all.append(sims.amax(-1))  # (t, n_b)
                best = torch.cat(best_all)
                block.zero_().index_add_(0, owner, best)
                if reduce == "mean":
                    block /= torch.from_numpy(q_lengths[rows].astype(np.float32)).unsqueeze(1)
                scores[np.ix_(rows, bucket)] = block.numpy()
    return scores


def maxsim_pairs(queries: EncodedTexts, docs: EncodedTexts, query_rows: Sequence[int], doc_rows: Sequence[Sequence[int]],
                 reduce: str = "sum") -> list[np.ndarray]:
    """MaxSim of each query against its own list of documents (candidates), one array per query.
    The candidates' token vectors are gathered without padding: one product per query, then a max
    over each document's tokens (a scatter by document)."""
    import torch

    _check(queries, docs, reduce)
    doc_tokens = torch.from_numpy(docs.tokens.astype(np.float32))
    lengths = np.diff(docs.offsets)
    out = []
    with torch.inference_mode():
        for q, rows in zip(query_rows, doc_rows):
            rows = np.asarray(list(rows), dtype=np.int64)
            if not len(rows):
                out.append(np.zeros(0, dtype=np.float32))
                continue
            query = torch.from_numpy(queries.tokens[queries.offsets[q]:queries.offsets[q + 1]].astype(np.float32))
            sizes = lengths[rows]
            firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            index = np.repeat(docs.offsets[rows] - firsts, sizes) + np.arange(sizes.sum())
            owner = torch.from_numpy(np.repeat(np.arange(len(rows)), sizes)).expand(len(query), -1)
            sims = query @ doc_tokens[torch.from_numpy(index)].T  # (query tokens, candidate tokens)
            best = torch.full((len(query), len(rows)), float("-inf")).scatter_reduce_(1, owner, sims, "amax")
            score = best.sum(0) if reduce == "sum" else best.mean(0)
            out.append(score.numpy())
    return out


def naive_maxsim(queries: EncodedTexts, docs: EncodedTexts, reduce: str = "sum", query_chunk: int = 8) -> np.ndarray:
    """Reference: one plain einsum of every padded query against every padded document, a chunk of
    queries at a time. Simple and slow (padding to the longest text everywhere); for tests and
    the benchmark."""
    import torch

    _check(queries, docs, reduce)
    doc_tokens, doc_mask = _torch_tokens(docs, range(len(docs)))
    scores = np.zeros((len(queries), len(docs)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(queries), query_chunk):
            rows = range(start, min(len(queries), start + query_chunk))
            query_tokens, query_mask = _torch_tokens(queries, rows)
            sims = torch.einsum("qth,dlh->qtdl", query_tokens, doc_tokens)
            best = sims.masked_fill(~doc_mask[None, None], float("-inf")).amax(-1)  # (q, t, d)
            best = best.masked_fill(~query_mask[:, :, None], 0.0)
            total = best.sum(1)
            if reduce == "mean":
                total = total / query_mask.sum(1, keepdim=True)
            scores[list(rows)] = total.numpy()
    return scores


def maxsim_retrieve(queries: EncodedTexts, docs: EncodedTexts, query_ids, doc_ids, k: int = 1000,
                    exclude: dict[str, set[str]] | None = None, reduce: str = "sum",
                    candidates: trec.Run | None = None, rerank_depth: int = 200) -> trec.Run:
    """Top-k documents per query by MaxSim, over the whole pool (exact), or with ``candidates`` (a
    first-stage run) by rescoring its top ``rerank_depth`` documents: they come first, in MaxSim
    order, and the rest of the first-stage ranking follows in its own order, so the run keeps its
    depth. With candidates, ``docs`` need hold only the documents the rescoring reaches."""
    query_ids, doc_ids = list(query_ids), list(doc_ids)
    if len(query_ids) != len(queries) or len(doc_ids) != len(docs):
        raise OtclirError(f"{len(query_ids)} query ids for {len(queries)} queries or {len(doc_ids)} document ids "
                          f"for {len(docs)} documents")
    if candidates is not None and rerank_depth < 1:
        raise OtclirError(f"rerank_depth must be at least 1, got {rerank_depth}")
    position = {d: i for i, d in enumerate(doc_ids)}
    run: trec.Run = {}
    if candidates is None:
        scores = maxsim_matrix(queries, docs, reduce)
        for row, qid in enumerate(query_ids):
            values = scores[row].astype(np.float64)
            for doc in (exclude or {}).get(qid, ()):
                if doc in position:
                    values[position[doc]] = -np.inf
            order = np.lexsort((np.arange(len(doc_ids)), -values))[:k]
            run[qid] = {doc_ids[i]: float(values[i]) for i in order if np.isfinite(values[i])}
        return run
    first = [[d for d in _ranked(candidates.get(qid, {})) if d not in (exclude or {}).get(qid, ())] for qid in query_ids]
    unencoded = sorted({d for ranked in first for d in ranked[:rerank_depth] if d not in position})
    if unencoded:
        raise OtclirError(f"{len(unencoded)} documents of the candidates' top {rerank_depth} are not among the encoded "
                          f"documents (e.g. {', '.join(unencoded[:3])}); encode every document the rescoring reaches")
    rows = [[position[d] for d in ranked[:rerank_depth]] for ranked in first]
    rescored = maxsim_pairs(queries, docs, range(len(query_ids)), rows, reduce)
    for qid, ranked, docs_of, values in zip(query_ids, first, rows, rescored):
        order = np.lexsort((np.array(docs_of), -values.astype(np.float64)))
        scored = {doc_ids[docs_of[i]]: float(values[i]) for i in order}
        floor = min(scored.values(), default=0.0)
        for rank, doc in enumerate(ranked[rerank_depth:k]):  # below every rescored document, in first-stage order
            scored[doc] = floor - 1.0 - rank
        run[qid] = dict(list(scored.items())[:k])
    return run


def _ranked(scored: dict[str, float]) -> list[str]:
    return sorted(scored, key=lambda d: (-scored[d], d))


def candidate_recall(qrels: trec.Qrels, candidates: trec.Run, exact: trec.Run, depth: int = 1000) -> dict[str, float]:
    """What candidate generation loses: the share of relevant documents in the exact MaxSim top
    ``depth`` that the candidate lists miss, and of the exact top 10."""
    missed = found = missed10 = found10 = 0
    for qid, judged in qrels.items():
        relevant = {d for d, r in judged.items() if r > 0}
        pool = set(candidates.get(qid, {}))
        ranked = _ranked(exact.get(qid, {}))
        for rank, doc in enumerate(ranked[:depth]):
            if doc in relevant:
                found += 1
                missed += doc not in pool
                if rank < 10:
                    found10 += 1
                    missed10 += doc not in pool
    return {"relevant_missed": missed / found if found else 0.0,
            "relevant_missed@10": missed10 / found10 if found10 else 0.0}
