"""Notebook 01's figures: verse lengths, tokenizer statistics, relevant documents per query."""
from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from otclir.plots.style import TIER_COLOURS, TIER_ORDER, figure_size, use_style


def frame_languages(frame: pd.DataFrame) -> list[str]:
    """The languages of a frame with a ``tier`` column, low-resource first."""
    tiers = frame.drop_duplicates("language").set_index("language").tier
    return sorted(tiers.index, key=lambda c: (TIER_ORDER.index(tiers[c]), c))


def lengths_by_language(lengths: pd.DataFrame, column: str = "words"):
    use_style()
    order = frame_languages(lengths)
    fig, ax = plt.subplots(figsize=figure_size("double", 2.3))
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated.*")
        sns.boxplot(data=lengths, x="language", y=column, hue="tier", order=order, hue_order=TIER_ORDER,
                    palette=TIER_COLOURS, fliersize=0.8, linewidth=0.6, ax=ax, dodge=False)
    ax.set_ylabel(f"{column} per verse")
    ax.set_xlabel("language (low-resource first)")
    ax.tick_params(axis="x", rotation=90)
    ax.legend(title="tier", frameon=False, ncols=3, loc="upper right")
    fig.tight_layout()
    return fig


def tokenizer_bars(stats: pd.DataFrame, measures=("fertility", "split_word_rate", "unk_rate")):
    use_style()
    order = frame_languages(stats)
    fig, axes = plt.subplots(len(measures), 1, figsize=figure_size("double", 1.3 * len(measures) + 0.6), sharex=True)
    for ax, measure in zip(axes, measures):
        sns.barplot(data=stats, x="language", y=measure, hue="model", order=order,
                    hue_order=sorted(stats.model.unique()), ax=ax, errorbar=None)
        ax.set_ylabel(measure.replace("_", " "))
        ax.set_xlabel("")
        ax.legend_.remove()
    axes[-1].tick_params(axis="x", rotation=90)
    axes[-1].set_xlabel("language (low-resource first)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=len(labels), frameon=False, bbox_to_anchor=(0.5, 1.03))
    fig.tight_layout()
    return fig


def relevance_histogram(per_query: pd.DataFrame, max_bin: int = 30):
    use_style()
    splits = [s for s in ("train", "dev", "test") if s in set(per_query.split)]
    fig, axes = plt.subplots(1, len(splits), figsize=figure_size("double", 1.9), sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits):
        counts = per_query.loc[per_query.split == split, "relevant"].clip(upper=max_bin)
        ax.hist(counts, bins=range(1, max_bin + 2), color="#555555")
        ax.set_title(f"{split}: {len(counts)} queries")
        ax.set_xlabel(f"relevant per query (>{max_bin - 1} clipped)")
    axes[0][0].set_ylabel("queries")
    fig.tight_layout()
    return fig
