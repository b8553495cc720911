"""Nave's Topical Bible read by the project's own reader: references expand to KJV verse ids (single
verses, ranges, whole chapters), mis-tagged single-chapter books are repaired, what cannot be read
is dropped and counted; a slice of the real module builds the topical task."""
import pytest

from otclir.data import naves
from otclir.data.debian import NAVES, require
from otclir.data.tasks import topical_judgments, topical_task

LENGTHS = {(51, 4): 18, (57, 1): 25, (20, 9): 18, (13, 24): 31}  # Col 4, Phlm 1, Prov 9, 1 Chr 24 (KJV)


def entry(body: str) -> str:
    return f'<entryFree n="X">\n<def>\n<lb/>→ {body}</def>\n</entryFree>'


def test_references_expand_to_verse_ids_and_what_cannot_be_read_is_counted():
    text = entry('<ref osisRef="Col.4.9">Col 4:9</ref>; <ref osisRef="Prov.9.1-Prov.9.5">Pr 9:1-5</ref>; '
                 '<ref osisRef="1Chr.24">1Ch 24</ref>; <ref osisRef="Phlm.1.1">Phm 1</ref>:10; '
                 '<ref osisRef="Col.8.16">Col 8:16</ref>; <ref osisRef="Prov.9.1-Prov.10.2">Pr 9:1-10:2</ref>')
    (topic,), counts = naves.parse_topics({"ONESIMUS": text}, LENGTHS)
    assert topic.query == "onesimus"
    assert topic.references["51004009"] == 1  # a verse named on its own
    assert {f"20009{v:03d}" for v in range(1, 6)} <= set(topic.references) and topic.references["20009003"] == 5
    assert sum(v.startswith("13024") for v in topic.references) == 31 and topic.references["13024031"] == 31
    assert topic.references["57001010"] == 1 and "57001001" not in topic.references  # "Phm 1</ref>:10" is 1:10
    assert counts.references == 6 and counts.repaired == 1
    assert counts.dropped == {"past the chapter's last verse or no such chapter": 1, "a range across chapters": 1}


@pytest.mark.parametrize("key, query", [("AGE, OLD", "old age"), ("ALLOY, OF METALS", "alloy of metals"),
                                        ("ASS (DONKEY)", "ass donkey"), ("HOSPITALITY", "hospitality")])
def test_headwords_become_queries(key, query):
    assert naves.clean_headword(key) == query


def test_a_slice_of_the_real_module_builds_the_topical_task(monkeypatch):
    entries = naves.read_module(require(NAVES))
    assert len(entries) > 5000
    chosen = {key: entries[key] for key in ("HOSPITALITY", "ONESIMUS", "ANTICHRIST", "TITHES")}
    found, counts = naves.parse_topics(chosen, naves.kjv_chapter_lengths())
    by_key = {t.key: t for t in found}
    assert set(by_key["ONESIMUS"].references) == {"51004009", "57001010"}  # Col 4:9 and the repaired Phm 1:10
    assert naves.is_name("onesimus") and not naves.is_name("hospitality")
    monkeypatch.setattr(naves, "topics", lambda: (tuple(found), counts))
    task = topical_task("sw", "test")
    # ONESIMUS names 2 test verses, under the 3 a query needs; the others are queries of the test books only
    assert set(task.queries.values()) == {"hospitality", "antichrist", "tithes"}
    for qid, judged in task.qrels.items():
        assert 3 <= len(judged) <= 100 and all(45 <= int(v[:2]) <= 66 and v in task.docs for v in judged)
        assert set(judged.values()) <= {1, 2}
    hospitality = next(q for q, text in task.queries.items() if text == "hospitality")
    assert task.qrels[hospitality]["58013002"] == 2  # Heb 13:2, named on its own
    queries, qrels, meta = topical_judgments("test", task.docs, grading="capped")
    assert set(queries) == set(task.queries) and all(set(j.values()) == {1} for j in qrels.values())
    assert meta["names"] == []


def test_notebook_01_describes_the_topical_task_from_the_reader_and_the_splits():
    from otclir.experiments import exploration

    reader = exploration.topical_reader_counts()
    assert reader["topics"] > 5000 and reader["references"] > reader["repaired"] > 0
    assert reader["dropped"] == sum(v for k, v in reader.items() if k.startswith("dropped: "))
    summary, per_query = exploration.topical_stats()
    assert list(summary.split) == ["dev", "test"]
    assert (summary.names + summary.concepts == summary.queries).all()
    assert per_query.relevant.between(3, 100).all() and (per_query.holding_query_word <= per_query.relevant).all()
    assert summary.share_in_range.between(0, 1).all() and summary.share_holding_query_word.between(0, 1).all()
    overlap = exploration.topical_crossref_overlap("test")
    assert 0 < overlap["share_co_listed_in_a_topic"] < 1 and overlap["topical_queries"] == summary.queries.iloc[1]
    gradings = exploration.topical_gradings("test")
    assert gradings.loc["capped", "judgments"] < gradings.loc["graded", "judgments"]
    assert (gradings.bm25_english_AP > 0.05).all()  # far above random ranking (about 0.006)
