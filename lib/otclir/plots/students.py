"""The answers' students in figures: each language's dev curves, a panel per objective, a colour
per learning rate and a line per seed and budget, so that a reader sees where each run peaked and
whether its curve is flat at the end."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from otclir.errors import OtclirError
from otclir.plots.style import DOUBLE_COLUMN, OBJECTIVE_NAMES, unique_handles, use_style


def dev_curves(curves: pd.DataFrame, signal: str, language: str):
    """One language's dev checks of ``signal`` (``curves`` from
    :func:`otclir.experiments.student_plan.collect`) against the pairs seen."""
    use_style()
    rows = curves[curves.language == language]
    if rows.empty or signal not in rows:
        raise OtclirError(f"no dev checks of {signal} for {language}; languages with checks: "
                          f"{', '.join(sorted(curves.language.unique())) if 'language' in curves else 'none'}")
    objectives = list(dict.fromkeys(rows.objective))
    fig, axes = plt.subplots(1, len(objectives), figsize=(DOUBLE_COLUMN, 2.0), squeeze=False, sharey=True)
    rates = sorted(rows.lr.unique())
    palette = dict(zip(rates, sns.color_palette("colorblind", n_colors=len(rates))))
    styles = {budget: style for budget, style in zip(sorted(rows.budget.unique(), key=lambda b: (b == "all", b)),
                                                     ("-", "--", ":"))}
    for ax, objective in zip(axes[0], objectives):
        for (lr, budget, seed), run in rows[rows.objective == objective].groupby(["lr", "budget", "seed"]):
            run = run.sort_values("step")
            ax.plot(run.step * run.batch_size if "batch_size" in run else run.step, run[signal], color=palette[lr],
                    linestyle=styles[budget], marker="o", ms=1.5, linewidth=0.8,
                    label=f"lr {lr:g}, {budget} pairs" if seed == rows.seed.min() else None)
        ax.set_title(OBJECTIVE_NAMES.get(objective, objective))
        ax.set_xlabel("pairs seen" if "batch_size" in rows else "step")
    axes[0][0].set_ylabel(signal.replace("dev_", "dev "))
    handles, labels = unique_handles(fig)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", ncols=min(4, len(labels)), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return fig
