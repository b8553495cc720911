import pytest

from otclir.data import tasks
from otclir.data.bible import read_language, verse_id
from otclir.data.splits import SPLITS, book_splits, split_of_verse


def test_no_verse_is_in_two_splits():
    keys = read_language("en")
    owners = {}
    for split, books in book_splits().items():
        for key in keys:
            if key[0] in books:
                assert key not in owners, f"{key} in {owners[key]} and {split}"
                owners[key] = split
    assert len(owners) == len(keys)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_evaluation_splits_keep_enough_cross_references(split):
    judged = tasks.crossref_judgments(split)
    assert len(judged) >= 500
    assert sum(len(d) >= 3 for d in judged.values()) >= 200
    for query, docs in judged.items():
        assert split_of_verse(query) == split
        assert all(split_of_verse(d) == split for d in docs)


def test_crossref_task_removes_the_query_translation_and_stays_in_split():
    task = tasks.crossref_task("tl", "test")
    assert set(task.qrels) == set(task.queries)
    for qid, judged in task.qrels.items():
        assert task.exclude[qid] == {qid}
        assert qid not in judged
        assert set(judged) <= set(task.docs)
    assert all(split_of_verse(d) == "test" for d in task.docs)
    assert task.queries["45001001"] == read_language("en")[(45, 1, 1)]


def test_builders_are_deterministic_and_sample_with_the_seed():
    a = tasks.crossref_task("sw", "dev", max_queries=50, seed=3)
    b = tasks.crossref_task("sw", "dev", max_queries=50, seed=3)
    c = tasks.crossref_task("sw", "dev", max_queries=50, seed=4)
    assert a.qrels == b.qrels and list(a.queries) == list(b.queries)
    assert len(a.queries) == 50 and set(a.queries) != set(c.queries)


def test_bitext_task_judges_the_same_verse():
    task = tasks.bitext_task("fr", "test", max_queries=20)
    assert all(task.qrels[q] == {q: 1} for q in task.queries)


def test_multilingual_pool_judges_every_language_copy():
    task = tasks.multilingual_task(["en", "sw", "tl"], "test", max_queries=30)
    for qid, judged in task.qrels.items():
        verses = {d.split(":")[1] for d in judged}
        for vid in verses:
            assert {f"{c}:{vid}" for c in ["en", "sw", "tl"]} <= set(judged)
        assert task.exclude[qid] == {f"{c}:{qid}" for c in ["en", "sw", "tl"]}
    assert set(task.doc_language.values()) == {"en", "sw", "tl"}


def test_task_save_and_load_round_trip(tmp_path):
    task = tasks.multilingual_task(["en", "tl"], "dev", max_queries=10)
    loaded = tasks.RetrievalTask.load(task.save(tmp_path / "t"))
    assert loaded.queries == task.queries and loaded.docs == task.docs
    assert loaded.qrels == task.qrels and loaded.exclude == task.exclude
    assert loaded.doc_language == task.doc_language and loaded.name == task.name


@pytest.mark.slow
def test_committed_manifest_matches_the_tasks(tmp_outputs):
    built = tasks.build_all(save=False)
    assert tasks.manifest(built) == tasks.read_manifest()
    assert set(tasks.read_manifest()) == set(tasks.TASK_KINDS)


def test_unknown_split_and_language_are_named():
    with pytest.raises(ValueError, match="unknown split 'val'"):
        tasks.crossref_task("sw", "val")
    with pytest.raises(KeyError, match="known languages"):
        tasks.crossref_task("zz", "test")
    assert set(SPLITS) == set(book_splits())
    assert verse_id((66, 22, 21)) == "66022021"
