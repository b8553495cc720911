"""Notebook 03's figures: training curves of one language's students and the recipe study as
small multiples."""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from otclir.plots.style import DOUBLE_COLUMN, display_name, unique_handles, use_style

TRAINING_PANELS = (("loss", "training loss"), ("dev_bitext_MRR", "dev bitext MRR"), ("dev_AP", "dev MAP"),
                   ("plan_shift", "plan shift since step 0 (TV)"), ("plan_aer", "plan AER on gold (Greek)"),
                   ("probe_plan_entropy", "plan row entropy / max"), ("alignment", "cos(student, teacher)"),
                   ("uniformity", "uniformity (lower = spread)"))


def training_curves(logs: pd.DataFrame, title: str = "", panels=TRAINING_PANELS, by: str = "config"):
    """Curves over steps, a colour per student (``by``) and a line per training seed, one panel per
    logged column some run has: the loss, the dev signals and the diagnostics that say whether the
    method does what it claims (does the plan move, does it align words, are the student's
    sentence vectors aligned with the teacher's without collapsing)."""
    use_style()
    panels = [(c, t) for c, t in panels if c in logs and logs[c].notna().any()]
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(DOUBLE_COLUMN, 1.55 * rows + 0.5), squeeze=False)
    names = sorted(logs[by].unique())
    palette = dict(zip(names, sns.color_palette("colorblind", n_colors=len(names))))
    seeds = "seed" in logs and logs.seed.nunique() > 1
    for ax, (column, panel_title) in zip(axes.flat, panels):
        seed_of = logs.seed.fillna(-1) if "seed" in logs else pd.Series(-1, index=logs.index)  # older runs: one seed
        for (name, seed), part in logs.groupby([by, seed_of], sort=True):
            part = part.dropna(subset=[column]).sort_values("step")
            if part.empty:
                continue
            label = display_name(name) if not seeds or seed == logs.seed.min() else None
            ax.plot(part.step, part[column], color=palette[name], linewidth=0.8, label=label,
                    marker="o" if column.startswith("dev_") or column.startswith("plan_") else None, ms=1.5,
                    alpha=1.0 if not seeds else 0.75)
        ax.set_title(panel_title)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(panels):]:
        ax.remove()
    handles, labels = unique_handles(fig)
    if title:
        fig.suptitle(title + (" (one line per training seed)" if seeds else ""), fontsize=8)
    fig.tight_layout()
    # below the panels, so it can never run into the title however many students it names
    fig.legend(handles, labels, loc="upper center", ncols=min(4, len(labels)), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return fig


def _family(config: str) -> str:
    """A study configuration without its learning rate: the panel it is drawn in."""
    return re.sub(r"\s*lr=\S+", "", config).strip()


def study_grid(points: pd.DataFrame, goal: float | None = 0.3):
    """The recipe study as small multiples: a panel per objective (and plan source) and scorer,
    a line per learning rate: the test share of the zero-shot-to-ceiling gap against epochs with
    its 95% bootstrap band (a description of the study; the recipes were chosen on dev)."""
    use_style()
    scorers = [s for s in ("maxsim", "mean") if f"gap_share_{s}" in points]
    families = list(dict.fromkeys(_family(c) for c in points.config))
    lrs = sorted(points.lr.unique())
    palette = dict(zip(lrs, sns.color_palette("colorblind", n_colors=len(lrs))))
    columns = len(families)
    fig, axes = plt.subplots(len(scorers), columns, figsize=(DOUBLE_COLUMN, 1.35 * len(scorers) + 0.7),
                             sharex=True, sharey=True, squeeze=False)
    for row, scorer in enumerate(scorers):
        for column, family in enumerate(families):
            ax = axes[row][column]
            part = points[points.config.map(_family) == family]
            for lr, line in part.groupby("lr"):
                line = line.drop_duplicates("step").sort_values("epochs")
                ax.plot(line.epochs, line[f"gap_share_{scorer}"], marker="o", ms=1.8, color=palette[lr],
                        label=f"lr {lr:g}")
                ax.fill_between(line.epochs, line[f"gap_share_{scorer}_low"], line[f"gap_share_{scorer}_high"],
                                color=palette[lr], alpha=0.18, linewidth=0)
            ax.axhline(0, color="black", linewidth=0.5)
            if goal is not None:
                ax.axhline(goal, color="grey", linewidth=0.6, linestyle=":")
            if row == 0:
                ax.set_title(family.replace(" eps=", "\neps=").replace(" plan=", "\nplan="), fontsize=6)
            if column == 0:
                ax.set_ylabel(f"gap share ({scorer})")
            if row == len(scorers) - 1:
                ax.set_xlabel("epochs")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if goal is not None:
        handles.append(plt.Line2D([], [], color="grey", linewidth=0.6, linestyle=":"))
        labels.append(f"goal ({goal:.0%} of the gap)")
    fig.legend(handles, labels, loc="lower center", ncols=len(labels), frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig
