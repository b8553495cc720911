"""The library's own boundaries: each case a user met (issue "faults the library's users meet")
now ends in a clear error or a result marked undefined; writers refuse what their readers
cannot read back, and what they write reads back equal (property-based round trips)."""
import math
import string

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otclir.data import trec
from otclir.errors import InputError, OtclirError
from otclir.evaluation import power, stats
from otclir.retrieval import measures
from otclir.transport import ot

CASES = [
    ("a NaN score in a run held in memory", lambda: measures.evaluate({"q": {"d": 1}}, {"q": {"d": math.nan, "e": 0.5}}, ["AP"]),
     "scores must be finite"),
    ("int query ids in qrels against text ids in a run", lambda: measures.evaluate({1: {"d": 1}}, {"1": {"d": 0.5}}, ["AP"]),
     "convert them with str"),
    ("a NaN cost for the exact solver", lambda: ot.exact_transport(torch.tensor([[math.nan, 1.0], [1.0, 0.0]])),
     "not finite"),
    ("an infinite marginal weight", lambda: ot.sinkhorn(torch.rand(2, 2), a=torch.tensor([1.0, math.inf])), "not finite"),
    ("a cost given as numpy", lambda: ot.sinkhorn(np.ones((2, 2))), "torch.as_tensor"),
    ("p-values as a 2-d array", lambda: stats.correct(np.full((2, 2), 0.1)), "1 dimension"),
    ("values given as text", lambda: stats.bootstrap_ci(["0.1", "0.2"]), "must hold numbers"),
    ("a bootstrap of block 0", lambda: stats.bootstrap(lambda i: i.mean(1), 5, n_resamples=10, block=0), "block"),
    ("a NaN draw", lambda: stats.bootstrap_p([math.nan, 0.1]), "not finite"),
    ("a confidence level of 2", lambda: stats.percentile_interval([0.1, 0.2], level=2), "level must be < 1"),
]


@pytest.mark.parametrize("label, call, says", CASES, ids=[c[0] for c in CASES])
def test_a_case_users_met_is_refused_with_a_named_error(label, call, says):
    with pytest.raises(OtclirError, match=says):
        call()


def test_degenerate_statistics_are_marked_undefined_not_zero():
    assert math.isnan(stats.effect_size([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]))  # a constant shift: no spread
    assert stats.effect_size([0.5, 0.2], [0.5, 0.2]) == 0.0  # equal systems: no effect
    with pytest.raises(OtclirError, match="no variance"):
        stats.paired_t_test([1, 1, 1], [0, 0, 0])
    equal = np.array([[0.1, 0.2, 0.4]] * 2)
    assert math.isnan(power.minimum_detectable_effect(equal, equal)["mde"])
    assert math.isnan(power.minimum_detectable_effect(equal[0], equal[0])["mde"])


def test_series_are_paired_by_label():
    a = pd.Series([0.1, 0.5, 0.9, 0.3], index=list("abcd"))
    assert stats.randomization_test(a, a.iloc[::-1], n_permutations=99) == 1.0  # the same values, reordered
    with pytest.raises(OtclirError, match="different queries"):
        stats.paired_t_test(a, a.rename(index={"a": "z"}))


def test_writers_refuse_what_their_readers_cannot_read_back(tmp_path):
    with pytest.raises(InputError, match="without spaces"):
        trec.write_run(tmp_path / "a.run", {"q": {"d 1": 1.0}}, tag="x")
    with pytest.raises(InputError, match="white space"):
        trec.write_tsv(tmp_path / "t.tsv", {"a\tb": "text"})
    with pytest.raises(InputError, match="plain name"):
        measures.save_system(tmp_path, "a/b", {"q": {"d": 1.0}}, {"q": {"d": 1}})
    with pytest.raises(InputError, match="file path"):
        trec.write_qrels(3, {"q": {"d": 1}})
    assert not any(tmp_path.iterdir())  # nothing written before the refusal


def test_loaders_refuse_nonsense_before_reading():
    from otclir.data.bible import parse_verse_id
    from otclir.data.tasks import bible_task, bitext_pairs

    with pytest.raises(InputError, match="budget"):
        bitext_pairs("sw", budget=-1)
    with pytest.raises(InputError, match="max_queries"):
        bible_task("crossref", "sw", max_queries=0)
    with pytest.raises(InputError, match="book 99"):
        parse_verse_id("99001001")


IDS = st.text(string.ascii_letters + string.digits + "-_:.", min_size=1, max_size=12)
SCORES = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(IDS, st.dictionaries(IDS, SCORES, min_size=1, max_size=6), min_size=1, max_size=4))
def test_a_written_run_reads_back_equal(tmp_path_factory, run):
    path = trec.write_run(tmp_path_factory.mktemp("run") / "a.run", run, tag="x")
    assert trec.read_run(path) == {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items()}


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(IDS, st.dictionaries(IDS, st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=4))
def test_written_judgments_read_back_equal(tmp_path_factory, qrels):
    path = trec.write_qrels(tmp_path_factory.mktemp("qrels") / "qrels.txt", qrels)
    assert trec.read_qrels(path) == qrels


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(IDS, st.lists(st.text(string.ascii_letters + "äöü ", min_size=1, max_size=8), min_size=1,
                                     max_size=4).map(" ".join), min_size=1, max_size=5))
def test_a_written_table_reads_back_equal_in_normal_form(tmp_path_factory, table):
    path = trec.write_tsv(tmp_path_factory.mktemp("tsv") / "t.tsv", table)
    assert trec.read_tsv(path) == {k: " ".join(v.split()) for k, v in table.items()}
