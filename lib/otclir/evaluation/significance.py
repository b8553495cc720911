"""Significance of differences between systems: per-query measures of several runs over one qrels
(``otclir eval``/``otclir compare``), the family of comparisons the distillation experiment fixes
before it runs, and notebook 05's reading of it (intervals, gap shares, conclusions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from otclir.data import trec
from otclir.data.languages import language as language_row
from otclir.errors import OtclirError
from otclir.evaluation.stats import compare_to_baseline
from otclir.retrieval.measures import parse_measures, per_query


def system_name(path: Path | str) -> str:
    return Path(path).name.removesuffix(".run").removesuffix(".txt")


def load_measures(qrels_path, run_paths, measures, allow_missing: bool = True) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per measure, a (queries x systems) table. A judged query a run misses scores 0 (as
    trec_eval -c) and is reported in the notes; with ``allow_missing=False`` it is an error instead
    (a comparison would count the missing queries as losses)."""
    parse_measures(measures)
    duplicated = sorted({m for m in measures if list(measures).count(m) > 1})
    if duplicated:
        raise OtclirError(f"measure(s) {', '.join(duplicated)} given twice; name each once")
    qrels = trec.read_qrels(qrels_path)
    if not qrels:
        raise OtclirError(f"{qrels_path} holds no judgments")
    tables: dict[str, dict[str, pd.Series]] = {m: {} for m in measures}
    notes = []
    run_paths = list(dict.fromkeys(Path(p).resolve() for p in run_paths))  # the same file named twice counts once
    names = [system_name(p) for p in run_paths]
    if len(set(names)) != len(names):
        raise OtclirError(f"two runs share a name: {sorted(n for n in names if names.count(n) > 1)}; rename one file")
    for path, name in zip(run_paths, names):
        run = trec.read_run(path)
        if not run:
            raise OtclirError(f"{path} is an empty run")
        foreign = sorted(set(run) - set(qrels))
        if foreign:
            raise OtclirError(f"{path} ranks {len(foreign)} queries that {qrels_path} does not judge "
                              f"(e.g. {', '.join(foreign[:3])}): runs and qrels must cover the same query set")
        table = per_query(qrels, run, measures)
        missing = table.attrs["missing_queries"]
        if missing and not allow_missing:
            raise OtclirError(f"{path} misses {len(missing)} of {len(table)} judged queries (e.g. {', '.join(missing[:3])}); "
                              "a paired comparison would count them as losses. Rank every judged query, or pass "
                              "--allow-missing to score them 0 (trec_eval -c)")
        if missing:
            notes.append(f"{name}: {len(missing)} of {len(table)} judged queries missing from the run, scored 0")
        for measure in measures:
            tables[measure][name] = table[str(parse_measures([measure])[0])]
    return {m: pd.DataFrame(cols) for m, cols in tables.items()}, notes


def significance(tables: dict[str, pd.DataFrame], baseline: str, test: str = "randomization",
                 correction: str = "holm", alpha: float = 0.05, n_permutations: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """One row per system; per measure its mean, the difference to the baseline with its 95%
    bootstrap interval, the corrected p-value and a marker (+ better, - worse, significant)."""
    if not 0 < alpha < 1:
        raise OtclirError(f"alpha is a significance level in (0, 1), got {alpha}")
    if n_permutations < 100:
        raise OtclirError(f"--permutations must be at least 100 (p-values are no finer than 1/(permutations + 1)), got {n_permutations}")
    frames = []
    for measure, table in tables.items():
        if len(table.columns) < 2:
            raise OtclirError("a comparison needs at least one run besides the baseline")
        if baseline not in table.columns:
            raise OtclirError(f"baseline '{baseline}' is not among the runs: {', '.join(table.columns)}")
        result = compare_to_baseline(table, baseline, test, correction, alpha, n_permutations, seed=seed)
        marker = np.where(result.significant & (result["diff"] > 0), "+",
                          np.where(result.significant & (result["diff"] < 0), "-", ""))
        part = pd.DataFrame({"mean": result["mean"], "diff": result["diff"], "diff_ci_low": result.diff_ci_low,
                             "diff_ci_high": result.diff_ci_high, "p_adjusted": result.p_adjusted, "sig": marker},
                            index=result.index)
        part.columns = pd.MultiIndex.from_product([[measure], part.columns])
        frames.append(part)
    out = pd.concat(frames, axis=1)
    out.attrs.update(baseline=baseline, test=test, correction=correction, alpha=alpha,
                     queries=len(next(iter(tables.values()))))
    return out


ZERO_SHOT = "student-zero-shot"


def _objective(system: str) -> tuple[str, str]:
    """(objective, budget) of a distilled system name ``distill-<objective>@<budget>``."""
    objective, _, budget = system.removeprefix("distill-").rpartition("@")
    return objective, budget


def distillation_family(per_query: pd.DataFrame) -> list[tuple[str, str]]:
    """The comparisons the distillation experiment's settings fix before it runs: every OT student
    (an objective with the transport term) against the zero-shot student, and against the best
    student without the transport term at the same budget (best by its mean here: the strongest
    rival). Upper bounds (ceiling, oracle) take no part."""
    students = [c for c in per_query.columns if c.startswith("distill-")]
    pairs = []
    for system in students:
        objective, budget = _objective(system)
        if "ot" not in objective.split("+"):
            continue
        if ZERO_SHOT in per_query.columns:
            pairs.append((system, ZERO_SHOT))
        rivals = [c for c in students if _objective(c)[1] == budget and "ot" not in _objective(c)[0].split("+")]
        if rivals:
            pairs.append((system, max(rivals, key=lambda c: (per_query[c].mean(), c))))
    return pairs


# ------------------------------------------------------------ notebook 05's reading of the comparison
CEILING = "ceiling-teacher-on-english"
SCORERS = ("mean", "maxsim")
BASELINE_SCORER = "bm25"  # lexical runs have no scorer of their own and join every scorer's table
GAP_GOAL = 0.3  # the share of the zero-shot-to-ceiling gap an OT student is meant to close


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
        ot = [c for c in matrix.columns if c.startswith("distill-ot")]
        if ot and ZERO_SHOT in matrix:
            best = max(ot, key=lambda c: (matrix[c].mean(), c))
            differences[f"en-{language} {best}"] = matrix[best] - matrix[ZERO_SHOT]
    return differences


def _verdict(row) -> str:
    if row.significant and row["diff"] > 0:
        return "significantly better than"
    if row.significant and row["diff"] < 0:
        return "significantly worse than"
    return "not significantly different from"


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
        lines = [f"{r.treatment}{marked.get(r.treatment, '')} ({r.treatment_mean:.4f}) is {_verdict(r)} {r.baseline} "
                 f"({r.baseline_mean:.4f}): {r['diff']:+.4f} [{r.diff_ci_low:+.4f}, {r.diff_ci_high:+.4f}], "
                 f"corrected p = {r.p_adjusted:.4f}." for _, r in family.iterrows()]
        gaps = intervals[(intervals.language == language) & (intervals.scorer == scorer)
                         & intervals.system.str.startswith("distill-ot") & intervals.gap_share.notna()]
        lines += [f"{g.system} closes {g.gap_share:+.1%} [{g.gap_low:+.1%}, {g.gap_high:+.1%}] of the zero-shot→ceiling gap"
                  f" ({'at least' if g.gap_low >= goal else 'not shown to reach'} the {goal:.0%} goal)."
                  for _, g in gaps.iterrows()]
        conclusions[(language, scorer)] = lines
    return conclusions


def families_record(families: dict[tuple, pd.DataFrame]) -> dict:
    """The families as JSON-ready records (notebook 05's metrics file)."""
    return {" ".join(key): f[["treatment", "baseline", "diff", "p_adjusted", "significant"]].to_dict("records")
            for key, f in families.items()}


def headline_summary(results: pd.DataFrame, languages, scorers, goal: float = GAP_GOAL) -> tuple[dict, list[str]]:
    """Per language and scorer of notebook 03's results: the best OT student and the best student
    of another objective, by their share of the zero-shot-to-ceiling gap in AP, or by AP where the
    results hold no ceiling. Returns the record for the metrics file and one sentence each."""
    summary, lines = {}, []
    for language in languages:
        for scorer in scorers:
            part = results[(results.language == language) & (results.scorer == scorer)].set_index("system")
            students = part[part.index.str.startswith("distill-")]
            if students.empty:
                continue
            ot = students[students.index.str.startswith("distill-ot")]
            other = students.drop(ot.index)
            with_ceiling = CEILING in part.index
            by = "gap_share_AP" if with_ceiling else "AP"
            best_ot, best_other = ot[by].idxmax(), other[by].idxmax() if len(other) else None
            summary[f"{language} {scorer}"] = {"best_ot": best_ot, f"best_ot_{by.removesuffix('_AP')}": float(ot[by].max()),
                                               "best_other": best_other,
                                               f"best_other_{by.removesuffix('_AP')}": float(other[by].max()) if len(other) else None}
            if with_ceiling:
                verdict = "reaches" if ot[by].max() >= goal else "does not reach"
                tier = language_row(language).tier
                aside = "" if tier == "low" else f" (set for low-resource languages; {language} is a {tier}-resource contrast)"
                lines.append(f"{language}, {scorer}: the best OT student {best_ot} closes {ot[by].max():+.1%} of the gap "
                             f"(AP {ot.AP.max():.4f}; zero-shot {part.AP[ZERO_SHOT]:.4f}, ceiling {part.AP[CEILING]:.4f}) "
                             f"and {verdict} the {goal:.0%} goal{aside}; the best other objective {best_other} closes "
                             f"{other[by].max():+.1%}.")
            else:
                zero = f"{part.AP[ZERO_SHOT]:.4f}" if ZERO_SHOT in part.index else "not run"
                lines.append(f"{language}, {scorer}: the best OT student {best_ot} has AP {ot.AP.max():.4f} (zero-shot "
                             f"{zero}; no ceiling here, so no gap share); the best other objective {best_other} has AP "
                             f"{other.AP.max() if len(other) else float('nan'):.4f}.")
    return summary, lines
