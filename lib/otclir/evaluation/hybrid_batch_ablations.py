"""Notebook 04's reading of the hybrid-batch grid: curves over alpha and lambda with seed
intervals, the robustness table, the significance family against a reference configuration, the
hybrid-batch question (are hybrid batches at least as good as the better single strategy on the
worst language, with less language bias?) and the sentences the numbers support.

Rows come from :func:`otclir.evaluation.retrieval_settings.evaluate_settings` with the grid
columns (``system``: ``trained`` or ``zero-shot``; ``alpha``, ``ot_weight``, ``train_pairs``,
``seed``); the statistics they reduce to are :mod:`otclir.evaluation.robustness`'s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from otclir.errors import OtclirError
from otclir.evaluation.robustness import (
    language_query_matrix,
    over_seeds,
    per_language,
    per_query_matrix,
    robustness_summary,
    settings_in,
)
from otclir.evaluation.stats import bootstrap, bootstrap_p, percentile_interval, verdict

GRID_KEYS = ("alpha", "ot_weight", "train_pairs")


def trained_only(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary.system == "trained"]


def tier_curves(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """Per grid point, setting and tier: the tier's mean score (languages as in
    :func:`per_language`), averaged over seeds with a 95% t-interval."""
    scores = per_language(trained_only(summary), list(GRID_KEYS) + ["seed"], measure)
    tiers = scores.groupby(list(GRID_KEYS) + ["seed", "setting", "tier"], dropna=False)[measure].mean().reset_index()
    return over_seeds(tiers, list(GRID_KEYS) + ["setting", "tier"], measure)


def bias_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """Language bias in the multilingual pool per grid point (mean over query languages), over seeds."""
    multi = trained_only(summary)
    multi = multi[multi.setting == "multilingual"]
    per_seed = multi.groupby(list(GRID_KEYS) + ["seed"], dropna=False).language_bias.mean().reset_index()
    return over_seeds(per_seed, list(GRID_KEYS), "language_bias")


def zero_shot_tiers(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """The untrained student's tier means per setting (the reference lines)."""
    base = summary[summary.system == "zero-shot"]
    if base.empty:
        return pd.DataFrame(columns=["setting", "tier", measure])
    scores = per_language(base, ["system"], measure)
    return scores.groupby(["setting", "tier"])[measure].mean().reset_index()


def robustness_table(summary: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """Mean, worst language, spread and high-low gap per system and setting, each language's score
    averaged over seeds first. The untrained student is the row with empty grid columns."""
    scores = per_language(summary, ["system", *GRID_KEYS, "seed"], measure)
    scores = scores.groupby(["system", *GRID_KEYS, "setting", "language", "tier"], dropna=False, sort=False)[measure] \
        .mean().reset_index()
    return robustness_summary(scores, ["system", *GRID_KEYS, "setting"], measure)


# ------------------------------------------------------------ notebook 04's reading of the grid
POINT_COLUMNS = ("system", "alpha", "ot_weight", "train_pairs", "seed")
TABLE_MEASURES = ("AP", "R@1", "R@10", "nDCG@10")


def budget_label(value) -> str:
    """A training budget for people: ``2,000``, or ``all``."""
    return "all" if value is None or pd.isna(value) else f"{int(value):,}"


def config_label(alpha: float, ot_weight: float) -> str:
    """How a configuration is named in every table and test: ``alpha=0.5 lambda=0.1``."""
    return f"alpha={alpha:g} lambda={ot_weight:g}"


def system_labels(frame: pd.DataFrame) -> pd.Series:
    """``zero-shot`` for the untrained student's rows, else the configuration's label."""
    return frame.apply(lambda r: "zero-shot" if r.system == "zero-shot" else config_label(r.alpha, r.ot_weight), axis=1)


def run_minutes(summary: pd.DataFrame) -> dict[str, float]:
    """Minutes of training and evaluation the stored configurations took when they ran."""
    points = summary.drop_duplicates(list(POINT_COLUMNS))
    return {"configurations": len(points), "train": float(points.train_seconds.sum()) / 60,
            "evaluate": float(points.evaluate_seconds.sum()) / 60}


def largest_budget(summary: pd.DataFrame):
    """The largest training budget of the grid (None: all pairs, which is larger than any number);
    the alpha and lambda figures are read there."""
    budgets = trained_only(summary).train_pairs
    if budgets.empty:
        raise OtclirError("the grid holds no trained configuration")
    return None if budgets.isna().any() else budgets.max()


def at_budget(summary: pd.DataFrame, budget) -> pd.DataFrame:
    """The untrained student's rows and the trained rows at one budget (None: all pairs)."""
    trained = summary.train_pairs.isna() if budget is None else summary.train_pairs == budget
    return summary[(summary.system == "zero-shot") | trained]


def mean_table(rows: pd.DataFrame, measures=TABLE_MEASURES) -> pd.DataFrame:
    """Mean of each measure per setting and configuration (over languages, pairs and seeds)."""
    return rows.assign(config=system_labels(rows)).groupby(["setting", "config"], sort=False)[list(measures)].mean()


def zero_shot_bias(summary: pd.DataFrame) -> float:
    """The untrained student's language bias in the multilingual pool (mean over query languages)."""
    return float(summary[(summary.system == "zero-shot") & (summary.setting == "multilingual")].language_bias.mean())


def labelled_robustness_table(rows: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """:func:`robustness_table` indexed by setting and configuration label."""
    table = robustness_table(rows, measure)
    table["system"] = system_labels(table)
    return (table.drop(columns=["alpha", "ot_weight", "train_pairs"]).set_index(["setting", "system"])
            .sort_index(level=0, sort_remaining=False))


def reference_point(summary: pd.DataFrame, reference_alpha: float) -> tuple[float, float]:
    """The configuration the significance family compares against and the budget curve follows:
    ``reference_alpha`` when the grid has it (else the middle alpha of the grid), at the lowest
    lambda of the grid (the one closest to no transport loss)."""
    trained = trained_only(summary)
    alphas = sorted(trained.alpha.unique())
    alpha = reference_alpha if reference_alpha in set(trained.alpha) else alphas[len(alphas) // 2]
    return alpha, min(trained.ot_weight)


def budget_curves(summary: pd.DataFrame, point: tuple[float, float], measure: str = "AP") -> pd.DataFrame:
    """:func:`tier_curves` over the budgets at one (alpha, lambda) point."""
    trained = trained_only(summary)
    return tier_curves(trained[(trained.alpha == point[0]) & (trained.ot_weight == point[1])], measure)


def budget_means(curves: pd.DataFrame) -> pd.DataFrame:
    """Budget curves as a table: budgets by setting, tiers averaged."""
    return curves.groupby(["train_pairs", "setting"], dropna=False)["mean"].mean().unstack()


def family_systems(summary: pd.DataFrame, budget, point: tuple[float, float], seed: int | None = None) -> dict[str, dict]:
    """The significance family fixed by the grid: every alpha at the reference lambda, every lambda
    at the reference alpha, and the untrained student, each at ``budget``, at one seed or (None)
    with each query's score averaged over the seeds. Keys are labels, values pick rows for
    :func:`per_query_matrix`."""
    trained = trained_only(summary)

    def rows(alpha, weight):
        picked = {"system": "trained", "alpha": alpha, "ot_weight": weight, "train_pairs": budget}
        return picked if seed is None else {**picked, "seed": seed}

    alpha, weight = point
    systems = {config_label(a, weight): rows(a, weight) for a in sorted(trained.alpha.unique())}
    systems.update({config_label(alpha, w): rows(alpha, w) for w in sorted(trained.ot_weight.unique())})
    systems["zero-shot"] = {"system": "zero-shot"}
    return systems


def grid_significance(per_query: pd.DataFrame, systems: dict[str, dict], reference: str, measure: str = "AP",
                      test: str = "randomization", correction: str = "holm", settings=None) -> dict[str, pd.DataFrame]:
    """Per setting (default: every setting the rows hold), every system of the family against
    ``reference`` (one family per setting). ``measure`` may be ``language_bias`` in the
    multilingual setting (lower is better there)."""
    from otclir.evaluation.stats import compare_to_baseline

    settings = settings_in(per_query) if settings is None else settings
    return {setting: compare_to_baseline(per_query_matrix(per_query, setting, measure, systems), reference,
                                         test=test, correction=correction)
            for setting in settings}


def significance_overview(tests: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(tests, names=["setting"])[["mean", "diff", "diff_ci_low", "diff_ci_high", "p_adjusted", "significant"]]


def _best_at(part: pd.Series, alpha: float) -> float:
    return part.xs(alpha, level="alpha").max() if alpha in part.index.get_level_values("alpha") else float("nan")


def grid_conclusions(rows: pd.DataFrame, tests: dict[str, pd.DataFrame], reference: str, bias: pd.DataFrame,
                     zero_bias: float, table: pd.DataFrame, budget, measure: str = "AP",
                     bias_test: pd.DataFrame | None = None) -> list[str]:
    """What the numbers at one budget support, one sentence each: the best configuration per
    setting against the untrained student and the alpha extremes; which configurations differ
    significantly from the reference; where language bias is lowest and, with ``bias_test`` (the
    family of :func:`grid_significance` on ``language_bias``), which configurations have
    significantly more or less of it than the reference and which do not differ; the smallest
    tier gap."""
    lines = []
    headline = rows[rows.system == "trained"].groupby(["setting", "alpha", "ot_weight"])[measure].mean()
    zero = rows[rows.system == "zero-shot"].groupby("setting")[measure].mean()
    for setting in settings_in(rows):
        part = headline[setting]
        (best_alpha, best_weight), best = part.idxmax(), part.max()
        lines.append(f"{setting}: best mean {measure} {best:.4f} at alpha={best_alpha:g}, lambda={best_weight:g} "
                     f"(untrained student {zero[setting]:.4f}; alpha=0 {_best_at(part, 0.0):.4f}, "
                     f"alpha=1 {_best_at(part, 1.0):.4f}).")
        direction = _directions(tests[setting], reference)
        lower, higher = list(direction.index[direction < 0]), list(direction.index[direction > 0])
        lines.append(f"  against {reference}: significantly lower: {', '.join(lower) or 'none'}; significantly higher: "
                     f"{', '.join(higher) or 'none'} (Holm-corrected randomisation tests, "
                     f"{tests[setting].attrs['queries']} queries).")
    at = bias[bias.train_pairs.isna() if budget is None else bias.train_pairs == budget]
    low = at.loc[at["mean"].idxmin()]
    lines.append(f"Language bias is lowest at alpha={low.alpha:g}, lambda={low.ot_weight:g} ({low['mean']:.1f} ranks; "
                 f"untrained student {zero_bias:.1f}).")
    if bias_test is not None:
        lines.append("  " + _bias_verdicts(bias_test, reference))
    gaps = table.reset_index()
    gaps = gaps[gaps.system != "zero-shot"]
    for setting, part in gaps.groupby("setting", sort=False):
        row = part.loc[part.high_low_gap.abs().idxmin()]
        lines.append(f"{setting}: smallest high-low gap {row.high_low_gap:+.4f} for {row.system}; worst language most often "
                     f"{part.worst_language.mode().iloc[0]}.")
    return lines


def _directions(test: pd.DataFrame, reference: str) -> pd.Series:
    """Per system of a family but the reference: +1 significantly higher, -1 lower, 0 neither."""
    others = test.drop(index=reference)
    alpha = test.attrs.get("alpha", 0.05)
    return pd.Series([verdict(r["diff"], r.p_adjusted, alpha) for _, r in others.iterrows()], index=others.index,
                     dtype=int)


def _bias_verdicts(test: pd.DataFrame, reference: str) -> str:
    others = test.drop(index=reference)
    direction = _directions(test, reference)

    def listed(rows):
        return ", ".join(f"{s} ({r['diff']:+.1f} [{r.diff_ci_low:+.1f}, {r.diff_ci_high:+.1f}])" for s, r in rows.iterrows()) or "none"

    return (f"against {reference} ({test.loc[reference, 'mean']:.1f} ranks): significantly less bias: "
            f"{listed(others[direction < 0])}; significantly more: {listed(others[direction > 0])}; no difference: "
            f"{', '.join(others.index[direction == 0]) or 'none'} "
            f"(Holm-corrected randomisation tests on per-query bias, {test.attrs['queries']} queries).")


def grid_metrics(name: str, configurations: int, languages, budget, reference: str, means: pd.DataFrame,
                 bias: pd.DataFrame, table: pd.DataFrame, minutes: dict, measure: str = "AP") -> dict:
    """The numbers notebook 04 records in its metrics file (what the regression tests compare)."""
    return {
        "grid": name, "configurations": int(configurations), "languages": list(languages),
        "budget": budget, "reference": reference,
        "mean_by_setting": {s: {k: round(float(v), 4) for k, v in means.xs(s)[measure].items()}
                            for s in means.index.get_level_values(0).unique()},
        "language_bias": {f"{config_label(r.alpha, r.ot_weight)} budget={budget_label(r.train_pairs)}": round(float(r['mean']), 2)
                          for _, r in bias.iterrows()},
        "robustness": {f"{s} | {n}": {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in row.items()}
                       for (s, n), row in table.iterrows()},
        "minutes": {"train": round(minutes["train"], 2), "evaluate": round(minutes["evaluate"], 2)},
    }


# ------------------------------------------------------------ the hybrid-batch question
BIAS_GOAL = 0.13  # Elmahdy et al. (2024) report 13-30% less language bias with hybrid batches


def worst_language_difference(a: pd.DataFrame, b: pd.DataFrame, n_resamples: int = 2_000, seed: int = 0) -> dict:
    """Worst-language score of one system minus that of another (each its own worst language),
    from their :func:`language_query_matrix` tables, with a paired bootstrap over queries
    (resampling the same queries for every language and both systems): the difference, its 95%
    interval and a two-sided bootstrap p."""
    queries = a.columns.intersection(b.columns)
    a, b = a[queries].to_numpy(), b[queries].to_numpy()
    if np.isnan(a).any() or np.isnan(b).any():
        raise OtclirError("not every language has every query; cannot resample queries jointly")
    observed = a.mean(1).min() - b.mean(1).min()
    draws = bootstrap(lambda idx: a[:, idx].mean(2).min(0) - b[:, idx].mean(2).min(0), len(queries), n_resamples, seed)
    low, high = percentile_interval(draws)
    return {"diff": float(observed), "diff_ci_low": low, "diff_ci_high": high, "p": bootstrap_p(draws),
            "queries": len(queries)}


def _query_bias(per_query: pd.DataFrame, where: dict) -> pd.Series:
    """Each query's language bias, averaged over query languages and seeds."""
    return language_query_matrix(per_query, "multilingual", where, "language_bias").mean(axis=0)


def bias_reduction(per_query: pd.DataFrame, system: dict, other: dict, n_resamples: int = 2_000, seed: int = 0) -> dict:
    """How much less language bias ``system`` carries than ``other``, as a share of ``other``'s:
    1 - mean bias(system) / mean bias(other), per-query bias averaged over query languages and
    seeds, with a paired bootstrap interval over queries."""
    a, b = _query_bias(per_query, system), _query_bias(per_query, other)
    queries = a.index.intersection(b.index)
    a, b = a[queries].to_numpy(), b[queries].to_numpy()
    draws = bootstrap(lambda idx: 1 - a[idx].mean(1) / b[idx].mean(1), len(queries), n_resamples, seed)
    low, high = percentile_interval(draws)
    return {"reduction": float(1 - a.mean() / b.mean()), "low": low, "high": high,
            "bias": float(a.mean()), "other_bias": float(b.mean()), "queries": len(queries)}


def hybrid_question(per_query: pd.DataFrame, budget, weight: float = 0.0, hybrid: float = 0.5, measure: str = "AP",
                    n_resamples: int = 2_000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The research question at one budget and lambda, seeds averaged per query: in every setting,
    hybrid batches (alpha ``hybrid``) against the better single strategy (alpha 0 or 1, the one
    with the higher worst-language score) on worst-language ``measure``, Holm-corrected over the
    settings; and hybrid's language-bias reduction against monolingual-only batches (alpha 1).
    The intervals resample queries; the same differences per seed (``diff_by_seed``, the bias's
    ``by_seed``) show whether they hold from one training run to the next."""
    from otclir.evaluation.stats import correct

    def where(alpha, **extra):
        return {"system": "trained", "alpha": alpha, "ot_weight": weight, "train_pairs": budget, **extra}

    seeds = sorted(per_query.seed.dropna().unique())
    rows = []
    for setting in settings_in(per_query):
        part = per_query[per_query.setting == setting]
        matrices = {alpha: language_query_matrix(part, setting, where(alpha), measure) for alpha in (0.0, hybrid, 1.0)}
        worst = {alpha: matrices[alpha].mean(axis=1) for alpha in matrices}
        single = max((0.0, 1.0), key=lambda alpha: worst[alpha].min())
        test = worst_language_difference(matrices[hybrid], matrices[single], n_resamples, seed)
        by_seed = [language_query_matrix(part, setting, where(hybrid, seed=s), measure).mean(axis=1).min()
                   - language_query_matrix(part, setting, where(single, seed=s), measure).mean(axis=1).min() for s in seeds]
        rows.append({"setting": setting, "hybrid_worst": float(worst[hybrid].min()),
                     "hybrid_worst_language": worst[hybrid].idxmin(), "better_single": f"alpha={single:g}",
                     "single_worst": float(worst[single].min()), **test,
                     "diff_by_seed": ", ".join(f"{d:+.4f}" for d in by_seed),
                     "seeds_agree": bool(all(np.sign(d) == np.sign(test["diff"]) for d in by_seed))})
    table = pd.DataFrame(rows).set_index("setting")
    table["p_adjusted"] = correct(table.p.to_numpy(), "holm")
    table["verdict"] = [HYBRID_VERDICTS[verdict(r["diff"], r.p_adjusted, 0.05, r.diff_ci_low, r.diff_ci_high)]
                        for _, r in table.iterrows()]
    table.attrs.update(budget=budget, ot_weight=weight, hybrid=hybrid, measure=measure)
    bias = None
    if "multilingual" in set(per_query.setting):
        multi = per_query[per_query.setting == "multilingual"]
        bias = bias_reduction(multi, where(hybrid), where(1.0), n_resamples, seed)
        bias["by_seed"] = [1 - _query_bias(multi, where(hybrid, seed=s)).mean() / _query_bias(multi, where(1.0, seed=s)).mean()
                           for s in seeds]
    return table, bias


def missing_for_question(summary: pd.DataFrame, weight: float = 0.0, hybrid: float = 0.5) -> list[float]:
    """The alphas :func:`hybrid_question` needs (0, ``hybrid`` and 1 at lambda ``weight``) that the
    grid did not train."""
    trained = trained_only(summary)
    present = set(trained[trained.ot_weight == weight].alpha)
    return [alpha for alpha in (0.0, hybrid, 1.0) if alpha not in present]


HYBRID_VERDICTS = {1: "hybrid better", -1: "hybrid worse", 0: "no difference"}


def hybrid_answer(table: pd.DataFrame, bias: dict | None, measure: str = "AP") -> list[str]:
    """The notebook's answer to the question, from :func:`hybrid_question`'s numbers."""
    lines = []
    for setting, r in table.iterrows():
        lines.append(f"{setting}: worst-language {measure} hybrid {r.hybrid_worst:.4f} ({r.hybrid_worst_language}) vs "
                     f"{r.better_single} {r.single_worst:.4f}: {r['diff']:+.4f} [{r.diff_ci_low:+.4f}, {r.diff_ci_high:+.4f}], "
                     f"Holm p {r.p_adjusted:.3f}: {r.verdict} (per seed: {r.diff_by_seed}"
                     + ("" if r.seeds_agree or r.verdict == "no difference" else
                        "; the sign changes between seeds, so the verdict holds for these queries, not across training runs")
                     + ").")
    worse = list(table.index[table.verdict == "hybrid worse"])
    lines.append("Hybrid batches at least as good as the better single strategy on the worst language in every setting: "
                 + ("no, worse in " + ", ".join(worse) if worse else
                    "yes, in the sense that no setting shows a significant loss"
                    + ("" if (table.verdict == "hybrid better").all() else " (where there is no difference, equality is not shown)"))
                 + ".")
    if bias is not None:
        share = f"{100 * bias['reduction']:.1f}% [{100 * bias['low']:.1f}, {100 * bias['high']:.1f}]"
        if bias["low"] >= BIAS_GOAL:
            verdict = f"yes: the whole interval is at or above {100 * BIAS_GOAL:.0f}%"
        elif bias["high"] < BIAS_GOAL:
            verdict = f"no: the whole interval is below {100 * BIAS_GOAL:.0f}%"
        else:
            verdict = f"not shown: the interval contains {100 * BIAS_GOAL:.0f}%"
        seeds = ", ".join(f"{100 * r:.1f}%" for r in bias.get("by_seed", []))
        lines.append(f"Language bias of hybrid batches {bias['bias']:.1f} ranks against {bias['other_bias']:.1f} for "
                     f"monolingual-only batches: {share} less" + (f" (per seed: {seeds})" if seeds else "")
                     + f". At least {100 * BIAS_GOAL:.0f}% less: {verdict}.")
    return lines


def selected_steps(summary: pd.DataFrame) -> pd.DataFrame | None:
    """The dev-selected step of every trained configuration (0: dev kept the untrained student),
    a column per seed; None when the grid trained without dev evaluation."""
    if "selected_step" not in summary.columns:
        return None
    points = trained_only(summary).drop_duplicates(list(POINT_COLUMNS))
    points = points.assign(config=system_labels(points), budget=points.train_pairs.map(budget_label))
    return points.pivot_table(index=["config", "budget"], columns="seed", values="selected_step", aggfunc="first",
                              sort=False).rename(columns=lambda seed: f"seed {seed:g}")


def hybrid_metrics(table: pd.DataFrame | None, bias: dict | None) -> dict:
    """:func:`hybrid_question`'s numbers as notebook 04 records them in its metrics file (empty
    when the grid could not ask the question)."""
    if table is None:
        return {}
    def rounded(value):
        if isinstance(value, (list, tuple)):
            return [rounded(v) for v in value]
        return round(float(value), 4) if isinstance(value, (float, np.floating)) else value

    return {"worst_language": {s: {k: rounded(v) for k, v in r.items()} for s, r in table.iterrows()},
            "bias_reduction": {k: rounded(v) for k, v in (bias or {}).items()}}
