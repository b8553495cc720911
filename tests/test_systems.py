"""The systems of the distillation comparison on a small test pool (lexical systems: no model)."""
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.experiments import systems


def test_english_documents_keep_a_verse_english_numbers_otherwise():
    task = systems.test_task("ny", None, None)
    english = systems.english_documents(task)
    assert list(english) == list(task.docs)
    own = sorted(d for d in task.docs if english[d] == task.docs[d])
    assert own == ["64001015", "66012018"]  # 3 John 1:15, Revelation 12:18: not verses of the English Bible
    assert len(own) == 2 and len(task.docs) > 3000  # every other document reads in English


def test_compare_systems_writes_runs_and_a_rerun_replaces_them(tmp_outputs):
    frame, per_query = systems.compare_systems("tl", {}, "toy", test_queries=12, test_docs=150,
                                               systems=["bm25-dictionary"], budgets=[200], log=lambda m: None)
    assert frame.system.tolist() == ["bm25-dictionary@200"] and frame.scorer.tolist() == ["bm25"]
    assert frame.language.eq("tl").all() and 0 <= frame.AP.iloc[0] <= 1 and "gap_share_AP" in frame
    assert per_query["query"].nunique() == 12 and set(per_query.system) == {"bm25-dictionary@200"}
    folder = systems.runs_folder("toy", systems.test_task("tl", 12, 150))
    assert {"qrels.txt", "task.json", "summary.tsv", "bm25-dictionary@200.bm25.run"} <= {p.name for p in folder.iterdir()}
    again, per_query = systems.compare_systems("tl", {}, "toy", test_queries=12, test_docs=150,
                                               systems=["bm25-dictionary"], budgets=[100], log=lambda m: None)
    assert set(per_query.system) == {"bm25-dictionary@100"}  # the earlier system's measures are gone
    with pytest.raises(OtclirError, match="unknown system"):
        systems.compare_systems("tl", {}, "toy", systems=["bm25"])


def test_gap_share_is_measured_from_zero_shot_to_ceiling():
    frame = pd.DataFrame({"language": "sw", "scorer": "mean", "system": ["student-zero-shot", "ceiling-teacher-on-english", "x"],
                          "AP": [0.1, 0.3, 0.15]})
    assert systems.add_gap_share(frame).gap_share_AP.tolist() == pytest.approx([0.0, 1.0, 0.25])
