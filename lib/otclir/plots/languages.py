"""The language sweep's gains against what a language is to the student: a panel per system and
covariate, a point per language coloured by its tier and labelled with its code."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from otclir.plots.style import DOUBLE_COLUMN, TIER_COLOURS, TIER_ORDER, display_name, use_style

LOG_SCALED = {"cc100_gib"}  # covariates drawn on a log axis (zero drawn at the axis' left end)


def _label(system: str) -> str:
    if " − " in system:
        left, right = system.split(" − ")
        return f"{display_name(left)} − {display_name(right)}"
    return display_name(system)


def gains_against(gains: pd.DataFrame, covariates: dict[str, str], measure_label: str = "AP"):
    """``gains``: ``language``, ``tier``, ``system``, ``gain`` (optional ``gain_low``/``gain_high``
    drawn as intervals) and a column per covariate; ``covariates``: column -> axis label."""
    use_style()
    systems = list(dict.fromkeys(gains.system))
    fig, axes = plt.subplots(len(covariates), len(systems), figsize=(DOUBLE_COLUMN, 1.75 * len(covariates) + 0.3),
                             sharey="row", squeeze=False)
    for r, (covariate, label) in enumerate(covariates.items()):
        for c, system in enumerate(systems):
            ax = axes[r][c]
            part = gains[(gains.system == system)].dropna(subset=[covariate])
            x = part[covariate].to_numpy(float)
            if covariate in LOG_SCALED:
                positive = x[x > 0]
                floor = positive.min() / 2 if len(positive) else 0.1
                x = np.where(x > 0, x, floor)
                ax.set_xscale("log")
            for tier in TIER_ORDER:
                mask = (part.tier == tier).to_numpy()
                if not mask.any():
                    continue
                y = part.gain.to_numpy(float)[mask]
                if {"gain_low", "gain_high"} <= set(part) and part.gain_low.notna().any():
                    low, high = part.gain_low.to_numpy(float)[mask], part.gain_high.to_numpy(float)[mask]
                    ax.errorbar(x[mask], y, yerr=[y - low, high - y], fmt="none", ecolor=TIER_COLOURS[tier],
                                elinewidth=0.6, alpha=0.6)
                ax.scatter(x[mask], y, s=10, color=TIER_COLOURS[tier], label=tier, zorder=3, linewidths=0)
            for xi, yi, code in zip(x, part.gain.to_numpy(float), part.language):
                ax.annotate(code, (xi, yi), fontsize=4.5, xytext=(2, 1), textcoords="offset points")
            ax.axhline(0, color="black", linewidth=0.5)
            ax.set_xlabel(label, fontsize=6)
            if r == 0:
                ax.set_title(_label(system), fontsize=6.5)
            if c == 0:
                ax.set_ylabel(f"gain in {measure_label}\nover zero-shot", fontsize=6)
            ax.tick_params(labelsize=5.5)
    handles = [plt.Line2D([], [], color=TIER_COLOURS[t], marker="o", linestyle="none", ms=3) for t in TIER_ORDER]
    fig.legend(handles, [f"{t}-resource tier" for t in TIER_ORDER], loc="lower center", ncols=3, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig
