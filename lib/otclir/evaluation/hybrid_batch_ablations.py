"""Notebook 04's reading of the hybrid-batch grid: curves over alpha and lambda with seed
intervals, the robustness table, the significance family against a reference configuration, the
hybrid-batch question (are hybrid batches at least as good as the better single strategy on the
worst language, with less language bias?) and the sentences the numbers support.

Rows come from :func:`otclir.evaluation.retrieval_settings.evaluate_settings` with the grid
columns (``system``: ``trained`` or ``zero-shot``; ``alpha``, ``ot_weight``, ``train_pairs``,
``seed``, and ``task`` where the grid was evaluated on several tasks: every reading is then made
per task); the statistics they reduce to are :mod:`otclir.evaluation.robustness`'s.

The hybrid question is a family declared before the run (:class:`QuestionPlan`): hybrid batches
against the better single strategy, that strategy chosen on dev by the declared dev signal (never
by a test number), in every setting, Holm-corrected within the declared scope; each difference
with a two-level bootstrap over training seeds and queries, the seeds that agree in sign, and the
smallest difference it could have detected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from otclir.errors import OtclirError
from otclir.evaluation.power import POWER, family_level
from otclir.evaluation.robustness import (
    language_query_matrix,
    over_seeds,
    per_language,
    per_query_matrix,
    robustness_summary,
    settings_in,
)
from otclir.evaluation.stats import _centred_p, correct, percentile_interval, verdict
from otclir.settings import Settings, choice, number, whole
from otclir.settings import setting as declare  # 'setting' names an evaluation setting here

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


def run_minutes_line(minutes: dict[str, float]) -> str:
    """:func:`run_minutes`'s figures as the notebook states them."""
    return (f"{minutes['configurations']} configurations, {minutes['train']:.1f} min training and "
            f"{minutes['evaluate']:.1f} min evaluation when they ran")


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
        if part.high_low_gap.isna().all():  # one tier only (the topical task's monolingual setting: English)
            continue
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


# ------------------------------------------------------------ tasks
TASK_NAMES = {"crossref": "cross-reference task", "topical": "topical task (Nave's)"}


def tasks_in(frame: pd.DataFrame) -> list:
    """The tasks a grid's table holds, in the order they were evaluated ([None]: a table stored
    before grids named their tasks, read as one)."""
    if "task" not in frame:
        return [None]
    return list(dict.fromkeys(frame.task.dropna()))


def for_task(frame: pd.DataFrame, task) -> pd.DataFrame:
    """The rows of one task (all rows for ``None`` or a table without tasks)."""
    return frame if task is None or "task" not in frame else frame[frame.task == task]


def task_name(task) -> str:
    return TASK_NAMES.get(task, task or "cross-reference task")


def figure_name(kind: str, task, tasks: list) -> str:
    """A figure's file name: ``04_<kind>``, with the task where the grid has several."""
    return f"04_{kind}" + (f"_{task}" if len(tasks) > 1 and task else "")


# ------------------------------------------------------------ the hybrid-batch question
BIAS_GOAL = 0.13  # Elmahdy et al. (2024) report 13-30% less language bias with hybrid batches
HYBRID_DEV_SIGNALS = ("dev_AP", "dev_nDCG@10")  # what the hybrid trainer logs at each dev check
QUESTION_SCOPES = ("task", "all")
SINGLES = (0.0, 1.0)  # the single strategies: cross-lingual-only and monolingual-only batches


@dataclass
class QuestionPlan(Settings):
    """The hybrid question's family, declared in the profile before the run: the dev signal that
    chooses the better single strategy (``single_by``; mean over the non-English training
    languages of English-query dev scores, as the trainer logged them at the step dev selection
    kept, averaged over seeds), the scope of the Holm correction over settings (``task``: the
    settings of each task form a family; ``all``: every setting of every task one family), the
    level and the bootstrap's resamples."""

    WHAT = "notebook 04 setting"

    single_by: str = declare("dev_AP", check=choice(HYBRID_DEV_SIGNALS, "dev signals the hybrid trainer logs"))
    question_scope: str = declare("task", check=choice(QUESTION_SCOPES, "scopes"))
    level: float = declare(0.05, check=number(above=0, below=1, says="a significance level in (0, 1)"))
    n_resamples: int = declare(2_000, check=whole(200))


def _at_budget_mask(frame: pd.DataFrame, budget) -> pd.Series:
    return frame.train_pairs.isna() if budget is None else frame.train_pairs == budget


def single_strategy_on_dev(summary: pd.DataFrame, logs: pd.DataFrame, budget, label, weight: float = 0.0,
                           signal: str = "dev_AP") -> dict:
    """The better single strategy, chosen on dev before any test number is read: for alpha 0 and
    1, the dev ``signal`` each seed's training logged at the step dev selection kept (step 0 is the
    untrained student), averaged over seeds; the higher wins, a tie going to alpha 1
    (monolingual-only batches, the bias question's reference). ``label`` names a grid point as the
    logs' ``config`` column does (:func:`otclir.experiments.ablation.point_label`). Returns the
    chosen alpha and every candidate's dev values (mean and per seed)."""
    points = trained_only(summary).drop_duplicates(list(POINT_COLUMNS))
    if "selected_step" not in points or points.selected_step.isna().all():
        raise OtclirError("the grid trained without dev checks, so no dev signal can choose the better single "
                          "strategy; train it with eval_every set")
    if signal not in logs:
        raise OtclirError(f"the training logs hold no {signal}; dev signals they hold: "
                          f"{', '.join(c for c in logs.columns if c.startswith('dev_')) or 'none'}")
    by_seed = {}
    for alpha in SINGLES:
        rows = points[(points.alpha == alpha) & (points.ot_weight == weight) & _at_budget_mask(points, budget)]
        if rows.empty:
            raise OtclirError(f"no trained configuration at alpha {alpha:g}, lambda {weight:g}, budget "
                              f"{budget_label(budget)}: the question needs both single strategies")
        values = {}
        for _, row in rows.sort_values("seed").iterrows():
            name = label({"alpha": alpha, "ot_weight": weight, "train_pairs": None if budget is None else int(budget),
                          "seed": int(row.seed)})
            logged = logs[(logs.config == name) & (logs.step == row.selected_step)][signal].dropna()
            if logged.empty:
                raise OtclirError(f"{name}: no {signal} logged at the step dev selection kept ({row.selected_step:g})")
            values[int(row.seed)] = float(logged.iloc[0])
        by_seed[alpha] = values
    means = {alpha: float(np.mean(list(values.values()))) for alpha, values in by_seed.items()}
    single = max(sorted(SINGLES, reverse=True), key=means.__getitem__)
    return {"single": single, "signal": signal, "dev": means, "dev_by_seed": by_seed}


def _draw_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``size`` bootstrap draws of ``n`` items, each row the items' counts over ``n`` (weights of a mean)."""
    return rng.multinomial(n, np.full(n, 1 / n), size=size) / n


def _detectable(draws: np.ndarray, family_alpha: float) -> float:
    """The smallest difference a two-sided test at ``family_alpha`` detects with 80% power, from the
    bootstrap's standard error (normal approximation: seeds make a paired t-test's answer wrong)."""
    return float((sps.norm.ppf(1 - family_alpha / 2) + sps.norm.ppf(POWER)) * draws.std(ddof=1))


def _per_seed(a: np.ndarray, b: np.ndarray, statistic) -> list[float]:
    """Each seed's own difference: seed i of both systems where they have as many seeds, else each
    seed of one against the other's seeds together."""
    if len(a) == len(b):
        return [float(statistic(x[None], y[None])) for x, y in zip(a, b)]
    if len(a) == 1 or len(b) > len(a):
        return [float(statistic(a, y[None])) for y in b]
    return [float(statistic(x[None], b)) for x in a]


def _two_level(a: np.ndarray, b: np.ndarray, statistic, weighted, n_resamples: int, seed: int,
               family_alpha: float, level: float = 0.95) -> dict:
    """A statistic of two systems' (seeds, ..., queries) arrays with an interval and p that resample
    queries (one draw for both) and each system's training seeds (independently), the seeds'
    own values and the smallest detectable difference."""
    if a.shape[1:] != b.shape[1:] or a.shape[-1] < 2:
        raise OtclirError(f"the two systems must have the same languages and queries (at least 2), got {a.shape[1:]} "
                          f"and {b.shape[1:]}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise OtclirError("not every language has every query; cannot resample queries jointly")
    observed = float(statistic(a, b))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for start in range(0, n_resamples, 250):
        size = min(250, n_resamples - start)
        queries = _draw_weights(rng, a.shape[-1], size)
        draws[start:start + size] = weighted(a, _draw_weights(rng, len(a), size), b, _draw_weights(rng, len(b), size),
                                             queries)
    low, high = percentile_interval(draws, level)
    by_seed = _per_seed(a, b, statistic)
    return {"diff": observed, "diff_ci_low": low, "diff_ci_high": high, "p": _centred_p(draws, observed),
            "seeds": int(max(len(a), len(b))), "diff_by_seed": by_seed,
            "seeds_agree": int(sum(np.sign(d) == np.sign(observed) for d in by_seed)),
            "mde": _detectable(draws, family_alpha), "queries": int(a.shape[-1])}


def _worst(x: np.ndarray) -> float:
    return x.mean(axis=(0, 2)).min()


def _weighted_worst(x: np.ndarray, seeds: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Per draw, the worst language's mean of (seeds, languages, queries) under drawn weights."""
    s, languages, n = x.shape
    by_query = (x.reshape(s * languages, n) @ queries.T).reshape(s, languages, -1)  # (seeds, languages, draws)
    return np.einsum("ds,sld->dl", seeds, by_query).min(axis=1)


def worst_language_difference(a, b, n_resamples: int = 2_000, seed: int = 0, family_alpha: float = 0.05) -> dict:
    """Worst-language score of one system minus that of another (each its own worst language), from
    (seeds, languages, queries) arrays over the same languages and queries (a 2-d array: one
    training run), with training seeds and queries inside the interval (:func:`_two_level`)."""
    a, b = (np.asarray(x, dtype=float) for x in (a, b))
    a, b = (x[None] if x.ndim == 2 else x for x in (a, b))
    return _two_level(a, b, lambda x, y: _worst(x) - _worst(y),
                      lambda x, wx, y, wy, q: _weighted_worst(x, wx, q) - _weighted_worst(y, wy, q),
                      n_resamples, seed, family_alpha)


def bias_reduction_share(a, b, n_resamples: int = 2_000, seed: int = 0, family_alpha: float = 0.05) -> dict:
    """How much less language bias ``a`` carries than ``b``, as a share of ``b``'s: 1 - mean(a) /
    mean(b), from (seeds, queries) arrays of per-query bias (averaged over query languages), with
    seeds and queries inside the interval."""
    a, b = (np.asarray(x, dtype=float) for x in (a, b))
    a, b = (x[None] if x.ndim == 1 else x for x in (a, b))
    result = _two_level(a, b, lambda x, y: 1 - x.mean() / y.mean(),
                        lambda x, wx, y, wy, q: 1 - np.einsum("ds,sq,dq->d", wx, x, q) / np.einsum("ds,sq,dq->d", wy, y, q),
                        n_resamples, seed, family_alpha)
    result.update(reduction=result.pop("diff"), low=result.pop("diff_ci_low"), high=result.pop("diff_ci_high"),
                  by_seed=result.pop("diff_by_seed"), bias=float(a.mean()), other_bias=float(b.mean()))
    return result


def _stack(frames: list[pd.DataFrame | pd.Series]) -> np.ndarray:
    """Per-seed tables (languages x queries, or queries) on common rows and columns, as one array."""
    if isinstance(frames[0], pd.Series):
        queries = sorted(set.intersection(*(set(f.index) for f in frames)))
        return np.stack([f.reindex(queries).to_numpy() for f in frames])
    languages = sorted(set.intersection(*(set(f.index) for f in frames)))
    queries = sorted(set.intersection(*(set(f.columns) for f in frames)))
    return np.stack([f.reindex(index=languages, columns=queries).to_numpy() for f in frames])


def _query_bias(per_query: pd.DataFrame, where: dict) -> pd.Series:
    """Each query's language bias, averaged over query languages (and over seeds, unless ``where``
    names one)."""
    return language_query_matrix(per_query, "multilingual", where, "language_bias").mean(axis=0)


def _seeds_of(per_query: pd.DataFrame, where: dict) -> list:
    from otclir.evaluation.robustness import _pick

    return sorted(_pick(per_query, where).seed.dropna().unique())


def hybrid_question(per_query: pd.DataFrame, budget, single: float, weight: float = 0.0, hybrid: float = 0.5,
                    measure: str = "AP", n_resamples: int = 2_000, seed: int = 0, level: float = 0.05,
                    family_size: int | None = None) -> tuple[pd.DataFrame, dict | None]:
    """The research question at one budget and lambda, for one task's rows: in every setting,
    hybrid batches (alpha ``hybrid``) against the better single strategy (alpha ``single``, chosen
    on dev by :func:`single_strategy_on_dev`) on the worst-language ``measure``, each system's own
    worst language, with training seeds and queries inside the interval and the test; Holm over the
    settings (``family_size`` states a larger declared family for the detectable difference; the
    caller corrects across tasks); and hybrid's language-bias reduction against monolingual-only
    batches (alpha 1), the same way."""
    def where(alpha, **extra):
        return {"system": "trained", "alpha": alpha, "ot_weight": weight, "train_pairs": budget, **extra}

    settings = settings_in(per_query)
    family_alpha = family_level(level, family_size or len(settings))
    rows = []
    for setting in settings:
        part = per_query[per_query.setting == setting]
        arrays = {alpha: _stack([language_query_matrix(part, setting, where(alpha, seed=s), measure)
                                 for s in _seeds_of(part, where(alpha))]) for alpha in (hybrid, single)}
        worst = {alpha: language_query_matrix(part, setting, where(alpha), measure).mean(axis=1) for alpha in arrays}
        test = worst_language_difference(arrays[hybrid], arrays[single], n_resamples, seed, family_alpha)
        rows.append({"setting": setting, "hybrid_worst": float(worst[hybrid].min()),
                     "hybrid_worst_language": worst[hybrid].idxmin(), "better_single": f"alpha={single:g}",
                     "single_worst": float(worst[single].min()), **test,
                     "diff_by_seed": ", ".join(f"{d:+.4f}" for d in test["diff_by_seed"])})
    table = pd.DataFrame(rows).set_index("setting")
    table["p_adjusted"] = correct(table.p.to_numpy(), "holm")
    table.attrs.update(budget=budget, ot_weight=weight, hybrid=hybrid, single=single, measure=measure, level=level,
                       family_size=family_size or len(settings))
    with_verdicts(table, level)
    bias = None
    if "multilingual" in settings:
        multi = per_query[per_query.setting == "multilingual"]
        arrays = [_stack([_query_bias(multi, where(alpha, seed=s)) for s in _seeds_of(multi, where(alpha))])
                  for alpha in (hybrid, 1.0)]
        bias = bias_reduction_share(*arrays, n_resamples=n_resamples, seed=seed, family_alpha=level)
    return table, bias


def with_verdicts(table: pd.DataFrame, level: float = 0.05) -> pd.DataFrame:
    """Each row's verdict from its corrected p and interval (``hybrid better`` / ``worse`` / ``no difference``)."""
    table["verdict"] = [HYBRID_VERDICTS[verdict(r["diff"], r.p_adjusted, level, r.diff_ci_low, r.diff_ci_high)]
                        for _, r in table.iterrows()]
    return table


def hybrid_questions(per_query: pd.DataFrame, budget, single: float, plan: QuestionPlan, weight: float = 0.0,
                     hybrid: float = 0.5, measure: str = "AP") -> dict:
    """:func:`hybrid_question` for every task of the rows, corrected as the plan declares: within each
    task's settings, or (``all``) over every setting of every task at once."""
    tasks = tasks_in(per_query)
    size = sum(len(settings_in(for_task(per_query, t))) for t in tasks) if plan.question_scope == "all" else None
    answers = {task: hybrid_question(for_task(per_query, task), budget, single, weight, hybrid, measure,
                                     plan.n_resamples, level=plan.level, family_size=size) for task in tasks}
    if plan.question_scope == "all":
        joined = pd.concat({task: table for task, (table, _) in answers.items()}, names=["task"])
        adjusted = correct(joined.p.to_numpy(), "holm")
        for i, (task, setting) in enumerate(joined.index):
            answers[task][0].loc[setting, "p_adjusted"] = adjusted[i]
        for table, _ in answers.values():
            with_verdicts(table, plan.level)
    return answers


def missing_for_question(summary: pd.DataFrame, weight: float = 0.0, hybrid: float = 0.5) -> list[float]:
    """The alphas :func:`hybrid_question` needs (0, ``hybrid`` and 1 at lambda ``weight``) that the
    grid did not train."""
    trained = trained_only(summary)
    present = set(trained[trained.ot_weight == weight].alpha)
    return [alpha for alpha in (0.0, hybrid, 1.0) if alpha not in present]


HYBRID_VERDICTS = {1: "hybrid better", -1: "hybrid worse", 0: "no difference"}


def _seed_note(row) -> str:
    agree = f"{row.seeds_agree} of {row.seeds} seeds agree in sign" if row.seeds > 1 else "one training run"
    return f"per seed {row.diff_by_seed}; {agree}"


def single_choice_text(choice: dict) -> str:
    """How the better single strategy was chosen, with the dev numbers that chose it."""
    values = ", ".join(f"alpha={alpha:g} {value:.4f}" for alpha, value in sorted(choice["dev"].items()))
    return (f"The better single strategy, chosen on dev before the test was read: alpha={choice['single']:g} "
            f"({choice['signal']} at each seed's dev-selected step, mean over seeds: {values}).")


def hybrid_answer(table: pd.DataFrame, bias: dict | None, measure: str = "AP") -> list[str]:
    """The notebook's answer to the question for one task, from :func:`hybrid_question`'s numbers."""
    lines = []
    for setting, r in table.iterrows():
        p = f"Holm p {r.p_adjusted:.3f}" if r.p_adjusted >= 0.001 else "Holm p < 0.001"
        tail = r.verdict if r.verdict != "no difference" else \
            f"no difference larger than {r.mde:.4f} detectable" if r.mde > 0 else "the same scores in every resample"
        lines.append(f"{setting}: worst-language {measure} hybrid {r.hybrid_worst:.4f} ({r.hybrid_worst_language}) vs "
                     f"{r.better_single} {r.single_worst:.4f}: {r['diff']:+.4f} [{r.diff_ci_low:+.4f}, "
                     f"{r.diff_ci_high:+.4f}], {p}: {tail} ({_seed_note(r)}).")
    worse = list(table.index[table.verdict == "hybrid worse"])
    lines.append("Hybrid batches at least as good as the better single strategy on the worst language in every setting: "
                 + ("no, worse in " + ", ".join(worse) if worse else
                    "yes, in the sense that no setting shows a significant loss"
                    + ("" if (table.verdict == "hybrid better").all() else " (where there is no difference, equality is not shown)"))
                 + ".")
    if bias is not None:
        lines.append(bias_answer(bias))
    return lines


def bias_answer(bias: dict) -> str:
    share = f"{100 * bias['reduction']:.1f}% [{100 * bias['low']:.1f}, {100 * bias['high']:.1f}]"
    if bias["low"] >= BIAS_GOAL:
        answer = f"yes: the whole interval is at or above {100 * BIAS_GOAL:.0f}%"
    elif bias["high"] < BIAS_GOAL:
        answer = f"no: the whole interval is below {100 * BIAS_GOAL:.0f}%"
    else:
        answer = f"not shown: the interval contains {100 * BIAS_GOAL:.0f}%"
    seeds = ", ".join(f"{100 * r:.1f}%" for r in bias.get("by_seed", []))
    over = "training seeds and queries" if bias.get("seeds", 1) > 1 else "queries"
    return (f"Language bias of hybrid batches {bias['bias']:.1f} ranks against {bias['other_bias']:.1f} for "
            f"monolingual-only batches: {share} less (interval over {over}"
            + (f"; per seed: {seeds}" if seeds else "") + f"). At least {100 * BIAS_GOAL:.0f}% less: {answer}.")


def selected_steps(summary: pd.DataFrame) -> pd.DataFrame | None:
    """The dev-selected step of every trained configuration (0: dev kept the untrained student),
    a column per seed; None when the grid trained without dev evaluation."""
    if "selected_step" not in summary.columns:
        return None
    points = trained_only(summary).drop_duplicates(list(POINT_COLUMNS))
    points = points.assign(config=system_labels(points), budget=points.train_pairs.map(budget_label))
    return points.pivot_table(index=["config", "budget"], columns="seed", values="selected_step", aggfunc="first",
                              sort=False).rename(columns=lambda seed: f"seed {seed:g}")


def hybrid_metrics(table: pd.DataFrame | None, bias: dict | None, choice: dict | None = None) -> dict:
    """:func:`hybrid_question`'s numbers as notebook 04 records them in its metrics file (empty
    when the grid could not ask the question), with the dev choice of the better single strategy."""
    if table is None:
        return {}

    def rounded(value):
        if isinstance(value, dict):
            return {str(k): rounded(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [rounded(v) for v in value]
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        return round(float(value), 4) if isinstance(value, (float, np.floating)) else value

    recorded = {"worst_language": {s: {k: rounded(v) for k, v in r.items()} for s, r in table.iterrows()},
                "bias_reduction": {k: rounded(v) for k, v in (bias or {}).items()}}
    if choice is not None:
        recorded["better_single"] = rounded(choice)
    return recorded


# ---------------------------------------------------------------- the question at each budget
def ask(summary: pd.DataFrame, per_query: pd.DataFrame, logs: pd.DataFrame | None, plan: QuestionPlan, label,
        weight: float = 0.0, hybrid: float = 0.5, measure: str = "AP") -> tuple[dict | None, dict]:
    """The declared hybrid question asked of one grid at its largest budget: the better single
    strategy chosen on dev, then :func:`hybrid_questions`. ``(None, {})`` when the grid lacks an
    alpha the question needs or trained without dev checks."""
    if logs is None or missing_for_question(summary, weight, hybrid):
        return None, {}
    budget = largest_budget(summary)
    choice = single_strategy_on_dev(summary, logs, budget, label, weight, plan.single_by)
    return choice, hybrid_questions(per_query, budget, choice["single"], plan, weight, hybrid, measure)


_CONFIG = re.compile(r"alpha(?P<alpha>[-\d.e]+)-lambda(?P<ot_weight>[-\d.e]+)-budget(?P<budget>\w+)-seed(?P<seed>\d+)")


def dev_curves(logs: pd.DataFrame, signal: str = "dev_AP", weight: float = 0.0) -> pd.DataFrame:
    """The dev signal at every dev check (rows: step; columns: alpha at lambda ``weight``), the mean
    over seeds: whether training had flattened by the last check."""
    checks = logs[logs[signal].notna()].copy()
    parsed = checks.config.str.extract(_CONFIG)
    if parsed.alpha.isna().any():
        raise OtclirError(f"training logs name configurations the grid does not: {sorted(checks.config[parsed.alpha.isna()].unique())[:3]}")
    checks["alpha"], checks["ot_weight"] = parsed.alpha.astype(float), parsed.ot_weight.astype(float)
    checks = checks[checks.ot_weight == weight]
    curves = checks.pivot_table(index="step", columns="alpha", values=signal, aggfunc="mean")
    curves.columns = [f"alpha {a:g}" for a in curves.columns]
    return curves


def last_check_gain(curves: pd.DataFrame) -> pd.Series:
    """Per alpha, the dev signal's change over the last interval between dev checks (the mean over
    seeds): near zero where training has flattened."""
    return curves.iloc[-1] - curves.iloc[-2] if len(curves) > 1 else curves.iloc[-1] * float("nan")


def budget_comparison(answers: dict[str, dict]) -> pd.DataFrame:
    """The question's answers side by side, one block of columns per budget (``answers``: a budget's
    label -> :func:`hybrid_questions`' result); rows: task and setting."""
    columns = ["diff", "diff_ci_low", "diff_ci_high", "p_adjusted", "mde", "seeds_agree", "verdict"]
    blocks = {}
    for budget, by_task in answers.items():
        blocks[budget] = pd.concat({task_name(task): table[columns] for task, (table, _) in by_task.items()},
                                   names=["task", "setting"])
    return pd.concat(blocks, axis=1, names=["budget", None])


def budget_change_lines(answers: dict[str, dict]) -> list[str]:
    """Per task, whether the verdicts of the first budget hold at the others: the settings whose
    verdict changed (with both), and the bias reduction at each budget."""
    labels = list(answers)
    first, lines = labels[0], []
    for task, (table, bias) in answers[first].items():
        changed, kept = [], 0
        for label in labels[1:]:
            other = answers[label].get(task)
            if other is None:
                continue
            for setting in table.index.intersection(other[0].index):
                old, new = table.loc[setting, "verdict"], other[0].loc[setting, "verdict"]
                if old == new:
                    kept += 1
                else:
                    changed.append(f"{setting} ({first}: {old}; {label}: {new}, {_signed_text(other[0].loc[setting, 'diff'])} "
                                   f"[{_signed_text(other[0].loc[setting, 'diff_ci_low'])}, "
                                   f"{_signed_text(other[0].loc[setting, 'diff_ci_high'])}])")
        text = f"{task_name(task)}: the verdict holds in {kept} of {kept + len(changed)} settings"
        text += ("; it changes in " + "; ".join(changed)) if changed else ""
        shares = [f"{label} {100 * b['reduction']:.1f}% [{100 * b['low']:.1f}, {100 * b['high']:.1f}]"
                  for label in labels if (b := answers[label].get(task, (None, None))[1]) is not None]
        if shares:
            text += "; bias reduction " + ", ".join(shares)
        lines.append(text + ".")
    return lines


def _signed_text(value: float) -> str:
    return f"{value:+.4f}"
