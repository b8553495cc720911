"""The systems of the distillation comparison on a small test pool (lexical systems: no model)."""
import pandas as pd
import pytest

from otclir.data.tasks import bible_tasks
from otclir.errors import OtclirError
from otclir.experiments import headline, systems


def test_english_documents_keep_a_verse_english_numbers_otherwise():
    task = systems.test_task("ny", None, None)
    english = systems.english_documents(task)
    assert list(english) == list(task.docs)
    own = sorted(d for d in task.docs if english[d] == task.docs[d])
    assert own == ["64001015", "66012018"]  # 3 John 1:15, Revelation 12:18: not verses of the English Bible
    assert len(own) == 2 and len(task.docs) > 3000  # every other document reads in English


def test_compare_systems_writes_runs_and_a_rerun_replaces_them(tmp_outputs):
    frame, per_query = headline.compare_systems("tl", {}, "toy", test_queries=12, test_docs=150,
                                                systems=["bm25-dictionary"], budgets=[200], log=lambda m: None)
    assert frame.system.tolist() == ["bm25-dictionary@200"] and frame.scorer.tolist() == ["bm25"]
    assert frame.language.eq("tl").all() and 0 <= frame.AP.iloc[0] <= 1 and "gap_share_AP" in frame
    assert per_query["query"].nunique() == 12 and set(per_query.system) == {"bm25-dictionary@200"}
    folder = systems.runs_folder("toy", systems.test_task("tl", 12, 150))
    assert {"qrels.txt", "task.json", "summary.tsv", "bm25-dictionary@200.bm25.run"} <= {p.name for p in folder.iterdir()}
    again, per_query = headline.compare_systems("tl", {}, "toy", test_queries=12, test_docs=150,
                                                systems=["bm25-dictionary"], budgets=[100], log=lambda m: None)
    assert set(per_query.system) == {"bm25-dictionary@100"}  # the earlier system's measures are gone
    with pytest.raises(OtclirError, match="unknown system"):
        headline.compare_systems("tl", {}, "toy", systems=["bm25"])


def test_both_bible_tasks_rank_one_pool_and_the_lexical_references_run_on_each(tmp_outputs):
    frame, per_query = headline.compare_systems("tl", {}, "toy", tasks=["crossref", "topical"], test_queries=12,
                                                test_docs=150, systems=["bm25-dictionary", "bm25-english"], budgets=[200],
                                                log=lambda m: None)
    assert set(zip(frame.task, frame.system)) == {(t, s) for t in ("crossref", "topical")
                                                   for s in ("bm25-dictionary@200", "bm25-english")}
    english = frame.set_index(["task", "system"]).AP
    assert english[("topical", "bm25-english")] > english[("topical", "bm25-dictionary@200")]  # no translation needed
    pools = bible_tasks(["crossref", "topical"], "tl", "test", max_queries=12, max_docs=150)
    crossref, topical = (systems.runs_folder("toy", task) for task in pools.values())
    assert crossref != topical and (topical / "bm25-english.bm25.run").is_file()
    assert per_query.groupby("task")["query"].nunique().to_dict() == {"crossref": 12, "topical": 12}


def test_reciprocal_rank_fusion_adds_each_runs_reciprocal_ranks():
    fused = headline.reciprocal_rank_fusion([{"q": {"a": 3.0, "b": 2.0}}, {"q": {"b": 9.0, "c": 1.0}}], k=1)
    assert fused["q"] == pytest.approx({"b": 1 / 3 + 1 / 2, "a": 1 / 2, "c": 1 / 3})
    assert list(fused["q"]) == ["b", "a", "c"]


def test_gap_share_is_measured_from_zero_shot_to_ceiling():
    frame = pd.DataFrame({"language": "sw", "scorer": "mean", "system": ["student-zero-shot", "ceiling-teacher-on-english", "x"],
                          "AP": [0.1, 0.3, 0.15]})
    assert systems.add_gap_share(frame).gap_share_AP.tolist() == pytest.approx([0.0, 1.0, 0.25])
