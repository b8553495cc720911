"""A linear map from one encoder's sentence space onto another's, fitted in closed form on bitext:
the training-free baseline of a teacher that is not the student (English queries read by the
teacher, documents in the other language read by the student and mapped), and the starting point
of a learned map.

``ridge``: ``W = (X'X + a I)^-1 X'Y``, the least-squares map with a ridge penalty ``a``;
``procrustes``: the orthogonal ``W`` nearest that (Schoenemann 1966: ``U V'`` from the SVD of
``X'Y``), for spaces of one width. Rows of ``X`` are the student's vectors of target-language
verses, rows of ``Y`` the teacher's vectors of the same verses in English, both unit length.
"""
from __future__ import annotations

import numpy as np

from otclir import checks
from otclir.errors import OtclirError

KINDS = ("ridge", "procrustes")


def fit_map(source, target, kind: str = "ridge", alpha: float = 1.0) -> np.ndarray:
    """The (d_source x d_target) map of ``source`` rows onto ``target`` rows.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 4)); rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    >>> bool(np.allclose(fit_map(x, x @ rotation, 'procrustes'), rotation))
    True
    """
    checks.array(source, "source", ndim=2)
    checks.array(target, "target", ndim=2)
    checks.one_of(kind, "kind", KINDS)
    checks.number(alpha, "alpha", 0)
    x, y = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise OtclirError(f"a map is fitted on paired rows: source has {len(x)}, target {len(y)} (at least 2 each); "
                          "give the two encoders' vectors of the same verses, in the same order")
    if kind == "procrustes":
        if x.shape[1] != y.shape[1]:
            raise OtclirError(f"an orthogonal map needs spaces of one width, got {x.shape[1]} and {y.shape[1]}; "
                              "use kind='ridge'")
        u, _, vt = np.linalg.svd(x.T @ y)
        return u @ vt
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)


def apply_map(vectors, mapping) -> np.ndarray:
    """Vectors mapped and scaled back to unit length (inner products are then cosines).

    >>> apply_map(np.array([[1.0, 0.0]]), np.array([[0.0, 2.0], [1.0, 0.0]]))
    array([[0., 1.]])
    """
    checks.array(vectors, "vectors", ndim=2)
    checks.array(mapping, "mapping", ndim=2)
    if np.shape(vectors)[1] != np.shape(mapping)[0]:
        raise OtclirError(f"vectors of width {np.shape(vectors)[1]} cannot go through a map from width "
                          f"{np.shape(mapping)[0]}; fit the map on this encoder's vectors")
    mapped = np.asarray(vectors, dtype=np.float64) @ np.asarray(mapping, dtype=np.float64)
    norms = np.linalg.norm(mapped, axis=1, keepdims=True)
    return mapped / np.where(norms > 0, norms, 1.0)


def bitext_map(language: str, student: str = "e5-small-student", teacher: str = "minilm-teacher",
               budget: int | None = 2000, seed: int = 0, kind: str = "ridge", alpha: float = 1.0,
               show_progress: bool | None = False) -> np.ndarray:
    """The map of ``student``'s vectors of train-split verses in ``language`` onto ``teacher``'s of
    the same verses in English (``budget`` pairs drawn with ``seed``; None: every pair)."""
    from otclir.data.tasks import bitext_pairs
    from otclir.models.encoder import Encoder

    pairs = bitext_pairs(language, "en", "train", budget, seed)
    english, target = [p[0] for p in pairs], [p[1] for p in pairs]
    x = Encoder(student).encode(target, kind="passage", show_progress=show_progress)
    y = Encoder(teacher).encode(english, kind="passage", show_progress=show_progress)
    return fit_map(x, y, kind, alpha)


def map_encoded(encoded, mapping):
    """Encoded texts (:class:`~otclir.models.encoder.EncodedTexts`) with their sentence and token
    vectors through ``mapping``, each scaled back to unit length: what late interaction against
    the teacher's query tokens reads."""
    from otclir.models.encoder import EncodedTexts

    if not isinstance(encoded, EncodedTexts):
        raise OtclirError(f"encoded is {type(encoded).__name__}, not the EncodedTexts an encoder's encode_tokens returns")
    tokens = np.concatenate([apply_map(block.astype(np.float32), mapping).astype(np.float16)
                             for block in np.array_split(encoded.tokens, max(1, len(encoded.tokens) // 65536))]) \
        if len(encoded.tokens) else np.zeros((0, np.shape(mapping)[1]), dtype=np.float16)
    return EncodedTexts(pooled=apply_map(encoded.pooled, mapping).astype(np.float32), tokens=tokens,
                        offsets=encoded.offsets)


def mapped_runs(tasks: dict, mapping, student: str = "e5-small-student", teacher: str = "minilm-teacher",
                scorers=("mean",), rerank_depth: int = 200, k: int = 1000, show_progress: bool | None = False) -> dict:
    """Tasks (by name; tasks of one pool share their documents, encoded once) ranked with the
    teacher reading the queries and the student (a model name or a trained student's folder)
    reading the documents through ``mapping``: per task, one run per scorer, ``mean`` (pooled
    vectors) and ``maxsim`` (the teacher's query tokens against the mapped document tokens,
    rescoring the mean ranking's top ``rerank_depth``)."""
    from otclir.models.encoder import Encoder
    from otclir.retrieval.dense import dense_retrieve
    from otclir.retrieval.late_interaction import maxsim_retrieve

    scorers = list(scorers)
    checks.whole(rerank_depth, "rerank_depth", 1)
    unknown = sorted(set(scorers) - {"mean", "maxsim"})
    if unknown or not scorers:
        raise OtclirError(f"unknown or no scorers {unknown}; a mapped student is scored by 'mean' and 'maxsim'")
    if not isinstance(tasks, dict) or not tasks:
        raise OtclirError("tasks is a dict of retrieval tasks by name, e.g. {'crossref': task}")
    tokens = "maxsim" in scorers
    doc_ids = list(dict.fromkeys(d for task in tasks.values() for d in task.docs))
    texts = {d: text for task in tasks.values() for d, text in task.docs.items()}
    if tokens:
        docs = map_encoded(Encoder(student).encode_tokens([texts[d] for d in doc_ids], kind="passage",
                                                          show_progress=show_progress), mapping)
    else:
        docs = apply_map(Encoder(student).encode([texts[d] for d in doc_ids], kind="passage", show_progress=show_progress),
                         mapping).astype(np.float32)
    position = {d: i for i, d in enumerate(doc_ids)}
    out = {}
    for name, task in tasks.items():
        query_ids, rows = list(task.queries), [position[d] for d in task.docs]
        queries = [task.queries[q] for q in query_ids]
        if tokens:
            query_vectors = Encoder(teacher).encode_tokens(queries, kind="query", show_progress=show_progress)
            own = _rows(docs, rows)
            pooled_queries, pooled_docs = query_vectors.pooled, own.pooled
        else:
            pooled_queries = Encoder(teacher).encode(queries, kind="query", show_progress=show_progress)
            pooled_docs = docs[rows]
        runs = {"mean": dense_retrieve(pooled_queries, pooled_docs, query_ids, list(task.docs), k=k,
                                       exclude=task.exclude)}
        if tokens:
            runs["maxsim"] = maxsim_retrieve(query_vectors, own, query_ids, list(task.docs), k=k, exclude=task.exclude,
                                             candidates=runs["mean"], rerank_depth=rerank_depth)
        out[name] = {scorer: runs[scorer] for scorer in scorers}
    return out


def _rows(encoded, rows: list[int]):
    """The encoded texts ``rows`` of ``encoded``, in that order."""
    from otclir.models.encoder import EncodedTexts

    if rows == list(range(len(encoded))):
        return encoded
    lengths = np.diff(encoded.offsets)[rows]
    parts = [encoded.tokens[encoded.offsets[r]:encoded.offsets[r + 1]] for r in rows]
    return EncodedTexts(pooled=encoded.pooled[rows], tokens=np.concatenate(parts) if parts else encoded.tokens[:0],
                        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def mapped_run(task, mapping, student: str = "e5-small-student", teacher: str = "minilm-teacher",
               k: int = 1000, show_progress: bool | None = False):
    """A task ranked with the teacher reading the queries and the student reading the documents
    through ``mapping`` (no training), mean-pooled."""
    return mapped_runs({"task": task}, mapping, student, teacher, ("mean",), k=k, show_progress=show_progress)["task"]["mean"]
