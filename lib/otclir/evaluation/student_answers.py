"""Readings of the answers' students (:func:`otclir.experiments.student_plan.collect`): the recipe
each language chose on its dev, how each dev curve ends, which dev signal predicts retrieval on
held-out dev books, the dev-selected weights beside the final ones on test, and OT against
sentence MSE and zero-shot (:mod:`otclir.evaluation.primary_comparison`). Recomputed from the
stored parts on every reading; nothing here is stored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from otclir.errors import OtclirError

FOLD_MARK = "@fold"


def recipes(students: pd.DataFrame, select_by: str) -> pd.DataFrame:
    """Per language and objective: each rate's dev-selected ``select_by`` at the first budget and
    seed, the rate its grid chose (``kept``, see :func:`otclir.experiments.student_plan.collect`),
    that run's selected step and the end of its dev curve; a grid not yet whole has no choice."""
    runs = students[students.recipe_run] if not students.empty else students
    columns = ["language", "objective", "chosen_lr", "selected_step", "end"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    if select_by not in runs:
        raise OtclirError(f"the students record no {select_by}; their dev signals: "
                          f"{', '.join(c for c in runs.columns if c.startswith('dev_')) or 'none'}")
    rows = []
    for (language, objective), group in runs.groupby(["language", "objective"], sort=False):
        ordered = group.sort_values(["lr"])
        row = {"language": language, "objective": objective,
               **{f"{select_by} at lr {lr:g}": value for lr, value in zip(ordered.lr, ordered[select_by])},
               "minutes": round(float(group.minutes.mean()), 1)}
        chosen = ordered[ordered.kept]
        if len(chosen) == 1:
            best = chosen.iloc[0]
            row.update(chosen_lr=best.lr, selected_step=int(best.selected_step), steps=int(best.steps), end=best.end)
        rows.append(row)
    return pd.DataFrame(rows)


def kept_students(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The plan's students without the recipe runs its dev did not choose: ``students`` and
    ``per_query`` restricted to the kept ones (a cross-model teacher's untrained map is kept)."""
    students, per_query = tables["students"], tables["per_query"]
    if students.empty:
        return {"students": students, "per_query": per_query}
    return {"students": students[students.kept].reset_index(drop=True),
            "per_query": per_query[per_query.kept.astype(bool)].reset_index(drop=True)}


def fold_agreement(curves: pd.DataFrame, target: str = "dev_AP") -> pd.DataFrame:
    """Per language and dev signal: Spearman's correlation, over every dev check of every student,
    between the signal on one fold of the dev books and ``target`` on the other (the mean of both
    directions). The signal that agrees best predicts retrieval on dev books it did not see."""
    from scipy.stats import spearmanr

    signals = sorted({c.split(FOLD_MARK)[0] for c in curves.columns if FOLD_MARK in c})
    if target not in signals:
        raise OtclirError(f"the dev checks log no {target} per fold; signals per fold: {', '.join(signals) or 'none'}")
    rows = []
    for language, group in curves.groupby("language", sort=False):
        for signal in signals:
            values = []
            for one, other in ((0, 1), (1, 0)):
                a, b = group[f"{signal}{FOLD_MARK}{one}"], group[f"{target}{FOLD_MARK}{other}"]
                ok = a.notna() & b.notna()
                if ok.sum() >= 3 and a[ok].nunique() > 1 and b[ok].nunique() > 1:
                    values.append(spearmanr(a[ok], b[ok]).statistic)
            rows.append({"language": language, "signal": signal, "checks": int(len(group)),
                         "agreement": float(np.mean(values)) if values else np.nan})
    return pd.DataFrame(rows)


def weights_on_test(per_query: pd.DataFrame, measure: str = "AP", scorer: str = "mean") -> pd.DataFrame:
    """Per student and task: the test ``measure`` of its dev-selected and its final weights."""
    rows = per_query[per_query.scorer == scorer] if "scorer" in per_query else per_query
    keys = ["language", "objective", "budget", "seed", "lr", "task"]
    table = rows.pivot_table(index=keys, columns="weights", values=measure, aggfunc="mean").reset_index()
    table.columns.name = None
    return table


def as_system_rows(per_query: pd.DataFrame, weights: str = "dev-selected") -> dict[str, pd.DataFrame]:
    """The students' per-query rows in the form :func:`~otclir.evaluation.primary_comparison.ot_against`
    reads (one frame per language pair, ``system`` and ``seed`` columns), for one kind of weights."""
    rows = per_query[per_query.weights == weights]
    return {f"en-{language}": group.reset_index(drop=True) for language, group in rows.groupby("language")}


def ot_against(per_query: pd.DataFrame, zero_shot: dict[str, pd.DataFrame] | None = None, against: str = "sentence MSE",
               weights: str = "dev-selected", **options) -> pd.DataFrame:
    """OT against sentence MSE (or zero-shot, whose per-query rows ``zero_shot`` gives per language
    pair, or a cross-model teacher's untrained ridge map, stored with its students) per task,
    language and budget, seed-paired, with the equivalence verdict."""
    from otclir.evaluation import primary_comparison

    frames = as_system_rows(per_query, weights)
    if against == "ridge map":  # a cross-model teacher's untrained map: its rows are weights "untrained"
        untrained = as_system_rows(per_query, "untrained")
        frames = {pair: pd.concat([frame, untrained[pair]], ignore_index=True)
                  for pair, frame in frames.items() if pair in untrained}
    if against == "zero-shot":
        if not zero_shot:
            raise OtclirError("OT against zero-shot needs the zero-shot student's per-query rows (zero_shot=)")
        frames = {pair: pd.concat([frame, zero_shot[pair]], ignore_index=True)
                  for pair, frame in frames.items() if pair in zero_shot}
    return primary_comparison.ot_against(frames, against=against, **options)


def dev_test_agreement(students: pd.DataFrame, signals, measure: str = "AP") -> pd.DataFrame:
    """Per language, task and scorer: Spearman's correlation over the students between each dev
    signal at the weights dev selected and the test ``measure`` of those weights: how well the dev
    protocol ranks students as test does. ``students`` has one row per student with the signals
    and the test measure (notebook 03's ``results.csv`` with ``selected_<signal>`` columns, or the
    parts' students joined with their test means)."""
    from scipy.stats import spearmanr

    missing = [s for s in signals if s not in students] + ([measure] if measure not in students else [])
    if missing:
        raise OtclirError(f"the students' table lacks {', '.join(missing)}; columns: {', '.join(students.columns)}")
    keys = [k for k in ("language", "task", "scorer") if k in students]
    rows = []
    for key, group in students.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)), students=len(group))
        for signal in signals:
            ok = group[signal].notna() & group[measure].notna()
            row[signal] = (float(spearmanr(group.loc[ok, signal], group.loc[ok, measure]).statistic)
                           if ok.sum() >= 3 and group.loc[ok, signal].nunique() > 1 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def students_with_test(tables: dict[str, pd.DataFrame], measure: str = "AP", scorer: str = "mean") -> pd.DataFrame:
    """One row per student and task: its dev selection (the dev signals at the step it kept) with
    the test ``measure`` of its dev-selected and final weights (``measure`` is the dev-selected
    one, what :func:`dev_test_agreement` ranks against)."""
    test = weights_on_test(tables["per_query"], measure, scorer)
    keys = ["language", "objective", "budget", "seed", "lr"]
    joined = tables["students"].merge(test, on=keys, how="inner")
    return joined.assign(scorer=scorer, **{measure: joined["dev-selected"], f"final_{measure}": joined["final"]})
