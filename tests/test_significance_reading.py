"""Notebook 05's reading of the distillation comparison, on hand-made per-query tables."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from otclir import tables
from otclir.evaluation import distillation_training
from otclir.evaluation import map_significance as significance

# per-query AP of each system: the OT student sits a quarter of the way from zero-shot to ceiling
MEANS = {"student-zero-shot": 0.2, "ceiling-teacher-on-english": 0.6, "distill-ot@2000": 0.3, "distill-mse@2000": 0.25}


def per_query(languages=("sw",), queries=40):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.02, queries)
    rows = []
    for language in languages:
        for scorer in ("mean", "maxsim"):
            for system, mean in MEANS.items():
                for i in range(queries):
                    value = mean + noise[i] + (0.05 if scorer == "maxsim" and system.startswith("distill-ot") else 0)
                    rows.append({"language": language, "scorer": scorer, "system": system, "query": f"q{i}",
                                 "AP": value, "nDCG@10": value})
        for i in range(queries):
            rows.append({"language": language, "scorer": "bm25", "system": "bm25-dictionary@2000", "query": f"q{i}",
                         "AP": 0.1 + noise[i], "nDCG@10": 0.1})
    return pd.DataFrame(rows)


def test_query_matrix_joins_the_lexical_baseline_to_each_scorer():
    matrix = significance.query_matrix(per_query(), "sw", "maxsim", "AP")
    assert matrix.shape == (40, 5) and "bm25-dictionary@2000" in matrix
    assert (matrix["distill-ot@2000"] - matrix["student-zero-shot"]).to_numpy() == pytest.approx(np.full(40, 0.15))


def test_gap_intervals_give_the_share_of_the_gap_with_intervals():
    intervals = significance.gap_intervals(per_query(("sw", "tl")))
    assert set(intervals.language) == {"sw", "tl"} and set(intervals.scorer) == {"mean", "maxsim"}
    row = intervals.set_index(["language", "scorer", "system"]).loc[("sw", "mean", "distill-ot@2000")]
    assert row.gap_share == pytest.approx(0.25) and row.gap_low == pytest.approx(0.25)  # the same noise on all
    assert row.ci_low < row["mean"] < row.ci_high
    ceiling = intervals.set_index(["language", "scorer", "system"]).loc[("sw", "mean", "ceiling-teacher-on-english")]
    assert ceiling.gap_share == pytest.approx(1.0)
    without = per_query()[lambda f: f.system != "ceiling-teacher-on-english"]
    no_gap = significance.gap_intervals(without)  # no ceiling: intervals of the means, no gap shares
    assert len(no_gap) == 2 * 4 and no_gap.gap_share.isna().all() and (no_gap.ci_low < no_gap["mean"]).all()


def test_families_conclusions_and_their_tables():
    frame = per_query()
    families = significance.distillation_families(frame, ["AP", "nDCG@10"], n_permutations=1000)
    assert sorted(families) == [("sw", s, m) for s in ("maxsim", "mean") for m in ("AP", "nDCG@10")]
    family = families[("sw", "mean", "AP")]
    assert list(zip(family.treatment, family.baseline)) == [("distill-ot@2000", "student-zero-shot"),
                                                             ("distill-ot@2000", "distill-mse@2000")]
    assert family.significant.all() and (family["diff"] > 0).all()
    intervals = significance.gap_intervals(frame)
    # a mark belongs to one language's student: the same system name elsewhere trained on its own
    marks = significance.step_zero_marks(pd.DataFrame({"language": ["sw", "sw", "fa", "fa"],
                                                       "system": ["distill-mse@2000", "distill-ot@2000"] * 2,
                                                       "selected_untrained": [True, None, False, True]}))
    assert marks == {"sw": {"distill-mse@2000": " (step 0)"}, "fa": {"distill-ot@2000": " (step 0)"}}
    conclusions = significance.distillation_conclusions(families, intervals, "AP", marks)
    assert sorted(conclusions) == [("sw", "maxsim"), ("sw", "mean")]
    mean = conclusions[("sw", "mean")]
    assert mean[0].startswith("distill-ot@2000 (0.") and "significantly better than student-zero-shot" in mean[0]
    assert "distill-mse@2000 (step 0)" not in mean[0]
    assert "than distill-mse@2000 (0.24" in mean[1]  # the mark names the treatment only
    assert mean[-1].startswith("distill-ot@2000 closes +25.0% [+25.0%, +25.0%]") and "not shown to reach the 30% goal" in mean[-1]
    assert "at least the 30% goal" in conclusions[("sw", "maxsim")][-1]  # 0.35 of a 0.4 gap: 37.5%
    overview = significance.family_overview(families)
    assert overview.index.names == ["language", "scorer", "measure", "treatment", "baseline"]
    assert significance.family_stem(("sw", "maxsim", "nDCG@10")) == "05_significance_en-sw_maxsim_nDCG10"
    record = significance.families_record(families)
    assert record["sw mean AP"][0]["treatment"] == "distill-ot@2000"
    latex = tables.render_pairs(family, "latex", marks=marks["sw"])
    # the name and its note, the difference and its interval, may stand on two lines to fit the page
    assert r"95\% CI" in latex and "distill-mse@2000" in latex.replace(r"\_", "_") and "(step 0)" in latex


def test_one_table_writer_for_frames(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_FIGURES", str(tmp_path))
    frame = pd.DataFrame({"setting": ["mono", "cross"], "system": ["a_b", "c"], "mean": [0.12345, 0.5], "worst": ["sw", "tl"]}) \
        .set_index(["setting", "system"])
    latex = tables.render_frame(frame, "latex", "A caption with 50% of it.")
    assert r"\begin{tabular}{llrl}" in latex and r"a\_b & 0.1235 & sw \\" in latex and r"50\% of it" in latex
    assert tables.render_frame(frame, "csv").splitlines()[1] == "mono,a_b,0.1235,sw"
    assert "0.5000" in tables.render_frame(frame, "table")
    paths = tables.save("toy", "quick", {fmt: tables.render_frame(frame, fmt) for fmt in ("latex", "csv")})
    assert [Path(p).name for p in paths] == ["toy.tex", "toy.csv"] and all(Path(p).parent == tmp_path / "quick" for p in paths)
    assert (tmp_path / "quick" / "toy.csv").read_text() == tables.render_frame(frame, "csv")
    plain = pd.DataFrame({"system": ["a"], "AP": [0.5]})  # an unnamed range index is no column
    assert tables.render_frame(plain, "csv") == "system,AP\na,0.5000\n" and "index" not in tables.render_frame(plain)
    with pytest.raises(Exception, match="cannot save format"):
        tables.save("toy", "quick", {"table": "x"})
    with pytest.raises(Exception, match="unknown format 'html'"):
        tables.render_frame(frame, "html")


def test_headline_summary_lists_every_ot_student_and_calls_the_highest_optimistic():
    results = pd.DataFrame({"language": "sw", "scorer": "mean",
                            "system": ["student-zero-shot", "ceiling-teacher-on-english", "distill-ot@2000",
                                       "distill-ot@500", "distill-mse@2000", "bm25-dictionary@2000"],
                            "AP": [0.2, 0.6, 0.34, 0.3, 0.3, 0.1], "gap_share_AP": [0.0, 1.0, 0.35, 0.25, 0.25, -0.25]})
    summary, lines = distillation_training.headline_summary(results, ["sw"], ["mean", "maxsim"])
    assert summary == {"sw mean": {"by": "gap_share", "ot_students": {"distill-ot@2000": 0.35, "distill-ot@500": 0.25},
                                   "highest_on_test": "distill-ot@2000"}}
    assert "distill-ot@2000 +35.0%, distill-ot@500 +25.0%" in lines[0]
    assert "the highest, distill-ot@2000, is chosen on the test split (optimistic" in lines[0]
    assert "reaches" not in lines[0]  # no verdict from a number chosen on test
    summary, lines = distillation_training.headline_summary(results.assign(language="fr"), ["fr"], ["mean"])
    assert "fr is a high-resource contrast" in lines[0]
    without = results[results.system != "ceiling-teacher-on-english"].assign(gap_share_AP=float("nan"))
    summary, lines = distillation_training.headline_summary(without, ["sw"], ["mean"])
    assert summary["sw mean"]["by"] == "AP" and "no ceiling here" in lines[0]
    seeded = pd.concat([results.assign(seed=float("nan"))[:2]] + [results[2:].assign(seed=s, AP=results.AP[2:] + d)
                                                                   for s, d in ((0, 0.0), (1, 0.02))], ignore_index=True)
    table = distillation_training.over_seeds(seeded)
    row = table.set_index("system").loc["distill-ot@2000"]
    assert row.AP == pytest.approx(0.35) and row.seeds == 2 and row.AP_seed_sd == pytest.approx(0.02 / 2 ** 0.5)



def test_results_stored_without_dev_values_get_them_from_their_logs_and_a_dev_chosen_rival():
    """The rival of an OT student is the student without the transport term with the best dev value
    at its kept step, read from the training log, even where the other one is better on test."""
    students = ["distill-sentence_mse@2000", "distill-contrastive@2000", "distill-ot@2000"]
    results = pd.DataFrame({"language": "sw", "system": students * 2, "scorer": ["mean"] * 3 + ["maxsim"] * 3,
                            "selected_step": [10, 20, 20] * 2, "AP": 0.1})
    logs = pd.DataFrame({"language": "sw", "part": "headline", "config": [s for s in students for _ in (0, 1)],
                         "step": [10, 20, 10, 20, 10, 20],
                         **{signal: [0.30, 0.10, 0.50, 0.20, 0.40, 0.25] for signal in significance.DEV_SIGNALS}})
    logs = pd.concat([logs, logs.assign(step=[11, 21, 11, 21, 11, 21], **{s: np.nan for s in significance.DEV_SIGNALS})])
    filled = significance.logged_dev_values(results, logs)
    assert filled["selected_dev_nDCG@10"].tolist() == [0.30, 0.20, 0.25] * 2  # each at the step it kept
    assert significance.logged_dev_values(filled, logs) is filled  # recorded values are kept as they are
    from otclir.evaluation.families import rivals

    assert rivals(filled, "sw", "dev_nDCG@10")["2000"]["rival"] == "distill-sentence_mse@2000"
