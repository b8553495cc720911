"""Notebook 03's reading of the distillation experiment: the recipe study's selection (each
configuration at the step its dev signal picks, the recipe each objective got and how well the
dev signals rank the study's points like the test split), and the headline summary per language
and scorer against the goal."""
from __future__ import annotations

import pandas as pd

from otclir.data.languages import language as language_row
from otclir.retrieval.system_names import CEILING, ZERO_SHOT, parse
from otclir.transport.objectives import transports

GAP_GOAL = 0.3  # the share of the zero-shot-to-ceiling gap an OT student is meant to close
STUDY_COLUMNS = ("epochs", "{signal}", "gap_share_mean", "gap_share_mean_low", "gap_share_mean_high",
                 "gap_share_maxsim", "gap_share_maxsim_low", "gap_share_maxsim_high")


def study_selection(points: pd.DataFrame, signal: str) -> pd.DataFrame:
    """Each study configuration at the step its dev signal picks (ties: fewer steps), best first,
    with its test gap shares and their intervals."""
    columns = [c.format(signal=signal) for c in STUDY_COLUMNS]
    best = points.sort_values([signal, "step"], ascending=[False, True]).groupby("config", sort=False).head(1)
    return best.set_index("config")[columns]


def agreement_line(agreement: pd.DataFrame, chosen_signal: str) -> str:
    """Which dev signal chose the recipe, and which one ranks the study's points most like test."""
    rho = agreement.set_index("dev_signal").spearman_rho
    best = rho.idxmax()
    return (f"The recipe is chosen by {chosen_signal} (rho {rho[chosen_signal]:.2f}); the dev signal that ranks the "
            f"study's points most like the test split is {best} (rho {rho[best]:.2f}).")


def recipes_table(recipes: dict) -> pd.DataFrame:
    """The recipe each objective got: learning rate, epsilon (objectives that transport), epochs
    and the study step it was chosen at."""
    rows = [{"objective": o, "lr": r["settings"].get("lr"),
             "epsilon": r["settings"].get("epsilon") if transports(o) else None,
             "epochs": r["epochs"], "study step": r["step"]} for o, r in recipes.items()]
    if any("plan" in r["settings"] for r in recipes.values()):  # recipes chosen since plan sources exist
        for row, (o, r) in zip(rows, recipes.items()):
            row["plan"] = r["settings"].get("plan", "fixed") if transports(o) else None
    return pd.DataFrame(rows).set_index("objective")


def chosen_point(points: pd.DataFrame, recipe: dict) -> pd.Series:
    """The study point a recipe was chosen at (its objective, step, learning rate and epsilon)."""
    match = (points.objective == recipe["objective"]) & (points.step == recipe["step"]) & \
        (points.lr == recipe["settings"]["lr"])
    if transports(recipe["objective"]):
        plan = recipe["settings"].get("plan", "fixed")
        if "plan" in points:
            match &= points.plan.fillna("fixed") == plan
        if plan != "statistical":
            match &= points.epsilon == recipe["settings"]["epsilon"]
    return points[match].iloc[0]


def recipe_lines(points: pd.DataFrame, recipes: dict, signal: str) -> list[str]:
    """One sentence per objective: the dev signal that chose its recipe, how long it trains and
    the test gap share of the chosen point (reported, never used to choose)."""
    lines = []
    for objective, recipe in recipes.items():
        row = chosen_point(points, {**recipe, "objective": objective})
        epochs = recipe["epochs"]
        what = ("no training: the untrained student" if recipe["step"] == 0 else
                f"{epochs:g} epoch{'' if epochs == 1 else 's'} at lr {recipe['settings']['lr']:g}")
        lines.append(f"{objective}: chosen by {signal} = {row[signal]:.4f}: {what}; its test gap share "
                     f"{row.gap_share_mean:+.1%} (mean) and {row.gap_share_maxsim:+.1%} (MaxSim).")
    return lines


RESULT_COLUMNS = ["AP", "nDCG@10", "RR@10", "R@100", "gap_share_AP", "selected_step"]


def over_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """Notebook 03's results with each student's training seeds averaged: per task, language,
    system and scorer the mean of every measure, the number of seeds, the seed-to-seed standard
    deviation of AP and the plan source of an OT student. Results stored before tasks and seeds
    existed come back as they are."""
    if "seed" not in results:
        return results
    keys = [k for k in ("task", "language", "system", "scorer") if k in results]
    numeric = [c for c in results.columns if c not in keys and pd.api.types.is_numeric_dtype(results[c]) and c != "seed"]
    grouped = results.groupby(keys, sort=False, dropna=False)
    table = grouped[numeric].mean()
    table["seeds"] = grouped.seed.nunique()
    table["AP_seed_sd"] = grouped.AP.std(ddof=1)
    if "plan" in results:
        table["plan"] = grouped.plan.first()
    return table.reset_index()


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """The table notebook 03 shows: per (task,) language, system and scorer, the measures, the
    share of the gap and the selected step, seeds averaged (with their count and AP's spread)."""
    table = over_seeds(results)
    keys = [k for k in ("task", "language", "system", "scorer") if k in table]
    extra = [c for c in ("seeds", "AP_seed_sd", "plan") if c in table]
    return table.set_index(keys)[[c for c in RESULT_COLUMNS if c in table] + extra]


def headline_summary(results: pd.DataFrame, languages, scorers, goal: float = GAP_GOAL) -> tuple[dict, list[str]]:
    """Per (task,) language and scorer of notebook 03's results, seeds averaged: each OT student's
    share of the zero-shot-to-ceiling gap in AP (or its AP where the results hold no ceiling). The
    highest of them is named as such and labelled optimistic: it is chosen on the test split, so it
    is a description, never a verdict (notebook 05 tests the families fixed before the run).
    Returns the record for the metrics file and one sentence each."""
    table = over_seeds(results)
    summary, lines = {}, []
    for task in (list(dict.fromkeys(table.task)) if "task" in table else [None]):
        for language in languages:
            for scorer in scorers:
                part = table[(table.language == language) & (table.scorer == scorer)]
                if task is not None:
                    part = part[part.task == task]
                part = part.set_index("system")
                ot = part[part.index.map(lambda c: parse(c).transports)]
                if ot.empty:
                    continue
                with_ceiling = CEILING in part.index
                by = "gap_share_AP" if with_ceiling else "AP"
                label = " ".join(x for x in (task, language, scorer) if x)
                shares = {name: float(value) for name, value in ot[by].items()}
                summary[label] = {"by": by.removesuffix("_AP"), "ot_students": shares}
                listed = ", ".join(f"{name} {value:+.1%}" if with_ceiling else f"{name} {value:.4f}"
                                   for name, value in shares.items())
                highest = max(shares, key=shares.get)
                context = (f"zero-shot AP {part.AP[ZERO_SHOT]:.4f}, ceiling {part.AP[CEILING]:.4f}" if with_ceiling
                           else "no ceiling here, so AP")
                tier = language_row(language).tier
                aside = "" if tier == "low" else f"; {language} is a {tier}-resource contrast"
                lines.append(f"{label}: OT students' {'share of the gap' if with_ceiling else 'AP'} ({context}): {listed}; "
                             f"the highest, {highest}, is chosen on the test split (optimistic; notebook 05 tests the "
                             f"families fixed before the run against the {goal:.0%} goal){aside}.")
    return summary, lines
