"""Per-query language fairness: PEER against the peer_measure package, and the rank measures."""
import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.evaluation.language_fairness import peer, rank_distance, share_skew, top_shares

LANGUAGES = ("en", "sw", "fr")


def _random_query(rng, n_docs=40, n_relevant=4):
    """A parallel pool of ``n_docs`` verses per language with distinct scores, ``n_relevant`` of
    them relevant (every copy): the run and qrels the package reads, the ranks ours reads."""
    docs = [f"{code}:{v}" for code in LANGUAGES for v in range(n_docs)]
    scores = rng.permutation(len(docs)).astype(float)  # distinct: no tie-breaking question
    relevant = rng.choice(n_docs, n_relevant, replace=False)
    qrels = {f"{code}:{v}": 1 for code in LANGUAGES for v in relevant}
    order = sorted(range(len(docs)), key=lambda j: -scores[j])
    rank = {docs[j]: r for r, j in enumerate(order, 1)}
    by_language = [[rank[f"{code}:{v}"] for v in relevant] for code in LANGUAGES]
    return {d: s for d, s in zip(docs, scores)}, qrels, by_language


@pytest.fixture(scope="module")
def package():
    """The peer_measure package's statistic and rank assignment. Its provider does not run under
    the pinned ir_measures (0.4.3 has no ``util.flatten_measures``), so its evaluator's two steps
    are called as its ``_iter_calc`` calls them; the provider it registers on import is removed
    again, so no other test's measures meet it."""
    import ir_measures

    providers = list(ir_measures.DefaultPipeline.providers)
    import peer_measure

    ir_measures.DefaultPipeline.providers[:] = providers
    return peer_measure


def _package_peer(peer_measure, run, qrels, cutoff):
    mapping = {d: d.split(":")[0] for d in run}
    evaluator = peer_measure.PEEREvaluator.__new__(peer_measure.PEEREvaluator)
    evaluator.all_mappings = {0: [set(mapping.values()), mapping]}
    judged = {d: qrels.get(d, 0) for d in run}  # the package reads every ranked document's grade
    ranking = sorted(run.items(), key=lambda item: (-item[1], item[0]))
    by_grade = evaluator.assign_rels_langs_ranks(0, cutoff, judged, ranking)
    weights = {0: 0.0, 1: 1.0}
    return sum(peer_measure.kruskal(*groups.values())[1] * weights[grade] for grade, groups in by_grade.items())


@pytest.mark.parametrize("seed", range(12))
def test_peer_equals_the_package(package, seed):
    """With the package's rule for unretrieved documents, PEER is the package's value exactly."""
    rng = np.random.default_rng(seed)
    run, qrels, by_language = _random_query(rng)
    for cutoff in (5, 20, 60, 120):
        assert peer(by_language, cutoff, tail="package") == pytest.approx(_package_peer(package, run, qrels, cutoff), abs=1e-12)


def test_peer_tails_agree_when_every_relevant_document_is_retrieved(package):
    rng = np.random.default_rng(0)
    run, qrels, by_language = _random_query(rng)
    cutoff = max(max(g) for g in by_language)
    assert peer(by_language, cutoff) == pytest.approx(peer(by_language, cutoff, tail="package"), abs=1e-15)
    assert peer(by_language, cutoff) == pytest.approx(_package_peer(package, run, qrels, cutoff), abs=1e-12)


def test_peer_places_unretrieved_documents_after_the_cutoff():
    """One language's relevant documents all at the top, another's all unretrieved: the paper's
    tail (after the cutoff) finds them unequal; the package's tail (rank 4.5 here, above some
    retrieved ones) finds them less so."""
    groups = [[1, 2, 3], [50, 60, 70]]
    assert peer(groups, cutoff=10) < 0.05
    assert peer(groups, cutoff=10, tail="package") > peer(groups, cutoff=10)


def test_peer_is_one_where_nothing_can_be_compared():
    assert peer([[1, 2], []], cutoff=10) == 1.0  # one language has relevant documents
    assert peer([[20, 30], [40]], cutoff=10) == 1.0  # none retrieved


def test_peer_refuses_what_it_cannot_read():
    with pytest.raises(OtclirError, match="cutoff"):
        peer([[1], [2]], cutoff=0)
    with pytest.raises(OtclirError, match="tail"):
        peer([[1], [2]], cutoff=5, tail="middle")
    with pytest.raises(OtclirError, match="1-based"):
        peer([[0], [2]], cutoff=5)


def test_rank_distance_counts_only_the_top_with_a_cutoff():
    ranks = [[1, 3, 5000], [2, 2, 2]]
    assert rank_distance(ranks) == pytest.approx((4999 + 0) / 2)
    assert rank_distance(ranks, cutoff=100) == pytest.approx((100 + 0) / 2)
    with pytest.raises(OtclirError, match="verses x languages"):
        rank_distance([[1]])


def test_top_shares_and_skew():
    shares = top_shares(np.array([0, 1, 2, 0, 1, 2]), 3)
    assert shares.tolist() == pytest.approx([1 / 3] * 3)
    assert share_skew(shares) == pytest.approx(0.0)
    assert share_skew(top_shares(np.zeros(10, dtype=int), 4)) == pytest.approx(0.75)
    with pytest.raises(OtclirError, match="language indices"):
        top_shares(np.array([0, 3]), 3)
    with pytest.raises(OtclirError, match="sum to 1"):
        share_skew([0.5, 0.2])
