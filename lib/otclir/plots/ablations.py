"""Notebook 04's figures: the metric against the share of monolingual batches (alpha), the
language bias of the multilingual pool, and the metric against the training budget."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from otclir.evaluation.hybrid_batch_ablations import budget_label
from otclir.evaluation.retrieval_settings import RETRIEVAL_SETTINGS
from otclir.plots.style import TIER_COLOURS, TIER_ORDER, figure_size, use_style


def setting_label(setting: str, measure_label: str) -> str:
    """The y label of a setting's panel: in the bitext setting every query has one relevant
    document, so AP is the reciprocal rank."""
    if setting == "bitext" and measure_label in ("MAP", "AP"):
        return "MRR (bitext: one relevant)"
    return measure_label


def alpha_curves(curves: pd.DataFrame, zero_shot: pd.DataFrame | None = None, measure_label: str = "MAP",
                 title: str | None = None):
    """A panel per setting: the metric against alpha, a line per tier (solid without the OT term,
    dashed with it), bands over seeds; dotted lines are the untrained student per tier.
    ``curves`` as from :func:`otclir.evaluation.hybrid_batch_ablations.tier_curves` for one budget;
    ``title`` names the figure (the task)."""
    use_style()
    settings = [s for s in RETRIEVAL_SETTINGS if s in set(curves.setting)]
    weights = sorted(curves.ot_weight.unique())
    fig, axes = plt.subplots(1, len(settings), figsize=figure_size("double", 2.2), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for tier in [t for t in TIER_ORDER if t in set(curves.tier)]:
            for k, weight in enumerate(weights):
                part = curves[(curves.setting == setting) & (curves.tier == tier) & (curves.ot_weight == weight)] \
                    .sort_values("alpha")
                ax.plot(part.alpha, part["mean"], color=TIER_COLOURS[tier], marker="o", ms=2.5,
                        linestyle="-" if k == 0 else "--", label=f"{tier}, lambda={weight:g}")
                ax.fill_between(part.alpha, part.low, part.high, color=TIER_COLOURS[tier], alpha=0.15, linewidth=0)
            if zero_shot is not None and len(zero_shot):
                ref = zero_shot[(zero_shot.setting == setting) & (zero_shot.tier == tier)]
                if len(ref):
                    ax.axhline(float(ref.iloc[0, -1]), color=TIER_COLOURS[tier], linestyle=":", linewidth=0.8)
        ax.set(title=setting, ylabel=setting_label(setting, measure_label))
    fig.supxlabel("alpha (the share of monolingual batches)", fontsize=7)  # one label: per panel they overlap
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="grey", linestyle=":", linewidth=0.8))
    labels.append("untrained student")
    fig.legend(handles, labels, loc="upper center", ncol=min(7, len(labels)), frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


def bias_by_alpha(bias: pd.DataFrame, zero_shot: float | None = None, title: str | None = None):
    """Language bias (mean rank distance between copies) against alpha, a line per OT weight and
    budget, bands over seeds; the dotted line is the untrained student. ``title`` names the task."""
    use_style()
    fig, ax = plt.subplots(figsize=figure_size("single", 2.3))
    groups = list(bias.groupby(["ot_weight", "train_pairs"], dropna=False, sort=True))
    palette = sns.color_palette("colorblind", n_colors=max(1, len(groups)))
    for colour, ((weight, budget), part) in zip(palette, groups):
        part = part.sort_values("alpha")
        ax.plot(part.alpha, part["mean"], marker="o", ms=2.5, color=colour,
                label=f"lambda={weight:g}, budget {budget_label(budget)}")
        ax.fill_between(part.alpha, part.low, part.high, color=colour, alpha=0.15, linewidth=0)
    if zero_shot is not None:
        ax.axhline(zero_shot, color="grey", linestyle=":", linewidth=0.8, label="untrained student")
    ax.set(xlabel="alpha (share of monolingual batches)", ylabel="language bias (rank distance)",
           title="multilingual pool" + (f", {title}" if title else ""))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def budget_curves(curves: pd.DataFrame, measure_label: str = "MAP"):
    """A panel per setting: the metric against the training budget (verse pairs), a line per tier,
    bands over seeds. ``curves`` for one alpha and OT weight."""
    use_style()
    settings = [s for s in RETRIEVAL_SETTINGS if s in set(curves.setting)]
    budgets = sorted(curves.train_pairs.unique(), key=lambda b: float("inf") if pd.isna(b) else b)
    position = {budget_label(b): i for i, b in enumerate(budgets)}
    fig, axes = plt.subplots(1, len(settings), figsize=figure_size("double", 2.1), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for tier in [t for t in TIER_ORDER if t in set(curves.tier)]:
            part = curves[(curves.setting == setting) & (curves.tier == tier)].copy()
            part["x"] = part.train_pairs.map(lambda b: position[budget_label(b)])
            part = part.sort_values("x")
            ax.plot(part.x, part["mean"], color=TIER_COLOURS[tier], marker="o", ms=2.5, label=tier)
            ax.fill_between(part.x, part.low, part.high, color=TIER_COLOURS[tier], alpha=0.15, linewidth=0)
        ax.set_xticks(range(len(position)), list(position))
        ax.set(title=setting, xlabel="training verse pairs", ylabel=setting_label(setting, measure_label))
    axes[0][0].legend(title="tier", frameon=False)
    fig.tight_layout()
    return fig
