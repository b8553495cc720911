import pytest

from otclir.data import trec
from otclir.errors import TrecFormatError


def test_qrels_and_runs_round_trip(tmp_path):
    qrels = {"q2": {"d1": 1, "d3": 2}, "q1": {"d2": 1}}
    assert trec.read_qrels(trec.write_qrels(tmp_path / "qrels", qrels)) == qrels
    run = {"q1": {"d1": 0.5, "d2": 0.75, "d3": 0.5}}
    path = trec.write_run(tmp_path / "run", run, "sys")
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d2 1 0.75 sys"
    assert [line.split()[2] for line in lines] == ["d2", "d3", "d1"]  # ties as trec_eval reads them: docid descending
    assert trec.read_run(path) == run


def test_a_written_run_scores_as_the_run_it_came_from_ties_and_close_scores_alike(tmp_path):
    from otclir.retrieval.measures import per_query

    qrels = {"q1": {"d1": 1, "d4": 1}, "q2": {"d2": 1}}
    run = {"q1": {"d1": 0.5, "d2": 0.5, "d3": 0.5, "d4": 0.1234567891, "d5": 0.1234567892},
           "q2": {"d1": 0.30000001, "d2": 0.30000002, "d3": 0.2}}
    path = trec.write_run(tmp_path / "run", run, "sys")
    measures = ["AP", "RR", "nDCG@10", "P@1"]
    assert per_query(qrels, trec.read_run(path), measures).equals(per_query(qrels, run, measures))
    ranks = {line.split()[2]: int(line.split()[3]) for line in path.read_text().splitlines() if line.startswith("q1")}
    assert [d for d, _ in sorted(ranks.items(), key=lambda x: x[1])][:3] == ["d3", "d2", "d1"]
    assert per_query(qrels, run, ["RR"]).loc["q1", "RR"] == pytest.approx(1 / 3)  # d1 is third of the tied three


def test_malformed_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "qrels.txt"
    bad.write_text("q1 0 d1 1\nq1 0 d2\n")
    with pytest.raises(TrecFormatError, match=r"qrels\.txt:2: a qrels line has 4 fields"):
        trec.read_qrels(bad)
    bad.write_text("q1 0 d1 yes\n")
    with pytest.raises(TrecFormatError, match=r":1: relevance must be an integer"):
        trec.read_qrels(bad)
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 two 0.4 tag\n")
    with pytest.raises(TrecFormatError, match=r"run\.txt:2: rank must be an integer"):
        trec.read_run(run)


def test_tsv_round_trip_flattens_whitespace(tmp_path):
    table = {"a": "one\ttwo\nthree", "b": "four"}
    path = trec.write_tsv(tmp_path / "x.tsv", table)
    assert trec.read_tsv(path) == {"a": "one two three", "b": "four"}
    (tmp_path / "bad.tsv").write_text("no tab here\n")
    with pytest.raises(TrecFormatError, match=r"bad\.tsv:1"):
        trec.read_tsv(tmp_path / "bad.tsv")


def test_a_run_read_in_blocks_or_ungrouped_measures_as_read_whole(tmp_path, monkeypatch):
    """otclir compare reads a run a block of queries at a time (bounded memory); blocks of one
    query, or a run whose queries' lines are interleaved (read whole), give the same table."""
    import functools

    from otclir.evaluation.compare import load_measures

    qrels = trec.write_qrels(tmp_path / "qrels.txt", {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d1": 1},
                                                      "q4": {"d4": 1}})
    run = {"q1": {"d1": 0.2, "d2": 0.9}, "q2": {"d3": 0.5, "d1": 0.4, "d2": 0.1}, "q3": {"d2": 0.3, "d1": 0.1}}
    grouped = trec.write_run(tmp_path / "a.run", run, tag="a")
    lines = grouped.read_text().splitlines()
    interleaved = tmp_path / "b.run"
    interleaved.write_text("\n".join(lines[::2] + lines[1::2]) + "\n")
    with pytest.raises(trec.UngroupedRunError, match="sort -s -k1,1 b.run"):
        list(trec.read_run_blocks(interleaved))
    whole, notes = load_measures(qrels, [grouped], ["AP", "nDCG@10"])
    assert notes == ["a: 1 of 4 judged queries missing from the run, scored 0"]
    assert whole["AP"]["a"].round(4).to_dict() == {"q1": 0.5, "q2": 0.8333, "q3": 0.5, "q4": 0.0}
    again, _ = load_measures(qrels, [interleaved], ["AP", "nDCG@10"])
    monkeypatch.setattr(trec, "read_run_blocks", functools.partial(trec.read_run_blocks, queries=1))
    blocks, _ = load_measures(qrels, [grouped], ["AP", "nDCG@10"])
    for measure in ("AP", "nDCG@10"):
        assert again[measure]["b"].to_dict() == whole[measure]["a"].to_dict() == blocks[measure]["a"].to_dict()
