"""Forest plots of paired differences: the headline of notebook 03 and the families of notebook
05, one panel per language (low-resource first) and task, the goal drawn."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from otclir.plots.style import (BASELINE_COLOURS, DOUBLE_COLUMN, display_name, languages_by_tier, system_order, tier_of,
                                use_style)

OFFSETS = {"zero-shot": -0.17, "rival": 0.17}
BASELINE_LABELS = {"zero-shot": "minus the zero-shot student", "rival": "minus the dev-chosen rival without OT"}


def difference_forest(rows: pd.DataFrame, measure_label: str = "AP", goal_label: str | None = None):
    """Each system's difference to a baseline with its interval, a panel per (task and) language.

    ``rows``: ``language``, ``system``, ``baseline`` (``zero-shot`` or ``rival``), ``diff``, ``low``,
    ``high``; optional ``task``, ``significant`` (filled markers where true, open where not) and
    ``goal`` (the difference that would close the goal's share of the gap, drawn dotted)."""
    use_style()
    tasks = list(dict.fromkeys(rows.task)) if "task" in rows else [None]
    languages = languages_by_tier(rows.language)
    systems = system_order(rows.system)
    height = 0.55 + 0.16 * len(systems)
    fig, axes = plt.subplots(len(tasks), len(languages), figsize=(DOUBLE_COLUMN, height * len(tasks) + 0.35),
                             sharey=True, squeeze=False)
    position = {s: i for i, s in enumerate(systems)}
    for r, task in enumerate(tasks):
        for c, language in enumerate(languages):
            ax = axes[r][c]
            part = rows[rows.language == language]
            if task is not None:
                part = part[part.task == task]
            for kind, group in part.groupby("baseline", sort=False):
                y = group.system.map(position) + OFFSETS.get(kind, 0.0)
                colour = BASELINE_COLOURS.get(kind, "#0072b2")
                ax.errorbar(group["diff"], y, xerr=[group["diff"] - group.low, group.high - group["diff"]], fmt="none",
                            ecolor=colour, elinewidth=0.8, capsize=0)
                filled = group.significant.astype(bool) if "significant" in group else pd.Series(True, index=group.index)
                for is_filled, points in ((True, filled), (False, ~filled)):
                    ax.scatter(group["diff"][points], y[points], s=9, marker="o", zorder=3, linewidths=0.7,
                               edgecolors=colour, facecolors=colour if is_filled else "white")
            ax.axvline(0, color="black", linewidth=0.5)
            if "goal" in part and part.goal.notna().any():
                ax.axvline(float(part.goal.dropna().iloc[0]), color="grey", linewidth=0.7, linestyle=":")
            ax.set_title((f"{task}: " if task and len(tasks) > 1 else "") + f"en→{language} ({tier_of(language)})")
            ax.set_ylim(len(systems) - 0.5, -0.5)
            ax.tick_params(axis="x", labelsize=5.5)
    axes[0][0].set_yticks(range(len(systems)), [display_name(s) for s in systems])
    handles = [plt.Line2D([], [], color=BASELINE_COLOURS[k], marker="o", linestyle="-", ms=3, linewidth=0.8)
               for k in OFFSETS if k in set(rows.baseline)]
    labels = [BASELINE_LABELS[k] for k in OFFSETS if k in set(rows.baseline)]
    if "goal" in rows and rows.goal.notna().any():
        handles.append(plt.Line2D([], [], color="grey", linewidth=0.7, linestyle=":"))
        labels.append(goal_label or "goal")
    if "significant" in rows:
        handles.append(plt.Line2D([], [], color="#333333", marker="o", markerfacecolor="white", linestyle="none", ms=3))
        labels.append("open: not significant after correction")
    fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 2), frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.supxlabel(f"{measure_label} difference", fontsize=7)  # one label: a label per panel runs into its neighbours'
    fig.tight_layout()
    return fig
