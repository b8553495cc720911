"""The comparison the compendium's question names first: the OT student against the sentence-MSE
student (Reimers and Gurevych 2020, the standard bitext-distillation baseline), seed-paired, per
task, language and budget, with an equivalence verdict against a declared margin; and the OT
student against the zero-shot student as the secondary comparison.

Seed ``i`` of both students shares its pair sample and batch order, so the seed part of the
standard error is the variance of the seed-paired differences of means
(:func:`otclir.evaluation.equivalence.standard_error` with ``paired_seeds``). One Holm family per
task (and measure and scorer): every language and budget of that task. Read from notebook 03's
stored per-query rows: a reading, recomputed on every reproduce, never stored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from otclir.evaluation.equivalence import tost
from otclir.evaluation.stats import StatisticsError, correct

MARGIN = 0.005  # AP: the difference below which the two objectives count as equivalent, declared before reading
COMPARISONS = {"sentence MSE": "distill-sentence_mse", "zero-shot": "student-zero-shot"}
# a cross-model teacher's students against their untrained closed-form map, besides the above
CROSS_MODEL = {"ridge map": "ridge-map"}
BASELINES = {**COMPARISONS, **CROSS_MODEL}
UNTRAINED = ("zero-shot", "ridge map")  # one system under every seed of the student


def _values(frame: pd.DataFrame, system: str, measure: str) -> pd.DataFrame:
    rows = frame[frame.system == system]
    seeds = rows.seed.fillna(-1) if "seed" in rows else pd.Series(-1, index=rows.index)
    return rows.assign(seed=seeds).pivot_table(index="seed", columns="query", values=measure, aggfunc="first")


def ot_against(per_query: dict[str, pd.DataFrame], against: str = "sentence MSE", measure: str = "AP",
               scorer: str = "mean", margin: float = MARGIN, alpha: float = 0.05) -> pd.DataFrame:
    """One row per task, language and budget: the OT student's difference from ``against``
    (sentence MSE, zero-shot or, for a cross-model teacher's students, its untrained ridge map), its seed-paired 1 - 2 alpha interval, the Holm-corrected p of no
    difference within the task, the difference detectable with 80% power, the TOST p against
    ±``margin`` and the verdict; "same weights" where both students are the untrained one."""
    if against not in BASELINES:
        raise StatisticsError(f"unknown comparison {against!r}; comparisons: {', '.join(BASELINES)}")
    rows = []
    for pair, frame in sorted(per_query.items()):
        frame = frame[frame.scorer == scorer] if "scorer" in frame else frame
        language = pair.split("-", 1)[1]
        budgets = sorted({s.split("@")[1] for s in frame.system.unique() if s.startswith("distill-ot@")},
                         key=lambda tag: (tag == "all", 0.0 if tag == "all" else float(tag)))  # "all": every pair
        for task in sorted(frame.task.unique()):
            of_task = frame[frame.task == task]
            for budget in budgets:
                baseline = BASELINES[against] + (f"@{budget}" if against == "sentence MSE" else "")
                ot, base = _values(of_task, f"distill-ot@{budget}", measure), _values(of_task, baseline, measure)
                if ot.empty or base.empty:
                    continue
                queries = ot.columns.intersection(base.columns)
                a, b = ot[queries].to_numpy(), base[queries].to_numpy()
                if against in UNTRAINED:
                    b = np.repeat(b, len(a), axis=0)  # the same untrained student under every seed
                row = {"task": task, "language": language, "budget": budget if budget == "all" else int(float(budget)),
                       "against": against,
                       "seeds": len(a), "queries": len(queries), "OT": float(a.mean()), "baseline": float(b.mean())}
                if np.allclose(a, b, rtol=0, atol=1e-12):
                    rows.append({**row, "diff": 0.0, "verdict": "same weights"})
                    continue
                try:
                    found = tost(a, b, margin, alpha, paired_seeds=True)
                except StatisticsError as error:
                    rows.append({**row, "diff": float(a.mean() - b.mean()), "verdict": f"undefined: {error}"})
                    continue
                rows.append({**row, "diff": found.diff, "low": found.low, "high": found.high, "df": found.df,
                             "p": found.p_difference, "detectable": found.detectable,
                             "p_equivalence": found.p_equivalence, "verdict_raw": found.verdict})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = np.nan
    if "p" in table:
        for task, group in table[table.p.notna()].groupby("task"):
            table.loc[group.index, "p_holm"] = correct(group.p.to_numpy(), "holm")
    table["verdict"] = [_verdict(row, margin, alpha) for row in table.itertuples()]
    return table.drop(columns=[c for c in ("verdict_raw",) if c in table])


def _verdict(row, margin: float, alpha: float) -> str:
    if isinstance(getattr(row, "verdict", None), str) and not isinstance(getattr(row, "verdict_raw", None), str):
        return row.verdict  # same weights, or undefined
    equivalent = row.p_equivalence < alpha
    different = row.p_holm < alpha
    return (f"different, within ±{margin:g}" if equivalent and different else f"equivalent within ±{margin:g}"
            if equivalent else "different" if different else "not shown either way")


def sentences(table: pd.DataFrame, margin: float = MARGIN) -> list[str]:
    """One line per task: each language and budget's verdict with its difference and interval."""
    lines = []
    if table.empty:
        return lines
    for task, group in table.groupby("task", sort=False):
        parts = []
        for row in group.itertuples():
            if row.verdict == "same weights" or str(row.verdict).startswith("undefined"):
                parts.append(f"{row.language}@{row.budget} {row.verdict}")
            else:
                parts.append(f"{row.language}@{row.budget} {row.diff:+.4f} [{row.low:+.4f}, {row.high:+.4f}] "
                             f"{row.verdict} (80% power for ≥{row.detectable:.4f})")
        lines.append(f"{task}: " + "; ".join(parts))
    return lines
