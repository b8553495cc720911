"""The topical task read by kind of topic: names and concepts apart and together, seeds averaged
first, lexical systems under their own scoring."""
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation import query_kinds


def rows():
    out = []
    for system, scorer, values in (("student-zero-shot", "mean", {"n1": 0.4, "c1": 0.1, "c2": 0.0}),
                                   ("distill-ot@96", "mean", {"n1": 0.6, "c1": 0.2, "c2": 0.0}),
                                   ("distill-ot@96", "maxsim", {"n1": 0.9, "c1": 0.9, "c2": 0.9}),
                                   ("bm25-english", "bm25", {"n1": 1.0, "c1": 0.5, "c2": 0.5})):
        for seed in ((0, 1) if system.startswith("distill") else (0,)):
            for query, value in values.items():
                out.append({"language": "sw", "task": "topical", "query": query, "system": system, "scorer": scorer,
                            "seed": seed, "AP": value + (0.1 if seed else 0.0) * system.startswith("distill")})
        out.append({"language": "sw", "task": "crossref", "query": "45001001", "system": system, "scorer": scorer,
                    "seed": 0, "AP": 0.99})
    return pd.DataFrame(out)


def test_names_and_concepts_are_read_apart_and_together():
    kinds = {"n1": "name", "c1": "concept", "c2": "concept"}
    table = query_kinds.scores_by_kind({"en-sw": rows()}, kinds)
    assert list(table.columns) == ["name", "concept", "all"]
    ot = table.loc[("sw", "distill-ot@96")]
    assert ot["name"] == pytest.approx(0.65) and ot["concept"] == pytest.approx(0.15)  # seeds 0 and 1 averaged
    assert ot["all"] == pytest.approx((0.65 + 0.25 + 0.05) / 3)  # every query once, the MaxSim rows left out
    assert table.loc[("sw", "bm25-english"), "name"] == 1.0  # BM25 under its own scoring
    first, line = query_kinds.kind_lines(table, "distill-ot@96", "student-zero-shot")
    assert first == "1 name topics and 2 concept topics"
    assert line == "sw: student-zero-shot 0.4000 on names, 0.0500 on concepts; distill-ot@96 +0.2500 on names, +0.1000 on concepts"
    with pytest.raises(OtclirError, match="have no kind"):
        query_kinds.scores_by_kind(rows(), {"n1": "name"})
    with pytest.raises(OtclirError, match="no task column"):
        query_kinds.scores_by_kind(rows().drop(columns="task"), kinds)


def test_every_topical_query_has_the_kind_its_task_gives_it():
    from otclir.data.tasks import split_verses, topical_judgments

    kinds = query_kinds.topic_kinds()
    for split in ("dev", "test"):
        queries, _, meta = topical_judgments(split, split_verses("en", split))
        assert set(queries) <= set(kinds)  # the same query ids as the task's
        assert {q for q in queries if kinds[q] == "name"} == set(meta["names"])
