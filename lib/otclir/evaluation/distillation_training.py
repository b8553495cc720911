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


def headline_summary(results: pd.DataFrame, languages, scorers, goal: float = GAP_GOAL) -> tuple[dict, list[str]]:
    """Per language and scorer of notebook 03's results: the best OT student and the best student
    of another objective, by their share of the zero-shot-to-ceiling gap in AP, or by AP where the
    results hold no ceiling. Returns the record for the metrics file and one sentence each."""
    summary, lines = {}, []
    for language in languages:
        for scorer in scorers:
            part = results[(results.language == language) & (results.scorer == scorer)].set_index("system")
            students = part[part.index.map(lambda c: parse(c).distilled)]
            if students.empty:
                continue
            ot = students[students.index.map(lambda c: parse(c).transports)]
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
