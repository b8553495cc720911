"""Notebook 04's reading of the hybrid grid, on a hand-made grid whose answers are known."""
import json

import numpy as np
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation import hybrid_batch_ablations as analysis
from otclir.experiments.ablation import point_label

LANGUAGES = {"en": "high", "sw": "low"}
# AP of each trained configuration (alpha, lambda) per setting; the untrained student scores 0.1
AP = {(0.0, 0.0): 0.30, (0.5, 0.0): 0.40, (1.0, 0.0): 0.50, (0.5, 0.1): 0.45}


def summary_rows():
    """One row per configuration, seed, setting and language (pair); sw scores 0.1 below en and
    seed 1 scores 0.02 above seed 0."""
    rows = []
    points = [("trained", a, w, 100.0, seed) for (a, w) in AP for seed in (0, 1)]
    points += [("trained", 0.5, 0.0, 50.0, 0)]  # a smaller budget, half the score
    points += [("zero-shot", np.nan, np.nan, np.nan, np.nan)]
    for system, alpha, weight, pairs, seed in points:
        base = 0.1 if system == "zero-shot" else AP[(alpha, weight)] * (0.5 if pairs == 50 else 1) + 0.02 * seed
        for setting in ("monolingual", "cross-lingual", "multilingual"):
            pairs_of = [("en", "sw"), ("sw", "en")] if setting == "cross-lingual" else [(c, c) for c in LANGUAGES]
            for query_language, doc_language in pairs_of:
                low = "sw" in (query_language, doc_language)
                ap = base - (0.1 if low else 0.0)
                rows.append({"system": system, "alpha": alpha, "ot_weight": weight, "train_pairs": pairs, "seed": seed,
                             "setting": setting, "query_language": query_language, "doc_language": doc_language,
                             "AP": ap, "R@1": ap / 2, "R@10": ap * 2, "nDCG@10": ap,
                             "language_bias": (10 - 10 * (alpha if system == "trained" else 0.2))
                             if setting == "multilingual" else np.nan,
                             "train_seconds": 60.0 if system == "trained" else 0.0, "evaluate_seconds": 30.0})
    return pd.DataFrame(rows)


def per_query_rows(summary):
    """Ten queries per configuration and setting, their mean the configuration's AP (en side)."""
    rows = []
    offsets = np.linspace(-0.05, 0.05, 10)
    for _, r in summary[summary.query_language == "en"].drop_duplicates(
            ["system", "alpha", "ot_weight", "train_pairs", "seed", "setting"]).iterrows():
        for i, offset in enumerate(offsets):
            rows.append({**{k: r[k] for k in ("system", "alpha", "ot_weight", "train_pairs", "seed", "setting")},
                         "query_language": "en", "query": f"q{i}", "AP": r.AP + offset,
                         "language_bias": r.language_bias + 10 * offset})
    return pd.DataFrame(rows)


def test_budget_labels_and_the_largest_budget():
    summary = summary_rows()
    assert analysis.largest_budget(summary) == 100
    assert analysis.largest_budget(summary.assign(train_pairs=np.where(summary.train_pairs == 50, np.nan,
                                                                       summary.train_pairs))) is None
    assert analysis.budget_label(2000.0) == "2,000" and analysis.budget_label(None) == "all"
    assert analysis.config_label(0.5, 0.1) == "alpha=0.5 lambda=0.1"
    with pytest.raises(OtclirError, match="no trained configuration"):
        analysis.largest_budget(summary[summary.system == "zero-shot"])
    rows = analysis.at_budget(summary, 100)
    assert set(rows.train_pairs.dropna()) == {100} and (rows.system == "zero-shot").any()
    minutes = analysis.run_minutes(summary)
    assert minutes == {"configurations": 10, "train": 9 * 60 / 60, "evaluate": 10 * 30 / 60}


def test_tier_curves_average_seeds_with_an_interval():
    curves = analysis.tier_curves(analysis.at_budget(summary_rows(), 100))
    point = curves[(curves.alpha == 0.5) & (curves.ot_weight == 0.0) & (curves.setting == "monolingual")]
    high, low = point.set_index("tier").loc["high"], point.set_index("tier").loc["low"]
    assert high["mean"] == pytest.approx(0.41) and low["mean"] == pytest.approx(0.31)
    assert high.seeds == 2 and high.low < high["mean"] < high.high
    cross = curves[(curves.alpha == 0.5) & (curves.ot_weight == 0.0) & (curves.setting == "cross-lingual")]
    # cross-lingual scores belong to each language of the pair: en and sw both get the en-sw pairs' mean
    assert cross.set_index("tier")["mean"].to_dict() == pytest.approx({"high": 0.31, "low": 0.31})
    zero = analysis.zero_shot_tiers(summary_rows())
    assert zero.set_index(["setting", "tier"]).AP[("monolingual", "high")] == pytest.approx(0.1)


def test_bias_curves_and_the_untrained_bias():
    summary = summary_rows()
    bias = analysis.bias_curves(summary)
    at = bias[(bias.train_pairs == 100) & (bias.ot_weight == 0.0)].set_index("alpha")["mean"]
    assert at.to_dict() == pytest.approx({0.0: 10.0, 0.5: 5.0, 1.0: 0.0})
    assert analysis.zero_shot_bias(summary) == pytest.approx(8.0)


def test_mean_table_and_robustness_table_name_configurations_one_way():
    rows = analysis.at_budget(summary_rows(), 100)
    means = analysis.mean_table(rows)
    assert means.loc[("monolingual", "alpha=1 lambda=0"), "AP"] == pytest.approx((0.5 + 0.4 + 0.52 + 0.42) / 4)
    assert means.loc[("monolingual", "zero-shot"), "AP"] == pytest.approx(0.05)
    table = analysis.labelled_robustness_table(rows)
    row = table.loc[("monolingual", "alpha=0.5 lambda=0")]
    assert row.worst_language == "sw" and row.high_low_gap == pytest.approx(0.1)
    assert row["mean"] == pytest.approx(0.36) and row.spread == pytest.approx(0.05)
    assert list(table.index.get_level_values(0).unique()) == ["cross-lingual", "monolingual", "multilingual"]
    budgets = analysis.budget_means(analysis.budget_curves(summary_rows(), (0.5, 0.0)))
    assert budgets.loc[100, "monolingual"] > budgets.loc[50, "monolingual"]


def test_reference_point_and_family():
    summary = summary_rows()
    assert analysis.reference_point(summary, 0.5) == (0.5, 0.0)
    assert analysis.reference_point(summary, 0.7) == (0.5, 0.0)  # not in the grid: the middle alpha
    systems = analysis.family_systems(summary, 100, (0.5, 0.0), seed=0)
    assert list(systems) == ["alpha=0 lambda=0", "alpha=0.5 lambda=0", "alpha=1 lambda=0", "alpha=0.5 lambda=0.1",
                             "zero-shot"]
    matrix = analysis.per_query_matrix(per_query_rows(summary), "monolingual", "AP", systems)
    assert matrix.shape == (10, 5)
    assert matrix["alpha=1 lambda=0"].mean() == pytest.approx(0.5)
    with pytest.raises(OtclirError, match="no per-query rows"):
        analysis.per_query_matrix(per_query_rows(summary), "monolingual", "AP", {"x": {"alpha": 0.7}})


def test_significance_and_conclusions_follow_the_numbers():
    summary = summary_rows()
    point = (0.5, 0.0)
    reference = analysis.config_label(*point)
    systems = analysis.family_systems(summary, 100, point, seed=0)
    tests = analysis.grid_significance(per_query_rows(summary), systems, reference)
    overview = analysis.significance_overview(tests)
    mono = overview.loc["monolingual"]
    assert mono.loc["alpha=1 lambda=0", "diff"] == pytest.approx(0.1) and mono.loc["alpha=1 lambda=0", "significant"]
    assert mono.loc["zero-shot", "diff"] == pytest.approx(-0.3)
    rows = analysis.at_budget(summary, 100)
    table = analysis.labelled_robustness_table(rows)
    lines = analysis.grid_conclusions(rows, tests, reference, analysis.bias_curves(summary), analysis.zero_shot_bias(summary),
                                      table, 100)
    assert lines[0].startswith("monolingual: best mean AP 0.4600 at alpha=1, lambda=0 (untrained student 0.0500; alpha=0 0.2600")
    assert "significantly lower: alpha=0 lambda=0, zero-shot; significantly higher: alpha=1 lambda=0" in lines[1]
    assert "Language bias is lowest at alpha=1, lambda=0 (0.0 ranks; untrained student 8.0)." in lines
    assert any(line.startswith("monolingual: smallest high-low gap +0.1000") and "worst language most often sw" in line
               for line in lines)
    bias_test = analysis.grid_significance(per_query_rows(summary), systems, reference, "language_bias",
                                           settings=["multilingual"])["multilingual"]
    lines = analysis.grid_conclusions(rows, tests, reference, analysis.bias_curves(summary), analysis.zero_shot_bias(summary),
                                      table, 100, bias_test=bias_test)
    verdict = lines[lines.index("Language bias is lowest at alpha=1, lambda=0 (0.0 ranks; untrained student 8.0).") + 1]
    assert verdict.startswith("  against alpha=0.5 lambda=0 (5.0 ranks): significantly less bias: alpha=1 lambda=0 (-5.0 [")
    assert "significantly more: alpha=0 lambda=0 (+5.0 [" in verdict and "zero-shot (+3.0" in verdict
    assert "no difference: alpha=0.5 lambda=0.1 (" in verdict
    metrics = analysis.grid_metrics("toy", 9, ["en", "sw"], 100, reference, analysis.mean_table(rows),
                                    analysis.bias_curves(summary), table, analysis.run_minutes(summary))
    assert metrics["mean_by_setting"]["monolingual"]["zero-shot"] == 0.05
    assert metrics["language_bias"]["alpha=0.5 lambda=0 budget=50"] == 5.0


def question_rows(hybrid_sw: float = 0.4, hybrid_bias: float = 8.0, paired_noise: bool = True):
    """Per-query rows of alpha 0, 0.5 and 1 (lambda 0, budget 100, seeds 0 and 1) in two languages:
    monolingual AP per language, multilingual language bias. Alpha 1 is the better single strategy
    (worst language sw at 0.3); hybrid's sw score and bias are the arguments."""
    base = {0.0: {"en": 0.5, "sw": 0.2}, 0.5: {"en": 0.55, "sw": hybrid_sw}, 1.0: {"en": 0.6, "sw": 0.3}}
    bias = {0.0: 12.0, 0.5: hybrid_bias, 1.0: 10.0}
    offsets = np.linspace(-0.05, 0.05, 40)
    rows = []
    for alpha in base:
        for seed in (0, 1):
            for language in ("en", "sw"):
                for i, offset in enumerate(offsets):
                    noise = offset if paired_noise or alpha != 0.5 else offset * (-1) ** i
                    common = {"system": "trained", "alpha": alpha, "ot_weight": 0.0, "train_pairs": 100.0, "seed": seed,
                              "query_language": language, "query": f"q{i:02d}"}
                    rows.append({**common, "setting": "monolingual", "doc_language": language,
                                 "AP": base[alpha][language] + noise})
                    rows.append({**common, "setting": "multilingual", "doc_language": "all", "AP": 0.1,
                                 "language_bias": bias[alpha] * (1 + 4 * offset)})
    return pd.DataFrame(rows)


def test_hybrid_question_compares_worst_languages_and_bias_with_intervals():
    table, bias = analysis.hybrid_question(question_rows(), 100.0, single=1.0, n_resamples=500)
    mono = table.loc["monolingual"]
    assert mono.better_single == "alpha=1" and mono.single_worst == pytest.approx(0.3)
    assert mono.hybrid_worst == pytest.approx(0.4) and mono.hybrid_worst_language == "sw"
    assert mono["diff"] == pytest.approx(0.1) and mono.diff_ci_low == pytest.approx(0.1)  # paired: no spread
    assert mono.verdict == "hybrid better" and mono.diff_by_seed == "+0.1000, +0.1000" and mono.seeds_agree == 2
    assert bias["reduction"] == pytest.approx(0.2) and bias["low"] == pytest.approx(0.2)
    assert bias["by_seed"] == pytest.approx([0.2, 0.2])
    lines = analysis.hybrid_answer(table, bias)
    assert "2 of 2 seeds agree in sign" in lines[0]
    assert "yes, in the sense that no setting shows a significant loss" in lines[-2]
    assert lines[-1].endswith("less (interval over training seeds and queries; per seed: 20.0%, 20.0%). At least 13% "
                              "less: yes: the whole interval is at or above 13%.")
    recorded = analysis.hybrid_metrics(table, bias)
    assert recorded["worst_language"]["monolingual"]["verdict"] == "hybrid better"
    assert recorded["bias_reduction"]["by_seed"] == [0.2, 0.2] and json.dumps(recorded)

    table, bias = analysis.hybrid_question(question_rows(hybrid_sw=0.3, hybrid_bias=9.5, paired_noise=False),
                                           100.0, single=1.0, n_resamples=500)
    mono = table.loc["monolingual"]
    assert abs(mono["diff"]) < 0.01 and mono.diff_ci_low < 0 < mono.diff_ci_high and mono.verdict == "no difference"
    assert 0 < mono.mde < 0.05  # what the test could have seen is stated beside the null
    assert f"no difference larger than {mono.mde:.4f} detectable" in analysis.hybrid_answer(table, bias)[0]
    assert bias["reduction"] == pytest.approx(0.05)
    assert analysis.hybrid_answer(table, bias)[-1].endswith("no: the whole interval is below 13%.")

    table, _ = analysis.hybrid_question(question_rows(hybrid_sw=0.2), 100.0, single=1.0, n_resamples=500)
    assert table.loc["monolingual", "verdict"] == "hybrid worse"
    assert "no, worse in monolingual" in analysis.hybrid_answer(table, None)[-1]
    flipped = question_rows(hybrid_sw=0.2)
    flipped.loc[(flipped.alpha == 0.5) & (flipped.seed == 1) & (flipped.query_language == "sw"), "AP"] += 0.3
    table, _ = analysis.hybrid_question(flipped, 100.0, single=1.0, n_resamples=500)  # seed 1 now above, seed 0 below
    assert table.loc["monolingual", "seeds_agree"] == 1
    assert table.loc["monolingual", "verdict"] == "no difference"  # the seeds' disagreement is inside the interval


def question_logs(dev):
    """Training logs of the question's configurations: dev AP at steps 0 and 25, per alpha and seed."""
    rows = []
    for alpha in (0.0, 0.5, 1.0):
        for seed in (0, 1):
            label = f"alpha{alpha:g}-lambda0-budget100-seed{seed}"
            rows.append({"config": label, "step": 0, "dev_AP": 0.2, "dev_nDCG@10": 0.3})
            rows.append({"config": label, "step": 25, "dev_AP": dev[alpha] + 0.01 * seed, "dev_nDCG@10": 0.3})
    return pd.DataFrame(rows)


def question_summary(steps=25):
    points = [{"system": "trained", "alpha": alpha, "ot_weight": 0.0, "train_pairs": 100.0, "seed": seed,
               "setting": "monolingual", "selected_step": steps} for alpha in (0.0, 0.5, 1.0) for seed in (0, 1)]
    return pd.DataFrame(points)


def test_the_better_single_strategy_is_chosen_on_dev_and_no_test_number_moves_the_family():
    logs = question_logs({0.0: 0.25, 0.5: 0.3, 1.0: 0.22})
    choice = analysis.single_strategy_on_dev(question_summary(), logs, 100.0, point_label)
    assert choice["single"] == 0.0 and choice["dev"] == pytest.approx({0.0: 0.255, 1.0: 0.225})
    assert choice["dev_by_seed"][0.0] == pytest.approx({0: 0.25, 1: 0.26})
    assert "alpha=0 (dev_AP at each seed's dev-selected step, mean over seeds: alpha=0 0.2550, alpha=1 0.2250)" \
        in analysis.single_choice_text(choice)
    # on test alpha 1 is the stronger single strategy; the family still holds the dev choice
    rows = question_rows()
    table, _ = analysis.hybrid_question(rows, 100.0, single=choice["single"], n_resamples=200)
    assert set(table.better_single) == {"alpha=0"}
    noise = np.random.default_rng(1).random(len(rows))
    randomised = rows.assign(AP=noise, language_bias=np.where(rows.setting == "multilingual", 10 * noise, np.nan))
    again, _ = analysis.hybrid_question(randomised, 100.0, single=choice["single"], n_resamples=200)
    assert list(again.index) == list(table.index) and list(again.better_single) == list(table.better_single)
    # a tie (both kept the untrained student) goes to monolingual-only batches
    tie = analysis.single_strategy_on_dev(question_summary(steps=0), logs, 100.0, point_label)
    assert tie["single"] == 1.0 and tie["dev"] == {0.0: 0.2, 1.0: 0.2}
    with pytest.raises(OtclirError, match="no dev_nDCG@10 logged at the step dev selection kept"):
        analysis.single_strategy_on_dev(question_summary(), logs.assign(**{"dev_nDCG@10": np.nan}), 100.0, point_label,
                                        signal="dev_nDCG@10")
    with pytest.raises(OtclirError, match="trained without dev checks"):
        analysis.single_strategy_on_dev(question_summary().drop(columns="selected_step"), logs, 100.0, point_label)


def test_the_two_level_interval_covers_with_seed_variance_where_a_query_only_one_does_not():
    """Two systems with the same true scores whose training runs differ (seed SD 0.02 against a
    per-query noise that averages to 0.002): the interval over seeds and queries covers the true
    difference, 0, near its nominal rate; the interval over queries alone, seeds averaged first,
    is far too narrow."""
    rng = np.random.default_rng(0)
    seeds, queries, covered = 5, 60, {"two-level": 0, "queries only": 0}
    replications = 120
    for _ in range(replications):
        shared = rng.normal(0, 0.1, size=(1, 2, queries)) + np.array([0.3, 0.5])[None, :, None]
        a = shared + rng.normal(0, 0.02, size=(seeds, 1, 1)) + rng.normal(0, 0.015, size=(seeds, 2, queries))
        b = shared + rng.normal(0, 0.02, size=(seeds, 1, 1)) + rng.normal(0, 0.015, size=(seeds, 2, queries))
        both = analysis.worst_language_difference(a, b, n_resamples=300, seed=int(rng.integers(1 << 30)))
        pooled = analysis.worst_language_difference(a.mean(0), b.mean(0), n_resamples=300, seed=1)
        covered["two-level"] += both["diff_ci_low"] <= 0 <= both["diff_ci_high"]
        covered["queries only"] += pooled["diff_ci_low"] <= 0 <= pooled["diff_ci_high"]
    assert covered["two-level"] / replications >= 0.85
    assert covered["queries only"] / replications <= 0.6


def test_the_declared_scope_corrects_within_each_task_or_over_all_of_them():
    rows = pd.concat([question_rows(hybrid_sw=0.305, paired_noise=False).assign(task="crossref"),
                      question_rows(hybrid_sw=0.305, paired_noise=False).assign(task="topical")], ignore_index=True)
    within = analysis.hybrid_questions(rows, 100.0, 1.0, analysis.QuestionPlan(n_resamples=300))
    overall = analysis.hybrid_questions(rows, 100.0, 1.0, analysis.QuestionPlan(n_resamples=300, question_scope="all"))
    assert set(within) == {"crossref", "topical"}
    for task in within:
        table, joint = within[task][0], overall[task][0]
        assert (joint.p_adjusted >= table.p_adjusted - 1e-12).all()  # a larger family corrects at least as much
        assert joint.mde["monolingual"] > table.mde["monolingual"]  # and a larger detectable difference at its level
    assert analysis.tasks_in(rows) == ["crossref", "topical"] and analysis.tasks_in(question_rows()) == [None]
    assert analysis.figure_name("metric_by_alpha", "topical", ["crossref", "topical"]) == "04_metric_by_alpha_topical"
    assert analysis.figure_name("metric_by_alpha", None, [None]) == "04_metric_by_alpha"


def test_family_over_seeds_averages_each_query():
    summary = summary_rows()
    systems = analysis.family_systems(summary, 100, (0.5, 0.0))
    assert "seed" not in systems["alpha=1 lambda=0"]
    matrix = analysis.per_query_matrix(per_query_rows(summary), "monolingual", "AP", systems)
    assert matrix["alpha=1 lambda=0"].mean() == pytest.approx(0.51)  # seeds 0 and 1: 0.50 and 0.52


def test_selected_steps_are_a_column_per_seed():
    summary = summary_rows()
    assert analysis.selected_steps(summary) is None
    steps = analysis.selected_steps(summary.assign(selected_step=np.where(summary.seed == 1, 25.0, 0.0)))
    assert list(steps.columns) == ["seed 0", "seed 1"]
    assert steps.loc[("alpha=1 lambda=0", "100"), "seed 1"] == 25 and steps.loc[("alpha=1 lambda=0", "100"), "seed 0"] == 0


def test_grid_figures_draw_a_panel_per_setting(tmp_path):
    from otclir import plots

    summary = summary_rows()
    rows = analysis.at_budget(summary, 100)
    fig = plots.alpha_curves(analysis.tier_curves(rows), analysis.zero_shot_tiers(summary))
    assert [ax.get_title() for ax in fig.axes] == ["monolingual", "cross-lingual", "multilingual"]
    fig = plots.budget_curves(analysis.budget_curves(summary, (0.5, 0.0)), "MAP")
    assert len(fig.axes) == 3 and fig.axes[0].get_xlabel().startswith("training verse pairs")
    fig = plots.bias_by_alpha(analysis.bias_curves(summary), analysis.zero_shot_bias(summary))
    assert plots.save_figure(fig, "bias", tmp_path)


def test_a_grid_without_the_three_alphas_says_what_the_question_lacks():
    summary = summary_rows()
    assert analysis.missing_for_question(summary) == []
    assert analysis.missing_for_question(summary[summary.alpha != 0.5]) == [0.5]
    assert analysis.missing_for_question(summary, weight=0.1) == [0.0, 1.0]
    assert analysis.hybrid_metrics(None, None) == {}


def test_conclusions_skip_a_setting_with_one_tier():
    """The topical task asks in English only: its monolingual setting has no low tier, so no gap."""
    summary = summary_rows()
    rows = analysis.at_budget(summary, 100)
    english = rows[~((rows.setting == "monolingual") & (rows.query_language == "sw"))]
    table = analysis.labelled_robustness_table(english)
    assert table.xs("monolingual").high_low_gap.isna().all()
    per_query = per_query_rows(summary)
    point = analysis.reference_point(summary, 0.5)
    reference = analysis.config_label(*point)
    tests = analysis.grid_significance(per_query, analysis.family_systems(summary, 100, point), reference)
    lines = analysis.grid_conclusions(english, tests, reference, analysis.bias_curves(summary),
                                      analysis.zero_shot_bias(summary), table, 100)
    assert not any(line.startswith("monolingual: smallest high-low gap") for line in lines)
    assert any(line.startswith("cross-lingual: smallest high-low gap") for line in lines)


def test_the_question_at_two_budgets_says_where_its_verdict_changes_and_whether_dev_flattened():
    logs = question_logs({0.0: 0.22, 0.5: 0.3, 1.0: 0.25})
    plan = analysis.QuestionPlan(n_resamples=300)
    summary = question_summary()
    small = analysis.ask(summary, question_rows(hybrid_sw=0.2), logs, plan, point_label)
    large = analysis.ask(summary, question_rows(hybrid_sw=0.4), logs, plan, point_label)
    assert small[0]["single"] == 1.0 and small[1][None][0].loc["monolingual", "verdict"] == "hybrid worse"
    assert large[1][None][0].loc["monolingual", "verdict"] == "hybrid better"
    assert analysis.ask(summary[summary.alpha != 0.5], question_rows(), logs, plan, point_label) == (None, {})
    assert analysis.ask(summary, question_rows(), None, plan, point_label) == (None, {})

    both = {"100": small[1], "400": large[1]}
    line, = analysis.budget_change_lines(both)
    assert line.startswith("cross-reference task: the verdict holds in 1 of 2 settings; it changes in monolingual (100: hybrid worse; "
                           "400: hybrid better, +0.1000 [+0.1000, +0.1000])")
    assert "bias reduction 100 20.0% [20.0, 20.0], 400 20.0% [20.0, 20.0]" in line
    side = analysis.budget_comparison(both)
    assert side.loc[(analysis.task_name(None), "monolingual"), ("400", "verdict")] == "hybrid better"
    assert side.loc[(analysis.task_name(None), "monolingual"), ("100", "diff")] == pytest.approx(-0.1)

    curves = analysis.dev_curves(logs)
    assert list(curves.columns) == ["alpha 0", "alpha 0.5", "alpha 1"] and list(curves.index) == [0, 25]
    assert curves.loc[25, "alpha 1"] == pytest.approx(0.255)  # seeds 0 and 1: 0.25 and 0.26
    assert analysis.last_check_gain(curves)["alpha 0"] == pytest.approx(0.025)
    with pytest.raises(OtclirError, match="configurations the grid does not"):
        analysis.dev_curves(logs.assign(config="other"))
