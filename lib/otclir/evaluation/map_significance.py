"""Notebook 05's reading of the distillation experiment: the family of comparisons its settings
fix before it runs, per-query intervals and shares of the zero-shot-to-ceiling gap, and the
sentences the numbers support."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from otclir.evaluation.distillation_training import GAP_GOAL
from otclir.evaluation.stats import CORRECTIONS, TESTS, verdict
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

    def __post_init__(self):
        super().__post_init__()
        from otclir.retrieval.measures import parse_measures

        parse_measures(self.measures)


def distillation_family(per_query: pd.DataFrame) -> list[tuple[str, str]]:
    """The comparisons the distillation experiment's settings fix before it runs: every OT student
    (an objective with the transport term) against the zero-shot student, and against the best
    student without the transport term at the same budget (best by its mean here: the strongest
    rival). Upper bounds (ceiling, oracle) take no part."""
    students = [parse(c) for c in per_query.columns if parse(c).distilled]
    pairs = []
    for system in students:
        if not system.transports:
            continue
        if ZERO_SHOT in per_query.columns:
            pairs.append((system.name, ZERO_SHOT))
        rivals = [c.name for c in students if c.budget == system.budget and not c.transports]
        if rivals:
            pairs.append((system.name, max(rivals, key=lambda c: (per_query[c].mean(), c))))
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


def query_matrix(per_query: pd.DataFrame, language: str, scorer: str, measure: str) -> pd.DataFrame:
    """Queries x systems of one language and scorer (the lexical baseline included)."""
    part = per_query[(per_query.language == language) & (per_query.scorer.isin([scorer, BASELINE_SCORER]))]
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


def best_ot_differences(per_query: pd.DataFrame, scorer: str = "maxsim", measure: str = "AP") -> dict[str, pd.Series]:
    """Per language, the per-query difference of its best OT student (by mean) to the zero-shot one."""
    differences = {}
    for language in sorted(per_query.language.unique()):
        matrix = query_matrix(per_query, language, scorer, measure)
        ot = [c for c in matrix.columns if parse(c).transports]
        if ot and ZERO_SHOT in matrix:
            best = max(ot, key=lambda c: (matrix[c].mean(), c))
            differences[f"en-{language} {best}"] = matrix[best] - matrix[ZERO_SHOT]
    return differences


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
