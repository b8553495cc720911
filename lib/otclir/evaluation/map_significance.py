"""Notebook 05's reading of the distillation experiment: the family of comparisons its settings
fix before it runs, per-query intervals and shares of the zero-shot-to-ceiling gap, and the
sentences the numbers support."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from otclir.evaluation.distillation_training import GAP_GOAL
from otclir.evaluation.families import SCOPE_KEYS, declared_families
from otclir.evaluation.stats import CORRECTIONS, TESTS, verdict
from otclir.retrieval.dense import DEV_SIGNALS
from otclir.settings import Settings, choice, each, number, setting, text, whole
from otclir.retrieval.system_names import BASELINE_SCORER, CEILING, SCORERS, ZERO_SHOT, parse



@dataclass
class SignificanceSettings(Settings):
    """Notebook 05's parameters: its tests over the per-query measures notebook 03 stored."""

    WHAT = "notebook 05 setting"

    measures: list[str] = setting(factory=lambda: ["AP", "nDCG@10"], check=each(text(), distinct=True))
    test: str = setting("randomization", check=choice(TESTS, "tests"))
    correction: str = setting("holm", check=choice(CORRECTIONS, "corrections"))
    n_permutations: int = setting(10_000, check=whole(100, says="a whole number of at least 100 (p-values are no "
                                                               "finer than 1/(permutations + 1))"))
    alpha: float = setting(0.05, check=number(above=0, below=1, says="a significance level in (0, 1)"))
    seed: int = setting(0, check=whole(0))
    collection: str | None = setting(None, check=text(none=True))  # the collection notebook 03 ran on
    # whose stored results it reads: None for the profile it runs under, or the one it customises
    results_profile: str | None = setting(None, check=text(none=True))
    baselines: list[str] = setting(factory=lambda: [ZERO_SHOT, "rival"], check=each(text(), distinct=True))
    rival_by: str = setting("dev_nDCG@10", check=choice(DEV_SIGNALS, "dev signals"))
    family_scope: list[str] = setting(factory=lambda: list(SCOPE_KEYS),
                                      check=each(choice(SCOPE_KEYS, "scope keys"), distinct=True))
    n_resamples: int = setting(2_000, check=whole(200))

    def family_plan(self):
        """The declared families as :class:`otclir.evaluation.families.FamilyPlan`."""
        from otclir.evaluation.families import FamilyPlan

        return FamilyPlan(baselines=self.baselines, rival_by=self.rival_by, scope=self.family_scope,
                          measures=self.measures, correction=self.correction, alpha=self.alpha,
                          n_resamples=self.n_resamples, seed=self.seed)

    def __post_init__(self):
        super().__post_init__()
        from otclir.retrieval.measures import parse_measures

        parse_measures(self.measures)


def distillation_family(per_query: pd.DataFrame) -> list[tuple[str, str]]:
    """The comparisons for results that hold no dev value to choose a rival by: every OT student
    (an objective with the transport term) against the zero-shot student and against each student
    without the transport term at the same budget (nothing is chosen on the test numbers). Upper
    bounds (ceiling, oracle) take no part."""
    students = [parse(c) for c in per_query.columns if parse(c).distilled]
    pairs = []
    for system in students:
        if not system.transports:
            continue
        if ZERO_SHOT in per_query.columns:
            pairs.append((system.name, ZERO_SHOT))
        pairs += [(system.name, c.name) for c in sorted(students, key=lambda c: c.name)
                  if c.budget == system.budget and not c.transports]
    return pairs


def step_zero_marks(results: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Per language, `` (step 0)`` for each student whose dev selection kept the untrained weights
    (a system name is a student of each language, selected on its own)."""
    kept = results.selected_untrained.fillna(False).astype(bool) if "selected_untrained" in results else \
        pd.Series(False, index=results.index)
    marks: dict[str, dict[str, str]] = {}
    for language, system in sorted(set(zip(results.loc[kept, "language"], results.loc[kept, "system"]))):
        marks.setdefault(language, {})[system] = " (step 0)"
    return marks


def query_matrix(per_query: pd.DataFrame, language: str, scorer: str, measure: str, task: str = "crossref") -> pd.DataFrame:
    """Queries x systems of one task, language and scorer (the lexical baselines included), each
    query's value averaged over a student's training seeds."""
    part = of_task(per_query, task)
    part = part[(part.language == language) & (part.scorer.isin([scorer, BASELINE_SCORER]))]
    if seeded(part):
        return part.pivot_table(index="query", columns="system", values=measure, aggfunc="mean")
    return part.pivot(index="query", columns="system", values=measure)


def gap_intervals(per_query: pd.DataFrame, measure: str = "AP", seed: int = 0) -> pd.DataFrame:
    """Per language, scorer and system: the mean with its bootstrap interval and the share of the
    zero-shot-to-ceiling gap with its interval (queries resampled together); the shares are NaN
    where the results hold no ceiling (a collection without English document text)."""
    from otclir.evaluation.stats import bootstrap_ci, gap_share_interval

    rows = []
    for language in sorted(per_query.language.unique()):
        for scorer in SCORERS:
            matrix = query_matrix(per_query, language, scorer, measure)
            if matrix.empty:
                continue
            for system in matrix.columns:
                low, high = bootstrap_ci(matrix[system].to_numpy(), seed=seed)
                share = s_low = s_high = float("nan")
                if CEILING in matrix and ZERO_SHOT in matrix:
                    share, s_low, s_high = gap_share_interval(matrix[system], matrix[ZERO_SHOT], matrix[CEILING], seed=seed)
                rows.append({"language": language, "scorer": scorer, "system": system, "mean": matrix[system].mean(),
                             "ci_low": low, "ci_high": high, "gap_share": share, "gap_low": s_low, "gap_high": s_high})
    return pd.DataFrame(rows, columns=["language", "scorer", "system", "mean", "ci_low", "ci_high", "gap_share",
                                       "gap_low", "gap_high"])


def distillation_families(per_query: pd.DataFrame, measures, test: str = "randomization", correction: str = "holm",
                          alpha: float = 0.05, n_permutations: int = 10_000, seed: int = 0) -> dict[tuple, pd.DataFrame]:
    """One family of comparisons (:func:`distillation_family`) per (language, scorer, measure), each
    corrected on its own."""
    from otclir.evaluation.stats import compare_pairs

    families = {}
    for language in sorted(per_query.language.unique()):
        for scorer in SCORERS:
            for measure in measures:
                matrix = query_matrix(per_query, language, scorer, measure)
                pairs = distillation_family(matrix)
                if pairs:
                    families[(language, scorer, measure)] = compare_pairs(matrix, pairs, test, correction, alpha,
                                                                          n_permutations, seed=seed)
    return families


def family_stem(key: tuple) -> str:
    """The file name of a family's tables: ``05_significance_en-sw_maxsim_AP``."""
    language, scorer, measure = key
    return f"05_significance_en-{language}_{scorer}_{measure.replace('@', '')}"


def family_overview(families: dict[tuple, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat({key: f.set_index(["treatment", "baseline"])[["diff", "p_adjusted", "significant"]]
                      for key, f in families.items()}, names=["language", "scorer", "measure"])


COMPARISON_VERDICTS = {1: "significantly better than", -1: "significantly worse than", 0: "not significantly different from"}


def _verdict(row, alpha: float) -> str:
    return COMPARISON_VERDICTS[verdict(row["diff"], row.p_adjusted, alpha)]


def distillation_conclusions(families: dict[tuple, pd.DataFrame], intervals: pd.DataFrame, measure: str,
                             marks: dict[str, dict[str, str]] | None = None,
                             goal: float = GAP_GOAL) -> dict[tuple, list[str]]:
    """Per (language, scorer) family of ``measure``: one sentence per comparison (difference, its
    interval, corrected p) and one per OT student's gap share against the goal, which counts as
    reached only when the interval's lower end is at or above it."""
    marks = marks or {}
    conclusions = {}
    for (language, scorer, family_measure), family in families.items():
        if family_measure != measure:
            continue
        marked = marks.get(language, {})
        lines = [f"{r.treatment}{marked.get(r.treatment, '')} ({r.treatment_mean:.4f}) is {_verdict(r, family.attrs.get('alpha', 0.05))} {r.baseline} "
                 f"({r.baseline_mean:.4f}): {r['diff']:+.4f} [{r.diff_ci_low:+.4f}, {r.diff_ci_high:+.4f}], "
                 f"corrected p = {r.p_adjusted:.4f}." for _, r in family.iterrows()]
        gaps = intervals[(intervals.language == language) & (intervals.scorer == scorer)
                         & intervals.system.map(lambda c: parse(c).transports) & intervals.gap_share.notna()]
        lines += [f"{g.system} closes {g.gap_share:+.1%} [{g.gap_low:+.1%}, {g.gap_high:+.1%}] of the zero-shot→ceiling gap"
                  f" ({'at least' if g.gap_low >= goal else 'not shown to reach'} the {goal:.0%} goal)."
                  for _, g in gaps.iterrows()]
        conclusions[(language, scorer)] = lines
    return conclusions


def families_record(families: dict[tuple, pd.DataFrame]) -> dict:
    """The families as JSON-ready records (notebook 05's metrics file)."""
    return {" ".join(key): f[["treatment", "baseline", "diff", "p_adjusted", "significant"]].to_dict("records")
            for key, f in families.items()}


# ------------------------------------------------------------ results with tasks and training seeds
def tasks_of(frame: pd.DataFrame) -> list[str]:
    """The tasks a results table holds (results stored before tasks existed hold the cross-reference one)."""
    return list(dict.fromkeys(frame.task)) if "task" in frame else ["crossref"]


def of_task(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    return frame[frame.task == task] if "task" in frame else frame


def seeded(per_query: pd.DataFrame) -> bool:
    """Whether per-query rows carry training seeds (students trained with several seeds)."""
    return "seed" in per_query and per_query.seed.notna().any()


def seed_intervals(per_query: pd.DataFrame, measure: str = "AP", n_resamples: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Per task, language, scorer and system: the mean over seeds and queries with a two-level
    bootstrap interval, and the share of the zero-shot-to-ceiling gap with its interval (seeds and
    queries resampled); NaN shares where there is no ceiling."""
    from otclir.evaluation.families import seed_values
    from otclir.evaluation.seed_bootstrap import two_level_bootstrap, two_level_gap_share

    rows = []
    for task in tasks_of(per_query):
        part = of_task(per_query, task)
        for language in sorted(part.language.unique()):
            for scorer in SCORERS:
                chosen = part[(part.language == language) & part.scorer.isin([scorer, BASELINE_SCORER])]
                if chosen.empty:
                    continue
                values, _ = seed_values(chosen, measure)
                zero, ceiling = values.get(ZERO_SHOT), values.get(CEILING)
                for system, array in values.items():
                    mean = two_level_bootstrap(array, array[:1] * 0, n_resamples, seed)
                    share = s_low = s_high = float("nan")
                    if zero is not None and ceiling is not None:
                        share, s_low, s_high = two_level_gap_share(array, zero[0], ceiling[0], n_resamples, seed)
                    rows.append({"task": task, "language": language, "scorer": scorer, "system": system,
                                 "seeds": len(array), "mean": float(array.mean()), "ci_low": mean["diff_ci_low"],
                                 "ci_high": mean["diff_ci_high"], "seed_sd": float(array.mean(1).std(ddof=1))
                                 if len(array) > 1 else float("nan"), "gap_share": share, "gap_low": s_low,
                                 "gap_high": s_high})
    return pd.DataFrame(rows)


def pivot_family(families: dict[tuple, pd.DataFrame], scope: list[str], scorer: str, measure: str,
                 baseline: str) -> pd.DataFrame:
    """One compact table of a scorer and measure: rows the OT students, columns task and language,
    cells ``difference [interval]`` against ``baseline`` (``rival``: each family's dev-chosen rival)
    with ``*`` where significant after correction; the detail stays in the per-family files."""
    cells = {}
    for key, family in families.items():
        labels = dict(zip(scope, key))
        if labels.get("scorer", scorer) != scorer or labels.get("measure", measure) != measure:
            continue
        for _, row in family.iterrows():
            treatment, _, rest = row.treatment.partition(" | ")
            if baseline == "rival" and row.baseline.split(" | ")[0] == ZERO_SHOT or \
                    baseline != "rival" and row.baseline.split(" | ")[0] != baseline:
                continue
            column = (labels.get("task", "crossref"), labels.get("language", rest))
            cells.setdefault(treatment, {})[column] = (f"{row['diff']:+.4f} [{row.diff_ci_low:+.4f}, {row.diff_ci_high:+.4f}]"
                                                       + ("*" if row.significant else ""))
    table = pd.DataFrame(cells).T
    if not table.empty:
        table.columns = pd.MultiIndex.from_tuples(table.columns, names=["task", "language"])
        table = table.sort_index(axis=1, key=lambda index: index.map(_language_rank) if index.name == "language" else index)
    return table.rename_axis("OT student").sort_index()


def _language_rank(code: str) -> int:
    from otclir.data.languages import TIERS, language

    try:
        return TIERS.index(language(code).tier)
    except Exception:
        return len(TIERS)


def seeded_conclusions(families: dict[tuple, pd.DataFrame], scope: list[str], intervals: pd.DataFrame,
                       measure: str, marks: dict[str, dict[str, str]] | None = None, goal: float = GAP_GOAL,
                       chosen: dict | None = None) -> dict[tuple, list[str]]:
    """Per family of ``measure``: a sentence per comparison with its two-level interval, corrected
    p, seeds agreeing in sign and, for every difference not shown, the smallest one the test could
    have detected; a sentence per OT student's gap share against the goal; and where the rival came
    from (its dev value)."""
    marks = marks or {}
    out = {}
    for key, family in families.items():
        labels = dict(zip(scope, key))
        if labels.get("measure", measure) != measure:
            continue
        language = labels.get("language")
        marked = marks.get(language, {}) if language else {}
        lines = []
        for _, r in family.iterrows():
            verdict_text = _verdict(r, family.attrs.get("alpha", 0.05))
            seeds = f"{r.seeds_agree} of {r.seeds} seeds agree in sign" if r.seeds > 1 else "one training run"
            line = (f"{r.treatment}{marked.get(r.treatment, '')} ({r.treatment_mean:.4f}) is {verdict_text} {r.baseline} "
                    f"({r.baseline_mean:.4f}): {r['diff']:+.4f} [{r.diff_ci_low:+.4f}, {r.diff_ci_high:+.4f}], "
                    f"corrected p {_p(r.p_adjusted)}, {seeds}")
            if not r.significant and r.mde > 0:
                line += f"; no difference larger than {r.mde:.4f} could be detected (80% power at the corrected level)"
            elif not r.significant:
                line += "; the two rank every query alike (the same weights), so no test could tell them apart"
            lines.append(line + ".")
        if language is not None:
            part = intervals[(intervals.language == language) & intervals.system.map(lambda c: parse(c).transports)
                             & intervals.gap_share.notna()]
            for field in ("task", "scorer"):
                if field in labels and field in part:
                    part = part[part[field] == labels[field]]
            lines += [f"{g.system} ({g.scorer}) closes {g.gap_share:+.1%} [{g.gap_low:+.1%}, {g.gap_high:+.1%}] of the "
                      f"zero-shot→ceiling gap ({'at least' if g.gap_low >= goal else 'not shown to reach'} the "
                      f"{goal:.0%} goal)." for _, g in part.iterrows()]
            for budget, rival in (chosen or {}).get(language, {}).items():
                lines.append(f"The rival at {budget} pairs is {rival['rival']}, chosen on dev by {rival['by']} ("
                             + ", ".join(f"{c} {v:.4f}" for c, v in sorted(rival["dev"].items())) + ").")
        out[key] = lines
    return out


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def logged_dev_values(results: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
    """Results stored before each student's dev values were recorded beside it, with those values
    (``selected_<signal>``) read from its training log at the step dev selection kept, so that the
    rival can be chosen on dev for them too. Results that already hold them are returned as they
    are; a student whose log lacks its kept step keeps no value (and cannot be a chosen rival)."""
    columns = [f"selected_{signal}" for signal in DEV_SIGNALS]
    if any(c in results for c in columns) or logs is None or "config" not in logs or "selected_step" not in results:
        return results
    checks = logs[(logs.get("part") == "headline") & logs[list(DEV_SIGNALS)].notna().any(axis=1)]
    keys = ["language", "config", "step"]
    if "seed" in checks and "seed" in results:
        keys.append("seed")
    values = checks.drop_duplicates(keys, keep="last").rename(columns={"config": "system", "step": "selected_step"})
    values = values[[*(["seed"] if "seed" in keys else []), "language", "system", "selected_step", *DEV_SIGNALS]]
    values = values.rename(columns={signal: f"selected_{signal}" for signal in DEV_SIGNALS})
    return results.merge(values, on=[k for k in ("seed", "language", "system", "selected_step") if k in values],
                         how="left", validate="many_to_one")


def read(stored: dict, settings: SignificanceSettings) -> dict:
    """Notebook 05's whole reading of notebook 03's stored results: intervals, the families and
    their conclusions, with what the figures and tables need. Results with training seeds and a
    dev value per student get the declared families (dev-chosen rival, two-level tests, detectable
    differences); results stored before those existed get the families they were read with then."""
    per_query = pd.concat(stored["per_query"].values(), ignore_index=True)
    results = logged_dev_values(stored["results"], stored.get("logs"))
    marks = step_zero_marks(results)
    measure = settings.measures[0]
    if seeded(per_query) or any(c.startswith("selected_dev_") for c in results.columns):
        plan = settings.family_plan()
        families, chosen = declared_families(per_query, results, plan)
        intervals = seed_intervals(per_query, measure, settings.n_resamples, settings.seed)
        scope = list(plan.scope)
        conclusions = seeded_conclusions(families, scope, intervals, measure, marks, chosen=chosen)
        pivots = {(scorer, m, baseline): pivot_family(families, scope, scorer, m, baseline)
                  for scorer in SCORERS for m in settings.measures for baseline in settings.baselines}
        overview = pd.concat({key: f.set_index(["treatment", "baseline"])[["diff", "p_adjusted", "significant", "mde"]]
                              for key, f in families.items()}, names=scope)
    else:
        families = distillation_families(per_query, settings.measures, settings.test, settings.correction,
                                         settings.alpha, settings.n_permutations, seed=settings.seed)
        intervals = gap_intervals(per_query, seed=settings.seed)
        scope, chosen, pivots = ["language", "scorer", "measure"], {}, {}
        conclusions = {(language, scorer, measure): lines for (language, scorer), lines in
                       distillation_conclusions(families, intervals, measure, marks).items()}
        overview = family_overview(families)
    return {"per_query": per_query, "marks": marks, "families": families, "chosen": chosen, "scope": scope,
            "intervals": intervals, "conclusions": conclusions, "pivots": pivots, "overview": overview,
            "measure": measure}


def family_label(key: tuple, scope: list[str]) -> str:
    """A family's name in files: ``05_significance_crossref_en-sw_maxsim_AP``."""
    labels = dict(zip(scope, key))
    parts = [labels.get("task"), f"en-{labels['language']}" if "language" in labels else None, labels.get("scorer"),
             labels.get("measure", "").replace("@", "") or None]
    return "05_significance_" + "_".join(p for p in parts if p)


def conclusion_header(key: tuple, scope: list[str], family: pd.DataFrame) -> str:
    labels = dict(zip(scope, key))
    where = ", ".join(f"{k} {v}" for k, v in labels.items())
    return (f"{where} ({family.attrs['queries']} queries, family of {len(family)}, {family.attrs['correction']} "
            f"correction; detectable differences at level {family.attrs.get('mde_level', family.attrs.get('alpha')):.4f}):")


# ---------------------------------------------------------------- what notebook 05 draws and shows
def baseline_kind(baseline: str) -> str:
    return "zero-shot" if baseline.split(" | ")[0] == ZERO_SHOT else "rival"


def forest_rows(families: dict[tuple, pd.DataFrame], scope: list[str], intervals: pd.DataFrame,
                goal: float = GAP_GOAL) -> pd.DataFrame:
    """The families as rows of :func:`otclir.plots.difference_forest`: per task, language and
    scorer each OT student against each baseline, its two-level interval and whether it is
    significant after correction; ``goal`` on the zero-shot rows is the difference that would close
    ``goal`` of the gap (from the zero-shot and ceiling means in ``intervals``)."""
    means = intervals.set_index([k for k in ("task", "language", "scorer", "system") if k in intervals])["mean"]
    rows = []
    for key, family in families.items():
        labels = dict(zip(scope, key))
        for _, r in family.iterrows():
            treatment, _, rest = r.treatment.partition(" | ")
            where = dict(labels)
            for field, value in zip([k for k in ("task", "language", "scorer", "measure") if k not in scope],
                                    rest.split()):
                where[field] = value
            kind = baseline_kind(r.baseline)
            goal_diff = float("nan")
            if kind == "zero-shot":
                index = tuple(where.get(k, "crossref") for k in ("task", "language", "scorer") if k in means.index.names)
                try:
                    goal_diff = goal * (means[index + (CEILING,)] - means[index + (ZERO_SHOT,)])
                except KeyError:
                    pass
            rows.append({**{k: where.get(k) for k in ("task", "language", "scorer", "measure")}, "system": treatment,
                         "baseline": kind, "baseline_system": r.baseline.split(" | ")[0], "diff": r["diff"],
                         "low": r.diff_ci_low, "high": r.diff_ci_high, "significant": bool(r.significant),
                         "goal": goal_diff})
    return pd.DataFrame(rows)


def headline_table(pivots: dict[tuple, pd.DataFrame], measure: str) -> pd.DataFrame:
    """The paper's headline: one table of ``measure`` with a row per scorer, baseline and OT student
    and a column per task and language, cells ``difference [interval]`` (* significant after the
    family's correction)."""
    parts = {(scorer, "zero-shot student" if baseline == ZERO_SHOT else "dev-chosen rival"): table
             for (scorer, m, baseline), table in pivots.items() if m == measure and not table.empty}
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, names=["scorer", "against"])
    table.columns = [" ".join(c) if isinstance(c, tuple) else c for c in table.columns]
    return table


def headline_for_page(headline: pd.DataFrame) -> pd.DataFrame:
    """The headline (:func:`headline_table`) in the shape a page holds: a row per scorer, task and
    language, a column per comparison ("OT@2000 vs zero-shot"), the same cells."""
    if headline.empty:
        return headline
    cells = headline.stack().rename("cell").reset_index()
    scorer, against, student, column = cells.columns[:4]
    cells[["task", "language"]] = cells[column].str.split(" ", n=1, expand=True)
    cells["comparison"] = [f"{s.removeprefix('distill-').replace('ot', 'OT', 1)} vs "
                           f"{'zero-shot' if a.startswith('zero') else 'rival'}" for s, a in zip(cells[student], cells[against])]
    rows = list(dict.fromkeys(zip(cells[scorer], cells.task, cells.language)))
    wide = cells.pivot(index=[scorer, "task", "language"], columns="comparison", values="cell")
    return wide.reindex(pd.MultiIndex.from_tuples(rows, names=[scorer, "task", "language"]))[
        list(dict.fromkeys(cells.comparison))].rename_axis(columns=None)


def declared_per_query(per_query: pd.DataFrame, scorer: str = "maxsim", measure: str = "AP",
                       task: str | None = None) -> tuple[dict[str, pd.Series], dict[str, tuple[str, str]]]:
    """The per-query comparison notebook 05 draws, fixed before the run: per language, the OT
    student with the plain transport objective at the largest budget against the zero-shot
    student (each query's value averaged over training seeds), on ``task`` (None: the
    cross-references, or the results' first task where they have none, as on a collection).
    Returns the differences and which comparison each is."""
    if task is None:
        tasks = list(dict.fromkeys(per_query.task)) if "task" in per_query else ["crossref"]
        task = "crossref" if "crossref" in tasks else tasks[0]
    differences, compared = {}, {}
    for language in sorted(per_query.language.unique()):
        matrix = query_matrix(per_query, language, scorer, measure, task)
        students = [parse(c) for c in matrix.columns if parse(c).transports]
        if not students or ZERO_SHOT not in matrix:
            continue
        budgets = sorted({s.budget for s in students}, key=lambda b: float("inf") if b == "all" else float(b))
        at_largest = [s.name for s in students if s.budget == budgets[-1]]
        plain = [n for n in at_largest if parse(n).objective == "ot"]
        treatment = (plain or sorted(at_largest))[0]
        differences[language] = matrix[treatment] - matrix[ZERO_SHOT]
        compared[language] = (treatment, ZERO_SHOT)
    return differences, compared
