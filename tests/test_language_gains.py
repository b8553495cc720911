"""Gains across languages: the per-seed gain over the zero-shot student with a t interval over
seeds, the seeds dev selection kept untrained, and the fertility of a corpus."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from otclir.errors import OtclirError
from otclir.evaluation import language_gains
from otclir.models.tokenization import load_tokenizer


def results() -> pd.DataFrame:
    rows = []
    for language, zero, ot in (("sw", 0.050, (0.058, 0.060, 0.059)), ("tl", 0.065, (0.065, 0.065, 0.065))):
        rows.append({"language": language, "task": "crossref", "system": "student-zero-shot", "scorer": "mean",
                     "AP": zero})
        rows.append({"language": language, "task": "crossref", "system": "ceiling-teacher-on-english",
                     "scorer": "mean", "AP": 0.1})
        for seed, value in enumerate(ot):
            for budget, shift in (("500", -0.004), ("2000", 0.0)):
                rows.append({"language": language, "task": "crossref", "system": f"distill-ot@{budget}",
                             "scorer": "mean", "AP": value + shift, "seed": seed,
                             "selected_untrained": language == "tl"})
    rows.append({"language": "sw", "task": "topical", "system": "student-zero-shot", "scorer": "mean", "AP": 0.9})
    return pd.DataFrame(rows)


def test_gains_carry_a_seed_interval_and_the_untrained_count_at_the_largest_budget():
    table = language_gains.language_gains(results(), fertility={"sw": 1.6}).set_index("language")
    sw = table.loc["sw"]
    assert sw.system == "distill-ot@2000" and sw.seeds == 3
    gains = np.array([0.008, 0.010, 0.009])
    assert sw.gain == pytest.approx(gains.mean())
    half = student_t.ppf(0.975, 2) * gains.std(ddof=1) / np.sqrt(3)
    assert (sw.gain_low, sw.gain_high) == pytest.approx((gains.mean() - half, gains.mean() + half))
    assert sw.kept_untrained == 0 and sw.fertility == 1.6 and sw.zero_shot_share == pytest.approx(0.5)
    tl = table.loc["tl"]
    assert tl.kept_untrained == 3 and tl.gain == pytest.approx(0) and np.isnan(tl.fertility)
    smaller = language_gains.language_gains(results(), budget="500").set_index("language")
    assert smaller.loc["sw", "gain"] == pytest.approx(gains.mean() - 0.004)


def test_missing_columns_or_zero_shot_are_named():
    with pytest.raises(OtclirError, match="AP"):
        language_gains.language_gains(results().drop(columns="AP"))
    with pytest.raises(OtclirError, match="student-zero-shot"):
        language_gains.language_gains(results().query("system != 'student-zero-shot'"))
    with pytest.raises(OtclirError, match="scorer 'maxsim'"):
        language_gains.language_gains(results(), scorer="maxsim")


def test_fertility_counts_pieces_per_word():
    tokenizer = load_tokenizer("e5-small-student")
    texts = ["In the beginning God created the heaven and the earth.", ""]
    pieces = len(tokenizer(texts[0].split(), is_split_into_words=True, add_special_tokens=False)["input_ids"])
    assert language_gains.corpus_fertility(texts, tokenizer) == pieces / 10
    with pytest.raises(OtclirError, match="empty"):
        language_gains.corpus_fertility(["", " "], tokenizer)
