"""Cross-reference test queries read by the genre of their book: every query has one genre, and
the genres' means recombine to the task's mean as the stored results report it."""
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation.genres import genre_of_book, scores_by_genre
from otclir.paths import project_root

STORE = project_root() / "results" / "paper" / "03_distillation_training"


def test_the_stored_swahili_queries_split_by_genre_and_recombine():
    per_query = pd.read_csv(STORE / "perquery_en-sw.csv.gz", dtype={"query": str})
    table = scores_by_genre(per_query)
    counts = table.attrs["queries"]
    assert sum(counts.values()) == 1536 and counts["prophecy"] == 137
    zero = table.loc[("sw", "student-zero-shot")]
    weighted = sum(zero[genre] * count for genre, count in counts.items()) / 1536
    assert weighted == pytest.approx(zero["all"])
    results = pd.read_csv(STORE / "results.csv")
    stored = results[(results.language == "sw") & (results.task == "crossref") & (results.scorer == "mean")
                     & (results.system == "student-zero-shot")].AP.item()
    assert zero["all"] == pytest.approx(stored, abs=1e-6)


def test_a_book_outside_the_test_split_has_no_genre():
    with pytest.raises(OtclirError, match="not in the test split"):
        genre_of_book(40)
