"""Notebook 02's figures: a verse's cost matrix and transport plan, plans across epsilon on one
colour scale, and alignment error against epsilon."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from otclir.plots.style import DOUBLE_COLUMN, figure_size, use_style

PLAN_CMAP = "magma_r"


def _piece_label(piece: str) -> str:
    return piece.replace("\u2581", "_")


def row_shares(plan) -> np.ndarray:
    """A plan as the share of each source token's mass sent to each target token (rows sum to 1),
    so plans of different sizes and epsilons read on one scale."""
    plan = np.asarray(plan, dtype=float)
    return plan / np.clip(plan.sum(axis=1, keepdims=True), 1e-300, None)


def _every(count: int, inches: float | None, fontsize: float) -> int:
    """Label every how-many-th token so that labels of ``fontsize`` points fit in ``inches``."""
    if not inches:
        return 1
    room = max(1, int(inches * 72 / (fontsize * 1.35)))
    return max(1, -(-count // room))


def _token_axes(ax, row_labels, col_labels, fontsize: float = 5, width: float | None = None,
                height: float | None = None):
    """Tokens on both axes; on a long verse every k-th token is labelled (``width``, ``height``:
    the panel's inches), so that no two labels collide."""
    for set_ticks, labels, step, extra in ((ax.set_xticks, col_labels, _every(len(col_labels), width, fontsize),
                                            {"rotation": 90}),
                                           (ax.set_yticks, row_labels, _every(len(row_labels), height, fontsize), {})):
        shown = list(range(0, len(labels), step))
        set_ticks(shown, [_piece_label(labels[i]) for i in shown], fontsize=fontsize, **extra)
    ax.grid(False)


def cost_and_plan(cost, plan, row_labels, col_labels, title: str = "", gold=None):
    """Cost matrix and transport plan (as row shares) side by side, tokens on the axes; ``gold``
    (pairs of row/column indices) drawn as open squares on the plan."""
    use_style()
    n = len(row_labels)
    fig, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN, min(8.5, 1.2 + 0.11 * n)))
    panels = ((axes[0], np.asarray(cost, dtype=float), "cost (1 - cosine)", "viridis_r", None),
              (axes[1], row_shares(plan), "transport plan (share of each row's mass)", PLAN_CMAP, (0, 1)))
    for ax, matrix, name, cmap, limits in panels:
        image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest",
                          **({"vmin": limits[0], "vmax": limits[1]} if limits else {}))
        _token_axes(ax, row_labels, col_labels, width=DOUBLE_COLUMN / 2 - 0.9, height=min(8.5, 1.2 + 0.11 * n) - 0.9)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    if gold:
        rows, cols = zip(*sorted(gold))
        axes[1].scatter(cols, rows, marker="s", s=18, facecolors="none", edgecolors="#00a0ff", linewidths=0.7,
                        label="gold link")
        axes[1].legend(loc="lower left", frameon=True)
    if title:
        fig.suptitle(title, fontsize=7.5)
    fig.tight_layout()
    return fig


def plans_by_epsilon(plans: dict, row_labels, col_labels):
    """One transport plan per epsilon, same tokens, on one colour scale (each source token's share
    of mass, 0 to 1) with one colourbar: how entropy blurs the alignment."""
    use_style()
    keys = sorted(plans)
    n = len(row_labels)
    fig, axes = plt.subplots(1, len(keys), figsize=(DOUBLE_COLUMN, min(6.0, 1.3 + 0.09 * n)), sharey=True,
                             squeeze=False, layout="constrained")
    image = None
    for ax, eps in zip(axes[0], keys):
        image = ax.imshow(row_shares(plans[eps]), cmap=PLAN_CMAP, aspect="auto", interpolation="nearest",
                          vmin=0, vmax=1)
        ax.set_title(f"epsilon = {eps:g}")
        _token_axes(ax, row_labels, col_labels, fontsize=4, width=(DOUBLE_COLUMN - 1.2) / len(keys) - 0.1,
                    height=min(6.0, 1.3 + 0.09 * n) - 0.9)
    for ax in axes[0][1:]:
        ax.tick_params(axis="y", left=False, labelleft=False)
    fig.colorbar(image, ax=list(axes[0]), fraction=0.03, pad=0.01, label="share of the row's mass")
    return fig


def aer_by_epsilon(quality: pd.DataFrame):
    """AER of Sinkhorn alignments against epsilon, one line per extraction method and a panel per
    testament; exact OT and the baselines as horizontal lines."""
    use_style()
    testaments = sorted(quality.testament.unique())
    fig, axes = plt.subplots(1, len(testaments), figsize=figure_size("double", 2.5), sharey=True, squeeze=False)
    for ax, testament in zip(axes[0], testaments):
        part = quality[quality.testament == testament]
        ot_rows = part[part.system.isin(["sinkhorn", "sinkhorn, cost/std"])].sort_values("epsilon")
        for (system, method), line in sorted(ot_rows.groupby(["system", "method"])):
            ax.plot(line.epsilon, line.aer, marker="o" if system == "sinkhorn" else "s", ms=2.5,
                    linestyle="-" if system == "sinkhorn" else "--", label=f"{system}, {method}")
        styles = {"exact OT": ":", "cosine argmax (no OT)": "--", "diagonal": "-.", "fast_align-style Model 2": (0, (1, 3))}
        for system, style in styles.items():
            rows = part[part.system == system]
            if len(rows):
                ax.axhline(rows.aer.min(), color="grey", linestyle=style, linewidth=0.9, label=f"{system} (best)")
        ax.set_xscale("log")
        ax.set_xlabel("epsilon")
        ax.set_title({"nt": "Greek NT to English", "ot": "Hebrew OT to English"}.get(testament, testament))
    axes[0][0].set_ylabel("AER (lower is better)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=3, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout()
    return fig
