"""Measures per alpha with two-level intervals, and the fairness table beside the merges."""
import numpy as np
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation.alpha_reading import fairness_table, measures_by_system, seed_query_matrix, two_level_interval


def grid_rows(n_queries=30, seeds=(0, 1, 2)):
    """Per-query rows of an untrained student and alphas 0 and 1 in the multilingual pool and its
    round-robin merge; alpha 1 is the better system, the merge the fairer one."""
    rng = np.random.default_rng(0)
    rows = []
    systems = [(None, None)] + [(a, s) for a in (0.0, 1.0) for s in seeds]
    for alpha, seed in systems:
        base = 0.2 if alpha is None else 0.3 + 0.1 * alpha
        for setting, bias in (("multilingual", 100.0), ("multilingual-round-robin", 10.0)):
            for language in ("en", "sw"):
                for q in range(n_queries):
                    rows.append({"system": "zero-shot" if alpha is None else "trained", "alpha": alpha, "seed": seed,
                                 "setting": setting, "query_language": language, "doc_language": "all",
                                 "query": f"q{q}", "AP": base + rng.normal(0, 0.02),
                                 "language_bias": bias + rng.normal(0, 1), "language_bias@100": bias / 10,
                                 "top10_skew": 0.1, "PEER@100": 0.5})
    return pd.DataFrame(rows)


def test_a_query_is_averaged_over_languages_and_kept_per_seed():
    rows = grid_rows()
    matrix = seed_query_matrix(rows[(rows.alpha == 1.0) & (rows.setting == "multilingual")], "AP")
    assert matrix.shape == (3, 30)
    untrained = seed_query_matrix(rows[rows.alpha.isna() & (rows.setting == "multilingual")], "AP")
    assert untrained.shape == (1, 30)
    with pytest.raises(OtclirError, match="without it"):
        seed_query_matrix(rows.assign(PEER=np.nan), "PEER")


def test_intervals_cover_the_mean_and_shrink_with_more_queries():
    rng = np.random.default_rng(1)
    small = rng.normal(0.5, 0.1, (3, 20))
    large = rng.normal(0.5, 0.1, (3, 2000))
    mean, low, high = two_level_interval(small, 1000)
    assert low < mean < high
    _, low2, high2 = two_level_interval(large, 1000)
    assert high2 - low2 < high - low
    with pytest.raises(OtclirError, match="finite"):
        two_level_interval(np.array([[np.nan, 1.0]]))


def test_measures_by_system_orders_the_systems_and_names_missing_settings():
    table = measures_by_system(grid_rows(), ["multilingual"], ["AP"], n_resamples=300)
    by = table.set_index("system")
    assert list(table.system) == ["untrained", "alpha=0", "alpha=1"]
    assert by.loc["alpha=1", "mean"] > by.loc["alpha=0", "mean"] > by.loc["untrained", "mean"]
    assert by.loc["alpha=1", "seeds"] == 3 and by.loc["untrained", "seeds"] == 1
    with pytest.raises(OtclirError, match="no rows for setting"):
        measures_by_system(grid_rows(), ["bitext"], ["AP"])


def test_the_fairness_table_puts_the_merges_beside_each_system():
    table = fairness_table(grid_rows(), n_resamples=200)
    assert list(table.index) == ["untrained", "alpha=0", "alpha=1"]
    assert ("multilingual-round-robin", "language_bias") in table.columns
    assert ("multilingual-normalised", "AP") not in table.columns  # a merge the rows lack is left out
    merged = float(table.loc["untrained", ("multilingual-round-robin", "language_bias")].split()[0])
    own = float(table.loc["untrained", ("multilingual", "language_bias")].split()[0])
    assert merged < own
