"""Late interaction: MaxSim against a hand-computed example, the chunked scorer against the naive one,
exclusions, candidate rescoring."""
import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.models.encoder import EncodedTexts
from otclir.retrieval import late_interaction as li


def _encoded(vectors_per_text):
    vectors = [np.asarray(v, dtype=np.float32) for v in vectors_per_text]
    vectors = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in vectors]
    lengths = [len(v) for v in vectors]
    pooled = np.stack([v.mean(0) / np.linalg.norm(v.mean(0)) for v in vectors]).astype(np.float32)
    return EncodedTexts(pooled, np.concatenate(vectors).astype(np.float16), np.concatenate([[0], np.cumsum(lengths)]))


def test_maxsim_matches_a_hand_computed_example():
    # unit vectors in 2-d: the query's tokens are the axes
    queries = _encoded([[[1, 0], [0, 1]]])
    docs = _encoded([[[1, 0]],                 # matches token 1 fully, token 2 not at all: 1 + 0
                     [[0.6, 0.8], [0.8, 0.6]],  # best for token 1 is 0.8, for token 2 is 0.8: 1.6
                     [[0, 1], [-1, 0]]])        # 0 and 1: 1
    scores = li.maxsim_matrix(queries, docs)
    np.testing.assert_allclose(scores, [[1.0, 1.6, 1.0]], atol=1e-3)
    np.testing.assert_allclose(li.maxsim_matrix(queries, docs, reduce="mean"), [[0.5, 0.8, 0.5]], atol=1e-3)


def _random(n, lengths, seed):
    rng = np.random.default_rng(seed)
    return _encoded([rng.normal(size=(lengths[i % len(lengths)], 16)) for i in range(n)])


def test_chunked_scorer_gives_the_naive_scores_and_runs():
    queries, docs = _random(7, [3, 5, 1], 0), _random(40, [2, 9, 4, 12, 1], 1)
    exact = li.maxsim_matrix(queries, docs, query_chunk=3, bucket_size=7, max_floats=500)
    np.testing.assert_allclose(exact, li.naive_maxsim(queries, docs), atol=1e-4)
    qids, dids = [f"q{i}" for i in range(7)], [f"d{i}" for i in range(40)]
    chunked = li.maxsim_retrieve(queries, docs, qids, dids, k=40, exclude={"q0": {"d3"}})
    naive = {q: dict(sorted(((d, float(s)) for d, s in zip(dids, row)), key=lambda x: -x[1])) for q, row in
             zip(qids, li.naive_maxsim(queries, docs))}
    for q in qids:
        expected = [d for d in naive[q] if not (q == "q0" and d == "d3")]
        assert list(chunked[q]) == expected
    assert "d3" not in chunked["q0"] and len(chunked["q0"]) == 39


def test_candidate_rescoring_keeps_depth_and_order_below():
    queries, docs = _random(3, [4], 2), _random(30, [5, 3], 3)
    qids, dids = ["a", "b", "c"], [f"d{i}" for i in range(30)]
    first = {q: {d: float(30 - i) for i, d in enumerate(dids)} for q in qids}  # first stage: d0 best, d29 worst
    run = li.maxsim_retrieve(queries, docs, qids, dids, k=30, candidates=first, rerank_depth=10,
                             exclude={"a": {"d0"}})
    for q in qids:
        ranked = list(run[q])
        assert len(ranked) == (29 if q == "a" else 30)
        top = ranked[:10]
        exact = li.naive_maxsim(queries, docs)[qids.index(q)]
        assert set(top) == set(dids[1:11] if q == "a" else dids[:10])
        assert [exact[dids.index(d)] for d in top] == sorted((exact[dids.index(d)] for d in top), reverse=True)
        assert ranked[10:] == [d for d in dids if d not in top and not (q == "a" and d == "d0")]
        scores = list(run[q].values())
        assert scores == sorted(scores, reverse=True)  # TREC tools sort by score


def test_candidate_recall_counts_relevant_documents_outside_the_candidates():
    qrels = {"q": {"d1": 1, "d2": 1, "d9": 0}}
    exact = {"q": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}
    candidates = {"q": {"d1": 1.0, "d3": 0.5}}
    assert li.candidate_recall(qrels, candidates, exact) == {"relevant_missed": 0.5, "relevant_missed@10": 0.5}


def test_bad_input_is_named():
    queries, docs = _random(1, [2], 0), _random(2, [2], 1)
    with pytest.raises(OtclirError, match="unknown reduction 'max'"):
        li.maxsim_matrix(queries, docs, reduce="max")
    with pytest.raises(OtclirError, match="2 document ids for 2 documents|1 query ids"):
        li.maxsim_retrieve(queries, docs, ["q", "r"], ["a", "b"])
    empty = EncodedTexts(docs.pooled, docs.tokens[:2], np.array([0, 2, 2]))
    with pytest.raises(OtclirError, match="document 1 has no token vectors"):
        li.maxsim_matrix(queries, empty)


def test_rescoring_needs_only_the_documents_it_reaches():
    queries, docs = _random(5, [3, 4], 2), _random(60, [2, 5, 7], 3)
    qids, dids = [f"q{i}" for i in range(5)], [f"d{i}" for i in range(60)]
    first = li.maxsim_retrieve(queries, docs, qids, dids, k=60)  # any first stage will do
    candidates = {q: {d: -rank for rank, d in enumerate(sorted(first[q], key=lambda d: d[::-1]))} for q in qids}
    full = li.maxsim_retrieve(queries, docs, qids, dids, k=60, candidates=candidates, rerank_depth=8)
    reached = sorted({d for q in qids for d in list(candidates[q])[:8]}, key=dids.index)
    rows = [dids.index(d) for d in reached]
    part = li.maxsim_retrieve(queries, docs.subset(rows), qids, reached, k=60, candidates=candidates, rerank_depth=8)
    assert {q: list(r) for q, r in part.items()} == {q: list(r) for q, r in full.items()}
    with pytest.raises(OtclirError, match="not among the encoded documents"):
        li.maxsim_retrieve(queries, docs.subset(rows[:3]), qids, reached[:3], candidates=candidates, rerank_depth=8)

