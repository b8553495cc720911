"""One plotting style, and figures that regenerate byte for byte (no dates in files, fixed
software string, sorted inputs). Functions draw what they are given and nothing more."""
from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .paths import figures_dir, relative_to_root

TIER_ORDER = ["low", "mid", "high"]
TIER_COLOURS = {"low": "#d55e00", "mid": "#e69f00", "high": "#0072b2"}
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "otclir",
    "pdf.compression": 6,
}


def use_style() -> None:
    sns.set_theme(context="paper", style="whitegrid")
    plt.rcParams.update(STYLE)


def save_figure(fig, name: str, folder: Path | None = None) -> list[str]:
    """Write ``name``.pdf and ``name``.png; returns their paths relative to the project root."""
    folder = Path(folder) if folder else figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, metadata in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "otclir", "Creator": "otclir"}),
                          ("png", {"Software": "otclir"})):
        path = folder / f"{name}.{ext}"
        fig.savefig(path, metadata=metadata, bbox_inches="tight")
        written.append(relative_to_root(path))
    return written


def _language_order(frame: pd.DataFrame) -> list[str]:
    tiers = frame.drop_duplicates("language").set_index("language").tier
    return sorted(tiers.index, key=lambda c: (TIER_ORDER.index(tiers[c]), c))


def lengths_by_language(lengths: pd.DataFrame, column: str = "words"):
    use_style()
    order = _language_order(lengths)
    fig, ax = plt.subplots(figsize=(7, 3))
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated.*")
        sns.boxplot(data=lengths, x="language", y=column, hue="tier", order=order, hue_order=TIER_ORDER,
                    palette=TIER_COLOURS, fliersize=1, linewidth=0.7, ax=ax, dodge=False)
    ax.set_ylabel(f"{column} per verse")
    ax.set_xlabel("language (ordered by tier)")
    ax.legend(title="tier", frameon=False, ncols=3, loc="upper right")
    fig.tight_layout()
    return fig


def tokenizer_bars(stats: pd.DataFrame, measures=("fertility", "split_word_rate", "unk_rate")):
    use_style()
    order = _language_order(stats)
    fig, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3), sharex=True)
    for ax, measure in zip(axes, measures):
        sns.barplot(data=stats, x="language", y=measure, hue="model", order=order,
                    hue_order=sorted(stats.model.unique()), ax=ax, errorbar=None)
        ax.set_title(measure.replace("_", " "))
        ax.set_ylabel("")
        ax.tick_params(axis="x", rotation=90)
        ax.legend_.remove()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=len(labels), frameon=False, bbox_to_anchor=(0.5, 1.08))
    fig.tight_layout()
    return fig


def relevance_histogram(per_query: pd.DataFrame, max_bin: int = 30):
    use_style()
    splits = [s for s in ("train", "dev", "test") if s in set(per_query.split)]
    fig, axes = plt.subplots(1, len(splits), figsize=(3 * len(splits), 2.6), sharey=True)
    axes = [axes] if len(splits) == 1 else axes
    for ax, split in zip(axes, splits):
        counts = per_query.loc[per_query.split == split, "relevant"].clip(upper=max_bin)
        ax.hist(counts, bins=range(1, max_bin + 2), color="#555555")
        ax.set_title(f"{split}: {len(counts)} queries")
        ax.set_xlabel(f"relevant per query (>{max_bin - 1} clipped)")
    axes[0].set_ylabel("queries")
    fig.tight_layout()
    return fig
