"""Notebook 05's per-query figure: how a comparison's mean difference is made of many queries
that gain and many that lose."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from otclir.plots.style import DOUBLE_COLUMN, display_name, languages_by_tier, tier_of, use_style

GAIN, LOSS = "#0072b2", "#d55e00"
TIE = 1e-9  # per-query differences smaller than this are ties (floating-point noise, not wins or losses)


def up_and_down(values, tolerance: float = TIE) -> str:
    """How many queries gain and lose beyond ``tolerance``; "same scores" where none differs."""
    values = np.asarray(values, dtype=float)
    up, down = int((values > tolerance).sum()), int((values < -tolerance).sum())
    if not up and not down:
        return "same scores"
    return f"{up} up, {down} down"


def per_query_differences(differences: dict[str, pd.Series], label: str, systems: dict[str, str] | None = None):
    """Per language (the keys, low-resource first): the per-query differences sorted, drawn as a
    filled area (gains above zero, losses below) so a thousand queries show at any width; the
    panel names the comparison (``systems``: language -> ``treatment vs baseline``) and how many
    queries go up and down by more than :data:`TIE`."""
    use_style()
    keys = languages_by_tier(differences)
    fig, axes = plt.subplots(1, len(keys), figsize=(DOUBLE_COLUMN, 2.0), sharey=True, squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = np.sort(differences[key].dropna().to_numpy())
        x = np.arange(len(values)) / max(1, len(values) - 1)
        ax.fill_between(x, values, 0, where=values > 0, color=GAIN, linewidth=0, step="mid", interpolate=False)
        ax.fill_between(x, values, 0, where=values < 0, color=LOSS, linewidth=0, step="mid", interpolate=False)
        ax.step(x, values, where="mid", color="#333333", linewidth=0.4)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.axhline(values.mean(), color="#333333", linewidth=0.6, linestyle="--")
        ax.set_title(f"en→{key} ({tier_of(key)})\n{up_and_down(values)}", fontsize=6.5)
        if systems and key in systems:
            ax.text(0.02, 0.98, systems[key], transform=ax.transAxes, va="top", fontsize=5)
        ax.set_xlabel("queries, sorted (share)")
        ax.set_xlim(0, 1)
    axes[0][0].set_ylabel(label)
    fig.tight_layout()
    return fig


def comparison_text(treatment: str, baseline: str) -> str:
    return f"{display_name(treatment)}\nminus {display_name(baseline)}"
