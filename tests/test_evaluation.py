import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.retrieval import dense, measures


def test_measures_agree_with_pytrec_eval_on_a_run_with_ties():
    import pytrec_eval

    qrels = {"q1": {"a": 1, "c": 2, "e": 1}, "q2": {"b": 1}, "q3": {"x": 1}}
    run = {"q1": {"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.9, "e": 0.1},  # three-way tie
           "q2": {"a": 0.3, "b": 0.3, "c": 0.1}}
    ours = measures.per_query(qrels, run, ["AP", "nDCG@10", "RR@10", "R@100"])
    reference = pytrec_eval.RelevanceEvaluator({q: qrels[q] for q in ("q1", "q2")},
                                               {"map", "ndcg_cut_10", "recip_rank", "recall_100"})
    theirs = reference.evaluate(run)
    for q in ("q1", "q2"):
        assert ours.loc[q, "AP"] == pytest.approx(theirs[q]["map"])
        assert ours.loc[q, "nDCG@10"] == pytest.approx(theirs[q]["ndcg_cut_10"])
        assert ours.loc[q, "R@100"] == pytest.approx(theirs[q]["recall_100"])
    assert ours.loc["q3"].eq(0).all()  # missing from the run: scored 0
    assert ours.attrs["missing_queries"] == ["q3"]
    means = measures.evaluate(qrels, run, ["AP"])
    assert means["AP"] == pytest.approx((theirs["q1"]["map"] + theirs["q2"]["map"]) / 3)


def test_unknown_measure_is_named():
    with pytest.raises(OtclirError, match="unknown measure 'MAPP'"):
        measures.parse_measures(["MAPP"])


def test_dense_retrieval_ranks_by_inner_product_in_chunks_and_excludes():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(50, 8)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[[3, 7, 11]] + 0.01
    run = dense.dense_retrieve(queries, docs, ["q0", "q1", "q2"], [f"d{i}" for i in range(50)], k=5, chunk=2,
                                    exclude={"q1": {"d7"}})
    assert max(run["q0"], key=run["q0"].get) == "d3"
    assert "d7" not in run["q1"] and len(run["q1"]) == 5
    full = queries @ docs.T
    assert set(run["q2"]) == {f"d{i}" for i in np.argsort(-full[2])[:5]}


def test_documents_read_a_block_at_a_time_rank_as_all_at_once(tmp_path):
    rng = np.random.default_rng(1)
    docs = rng.normal(size=(103, 8)).astype(np.float32)
    path = tmp_path / "docs.npy"
    np.save(path, docs)
    on_disk = np.load(path, mmap_mode="r")
    queries = rng.normal(size=(9, 8)).astype(np.float32)
    ids, qids = [f"d{i}" for i in range(103)], [f"q{i}" for i in range(9)]
    exclude = {"q0": {"d5", "d90"}, "q4": {"d0"}}
    whole = dense.dense_retrieve(queries, docs, qids, ids, k=20, exclude=exclude)
    blocks = dense.dense_retrieve(queries, on_disk, qids, ids, k=20, exclude=exclude, chunk=4, doc_chunk=10)
    assert list(whole) == list(blocks)
    for q in qids:
        assert list(whole[q]) == list(blocks[q]) and np.allclose(list(whole[q].values()), list(blocks[q].values()))
    assert "d5" not in blocks["q0"] and "d90" not in blocks["q0"] and len(blocks["q0"]) == 20


@pytest.mark.slow
def test_texts_encode_to_disk_a_block_at_a_time(tmp_path, web):
    from otclir.models.encoder import Encoder

    texts = [web[k] for k in sorted(web)[:11]]
    student = Encoder("e5-small-student")
    vectors = dense.encode_to_disk(student, iter(texts), len(texts), tmp_path / "v.npy", block=4, progress=False)
    assert isinstance(vectors, np.memmap) and vectors.shape == (11, student.dim)
    np.testing.assert_allclose(vectors, student.encode(texts), atol=1e-5)
    with pytest.raises(OtclirError, match="10 were announced"):
        dense.encode_to_disk(student, iter(texts[:9]), 10, tmp_path / "w.npy", block=4, progress=False)


@pytest.mark.slow
def test_cross_encoder_setting_finds_translations(tmp_path):
    from otclir.data.tasks import bitext_task
    from otclir.models.encoder import Encoder

    task = bitext_task("fr", "test", max_queries=20)
    task.docs = {d: task.docs[d] for d in sorted(task.docs)[:300]} | {q: task.docs[q] for q in task.queries}
    student = Encoder("e5-small-student")
    run = dense.retrieve(task, student, student, k=10)
    means = measures.save_system(tmp_path, "e5", run, task.qrels, measures.BITEXT_MEASURES)
    assert means["Success@1"] >= 0.9  # near ceiling for e5 (a sanity check)
    assert (tmp_path / "e5.run").is_file() and (tmp_path / "e5.perquery.tsv").is_file()


def test_measures_from_ranks_equal_trec_eval_with_ties_and_grades():
    import numpy as np

    from otclir.retrieval.measures import ranked_measures, trec_eval_measures

    rng = np.random.default_rng(0)
    qrels, tied, distinct = {}, {}, {}
    for q in range(120):
        docs = [f"d{j:04d}" for j in rng.choice(2000, 300, replace=False)]
        qrels[f"q{q}"] = {d: int(rng.integers(0, 3)) for d in rng.choice(docs, 12, replace=False)}
        scores = rng.random(len(docs))
        if q % 13:  # some queries are missing from the runs: they score 0
            tied[f"q{q}"] = {d: float(s) for d, s in zip(docs, np.round(scores, 2))}
            distinct[f"q{q}"] = {d: float(s) for d, s in zip(docs, scores)}
    qrels["nothing relevant"] = {"d0001": 0}
    measures = ("AP", "nDCG@10", "R@100", "P@5", "nDCG@20")
    ours, reference = ranked_measures(qrels, tied, measures), trec_eval_measures(qrels, tied, measures)
    assert (ours - reference).abs().max().max() < 1e-12 and ours.attrs["missing_queries"] == reference.attrs["missing_queries"]
    ours, reference = ranked_measures(qrels, distinct, ["RR@10"]), trec_eval_measures(qrels, distinct, ["RR@10"])
    assert (ours - reference).abs().max().max() < 1e-12
    assert ranked_measures(qrels, tied, ["Success@1"]) is None  # another measure: ir_measures computes it
