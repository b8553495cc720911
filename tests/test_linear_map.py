"""A closed-form map from the student's space onto the teacher's: exact on a known rotation,
refused on unpaired or mismatched input, and, fitted on real bitext, better than reading the
student's vectors as if they were the teacher's."""
import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.retrieval import linear_map


def test_ridge_recovers_a_linear_map_and_shrinks_with_its_penalty():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6))
    true = rng.normal(size=(6, 3))
    assert np.allclose(linear_map.fit_map(x, x @ true, "ridge", alpha=0.0), true)
    assert np.linalg.norm(linear_map.fit_map(x, x @ true, "ridge", alpha=1e4)) < np.linalg.norm(true)


@pytest.mark.parametrize("source, target, kind, message", [
    (np.ones((3, 4)), np.ones((2, 4)), "ridge", "paired rows"),
    (np.ones((3, 4)), np.ones((3, 5)), "procrustes", "one width"),
    (np.ones((3, 4)), np.ones((3, 4)), "cca", "kind"),
    (np.full((3, 4), np.nan), np.ones((3, 4)), "ridge", "source"),
])
def test_bad_input_is_refused_with_the_fix(source, target, kind, message):
    with pytest.raises(OtclirError, match=message):
        linear_map.fit_map(source, target, kind)


def test_a_map_of_another_width_is_refused():
    with pytest.raises(OtclirError, match="fit the map on this encoder"):
        linear_map.apply_map(np.ones((2, 3)), np.ones((4, 4)))


@pytest.mark.slow
@pytest.mark.cost(90)
def test_a_map_fitted_on_bitext_lets_the_teacher_read_queries_for_the_student():
    from otclir.data.tasks import bible_tasks
    from otclir.retrieval.measures import evaluate

    task = bible_tasks(["crossref"], "sw", "test", max_queries=60, max_docs=300, seed=0)["crossref"]
    mapping = linear_map.bitext_map("sw", budget=1000, seed=0)
    assert mapping.shape == (384, 384)
    mapped = evaluate(task.qrels, linear_map.mapped_run(task, mapping), ["AP"])["AP"]
    unmapped = evaluate(task.qrels, linear_map.mapped_run(task, np.eye(384)), ["AP"])["AP"]
    assert mapped > 2 * unmapped, (mapped, unmapped)


def test_mapped_token_vectors_keep_their_offsets_and_unit_length():
    from otclir.models.encoder import EncodedTexts

    rng = np.random.default_rng(2)
    tokens = rng.normal(size=(7, 4)).astype(np.float16)
    encoded = EncodedTexts(pooled=rng.normal(size=(2, 4)).astype(np.float32), tokens=tokens,
                           offsets=np.array([0, 3, 7]))
    mapping = rng.normal(size=(4, 3))
    mapped = linear_map.map_encoded(encoded, mapping)
    assert mapped.tokens.shape == (7, 3) and mapped.tokens.dtype == np.float16 and mapped.pooled.shape == (2, 3)
    assert np.allclose(np.linalg.norm(mapped.tokens.astype(np.float32), axis=1), 1, atol=2e-3)
    direction = tokens[4].astype(np.float64) @ mapping
    assert np.allclose(mapped.tokens[4], direction / np.linalg.norm(direction), atol=2e-3)
    assert (mapped.offsets == encoded.offsets).all()


@pytest.mark.slow
@pytest.mark.cost(60)
def test_a_mapped_student_is_ranked_by_mean_and_by_late_interaction_over_the_teachers_query_tokens():
    from otclir.data.tasks import bible_tasks

    tasks = bible_tasks(["crossref", "topical"], "tl", "test", max_queries=12, max_docs=80, seed=0)
    mapping = np.random.default_rng(3).normal(size=(384, 384))
    runs = linear_map.mapped_runs(tasks, mapping, scorers=["mean", "maxsim"], rerank_depth=5)
    assert set(runs) == {"crossref", "topical"}
    for name, task in tasks.items():
        assert runs[name]["mean"] == linear_map.mapped_run(task, mapping)  # the shared encoding, task by task
        for qid, ranked in runs[name]["maxsim"].items():
            assert set(ranked) == set(runs[name]["mean"][qid])  # the same documents, the top 5 reordered
            top = sorted(runs[name]["mean"][qid], key=runs[name]["mean"][qid].get, reverse=True)[:5]
            assert set(list(ranked)[:5]) == set(top)
    with pytest.raises(OtclirError, match="scored by 'mean' and 'maxsim'"):
        linear_map.mapped_runs(tasks, mapping, scorers=["bm25"])
    with pytest.raises(OtclirError, match="dict of retrieval tasks"):
        linear_map.mapped_runs(tasks["crossref"], mapping)
