"""One plotting style, and figures that regenerate byte for byte (no dates in files, fixed
software string, sorted inputs). Functions draw what they are given and nothing more."""
from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from otclir.evaluation.hybrid_batch_ablations import budget_label
from otclir.evaluation.retrieval_settings import RETRIEVAL_SETTINGS
from otclir.paths import PAPER_PROFILE, figures_dir, relative_to_root
from otclir.transport.objectives import transports

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


def save_figure(fig, name: str, profile: str = PAPER_PROFILE, folder: Path | None = None) -> list[str]:
    """Write ``name``.pdf and ``name``.png into the profile's figures folder (see
    :func:`otclir.paths.figures_dir`); returns their paths relative to the project root."""
    folder = Path(folder) if folder else figures_dir(profile)
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


def _piece_label(piece: str) -> str:
    return piece.replace("\u2581", "_")


def cost_and_plan(cost, plan, row_labels, col_labels, title: str = "", gold=None):
    """Cost matrix and transport plan side by side, tokens on the axes; ``gold`` (pairs of
    row/column indices) is drawn as open squares on the plan."""
    use_style()
    n, m = len(row_labels), len(col_labels)
    size = (min(14, 2.5 + 0.22 * m * 2), min(9, 1.5 + 0.22 * n))
    fig, axes = plt.subplots(1, 2, figsize=size)
    for ax, matrix, name, cmap in ((axes[0], cost, "cost (1 - cosine)", "viridis_r"), (axes[1], plan, "transport plan", "magma_r")):
        image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(m), [_piece_label(p) for p in col_labels], rotation=90, fontsize=6)
        ax.set_yticks(range(n), [_piece_label(p) for p in row_labels], fontsize=6)
        ax.set_title(name)
        ax.grid(False)
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    if gold:
        rows, cols = zip(*sorted(gold))
        axes[1].scatter(cols, rows, marker="s", s=30, facecolors="none", edgecolors="#00a0ff", linewidths=0.8,
                        label="gold link")
        axes[1].legend(loc="lower left", fontsize=6, frameon=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plans_by_epsilon(plans: dict, row_labels, col_labels):
    """One transport plan per epsilon, same tokens: how entropy blurs the alignment."""
    use_style()
    keys = sorted(plans)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.2), sharey=True)
    for ax, eps in zip(axes, keys):
        ax.imshow(plans[eps], cmap="magma_r", aspect="auto", interpolation="nearest")
        ax.set_title(f"epsilon = {eps:g}")
        ax.set_xticks(range(len(col_labels)), [_piece_label(p) for p in col_labels], rotation=90, fontsize=5)
        ax.grid(False)
    axes[0].set_yticks(range(len(row_labels)), [_piece_label(p) for p in row_labels], fontsize=5)
    fig.tight_layout()
    return fig


def aer_by_epsilon(quality: pd.DataFrame):
    """AER of Sinkhorn alignments against epsilon, one line per extraction method and panel per
    testament; exact OT and the baselines as horizontal lines."""
    use_style()
    testaments = sorted(quality.testament.unique())
    fig, axes = plt.subplots(1, len(testaments), figsize=(4.2 * len(testaments), 3.2), sharey=True, squeeze=False)
    for ax, testament in zip(axes[0], testaments):
        part = quality[quality.testament == testament]
        ot_rows = part[part.system.isin(["sinkhorn", "sinkhorn, cost/std"])].sort_values("epsilon")
        for (system, method), line in sorted(ot_rows.groupby(["system", "method"])):
            ax.plot(line.epsilon, line.aer, marker="o" if system == "sinkhorn" else "s", ms=3,
                    linestyle="-" if system == "sinkhorn" else "--", label=f"{system}, {method}")
        styles = {"exact OT": ":", "cosine argmax (no OT)": "--", "diagonal": "-.", "fast_align-style Model 2": (0, (1, 3))}
        for system, style in styles.items():
            rows = part[part.system == system]
            if len(rows):
                ax.axhline(rows.aer.min(), color="grey", linestyle=style, linewidth=1, label=f"{system} (best)")
        ax.set_xscale("log")
        ax.set_xlabel("epsilon")
        ax.set_title({"nt": "Greek NT to English", "ot": "Hebrew OT to English"}.get(testament, testament))
    axes[0][0].set_ylabel("AER (lower is better)")
    axes[0][-1].legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def training_curves(logs: dict[str, pd.DataFrame],
                    panels=(("loss", "training loss"), ("dev_bitext_MRR", "dev bitext MRR"), ("dev_AP", "dev MAP"),
                            ("plan_entropy", "plan row entropy / max"), ("alignment", "cos(student, teacher)"),
                            ("uniformity", "uniformity (lower = spread)"))):
    """Curves over steps, one line per run (label -> log table), one panel per logged column that
    some run has: loss, dev signals and the diagnostics that say whether the method does what it
    claims (plan sharpness, alignment against uniformity of the student's sentence vectors)."""
    use_style()
    panels = [(c, t) for c, t in panels if any(c in log and log[c].notna().any() for log in logs.values())]
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.6 * rows), squeeze=False)
    for ax, (column, title) in zip(axes.flat, panels):
        for label in sorted(logs):
            log = logs[label]
            if column not in log:
                continue
            part = log.dropna(subset=[column])
            evaluated = column.startswith("dev_")
            ax.plot(part.step, part[column], label=label, linewidth=1, marker="o" if evaluated else None, ms=2)
        ax.set(xlabel="step", title=title)
    for ax in list(axes.flat)[len(panels):]:
        ax.remove()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=min(4, len(labels)), frameon=False, fontsize=6,
               bbox_to_anchor=(0.5, 1.0 + 0.04 * (1 + len(labels) // 4)))
    fig.tight_layout()
    return fig


def study_curves(points: pd.DataFrame, goal: float | None = 0.3):
    """The recipe study: each configuration's share of the zero-shot→ceiling gap (test AP) against
    training epochs, with its 95% bootstrap interval, one panel per scorer."""
    use_style()
    scorers = [s for s in ("mean", "maxsim") if f"gap_share_{s}" in points]
    configs = list(dict.fromkeys(points.config))
    palette = dict(zip(configs, sns.color_palette("tab10" if len(configs) <= 10 else "tab20", n_colors=len(configs))))
    fig, axes = plt.subplots(1, len(scorers), figsize=(4.2 * len(scorers), 3.2), sharey=True, squeeze=False)
    for ax, scorer in zip(axes[0], scorers):
        for config in configs:
            part = points[points.config == config].drop_duplicates("step").sort_values("epochs")
            ax.plot(part.epochs, part[f"gap_share_{scorer}"], marker="o", ms=3, linewidth=1, color=palette[config],
                    label=config, linestyle="-" if transports(part.objective.iloc[0]) else "--")
            ax.fill_between(part.epochs, part[f"gap_share_{scorer}_low"], part[f"gap_share_{scorer}_high"],
                            color=palette[config], alpha=0.08, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.6)
        if goal is not None:
            ax.axhline(goal, color="grey", linewidth=0.6, linestyle=":")
        ax.set(xlabel="epochs over the budget", title=f"{scorer} scoring")
    axes[0][0].set_ylabel("share of zero-shot→ceiling gap (test AP)")
    axes[0][-1].legend(fontsize=6, frameon=False, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def system_bars(results: pd.DataFrame, measure: str = "AP"):
    """One bar per system and language, a panel per scorer of the dense systems (BM25 beside them)."""
    use_style()
    scorers = [s for s in ("mean", "maxsim") if s in set(results.scorer)] or sorted(results.scorer.unique())
    fig, axes = plt.subplots(1, len(scorers), figsize=(5.5 * len(scorers), 3.4), sharey=True, squeeze=False)
    for ax, scorer in zip(axes[0], scorers):
        part = results[(results.scorer == scorer) | ~results.scorer.isin(scorers)]
        order = list(dict.fromkeys(part.system))
        sns.barplot(data=part, x="system", y=measure, hue="language", order=order,
                    hue_order=sorted(results.language.unique()), ax=ax, errorbar=None)
        ax.tick_params(axis="x", rotation=35)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.set_ylabel("MAP" if measure == "AP" else measure)
        ax.set_xlabel("")
        ax.set_title(f"{scorer} scoring" + (" (BM25 as is)" if (~results.scorer.isin(scorers)).any() else ""))
        if ax is not axes[0][-1] and ax.legend_:
            ax.legend_.remove()
    fig.tight_layout()
    return fig


def means_with_intervals(summary: pd.DataFrame, measure_label: str = "MAP"):
    """Mean per system and language with its bootstrap interval (columns: language, system, mean,
    ci_low, ci_high)."""
    use_style()
    languages = sorted(summary.language.unique())
    systems = list(dict.fromkeys(summary.system))
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(systems)), 3.2))
    width = 0.8 / max(1, len(languages))
    palette = sns.color_palette(n_colors=len(languages))
    for i, language in enumerate(languages):
        part = summary[summary.language == language].set_index("system").reindex(systems)
        xs = [j + (i - (len(languages) - 1) / 2) * width for j in range(len(systems))]
        ax.errorbar(xs, part["mean"], yerr=[part["mean"] - part.ci_low, part.ci_high - part["mean"]], fmt="o", ms=4,
                    capsize=2, color=palette[i], label=language)
    ax.set_xticks(range(len(systems)), systems, rotation=30, ha="right")
    ax.set_ylabel(f"{measure_label} (95% bootstrap CI)")
    ax.legend(title="language", frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def per_query_differences(differences: dict[str, pd.Series], label: str):
    """Sorted per-query differences (treatment minus baseline), one panel per language."""
    use_style()
    keys = sorted(differences)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 2.8), sharey=True, squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = differences[key].sort_values().to_numpy()
        colours = ["#0072b2" if v > 0 else "#d55e00" if v < 0 else "#999999" for v in values]
        ax.bar(range(len(values)), values, color=colours, width=1.0)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"{key}: {int((values > 0).sum())} up, {int((values < 0).sum())} down")
        ax.set_xlabel("queries (sorted)")
        ax.set_xticks([])
    axes[0][0].set_ylabel(label)
    fig.tight_layout()
    return fig


def p_value_heatmap(matrix: pd.DataFrame, title: str, alpha: float = 0.05):
    """Corrected p-values between every pair of systems; cells below ``alpha`` are outlined."""
    use_style()
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(matrix), 0.6 + 0.6 * len(matrix)))
    sns.heatmap(matrix.astype(float), annot=True, fmt=".3f", cmap="viridis_r", vmin=0, vmax=1, cbar=True,
                annot_kws={"fontsize": 6}, ax=ax, linewidths=0.5)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            if matrix.iat[i, j] < alpha:
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, edgecolor="red", linewidth=1.2))
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=40)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


def alpha_curves(curves: pd.DataFrame, zero_shot: pd.DataFrame | None = None, measure_label: str = "MAP"):
    """A panel per setting: the metric against alpha, a line per tier (solid without the OT term,
    dashed with it), bands over seeds; dotted lines are the untrained student per tier.
    ``curves`` as from :func:`otclir.evaluation.hybrid_batch_ablations.tier_curves` for one training budget."""
    use_style()
    settings = [s for s in RETRIEVAL_SETTINGS if s in set(curves.setting)]
    weights = sorted(curves.ot_weight.unique())
    fig, axes = plt.subplots(1, len(settings), figsize=(3.3 * len(settings), 3.0), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for tier in [t for t in TIER_ORDER if t in set(curves.tier)]:
            for k, weight in enumerate(weights):
                part = curves[(curves.setting == setting) & (curves.tier == tier) & (curves.ot_weight == weight)] \
                    .sort_values("alpha")
                ax.plot(part.alpha, part["mean"], color=TIER_COLOURS[tier], marker="o", ms=3,
                        linestyle="-" if k == 0 else "--", label=f"{tier}, lambda={weight:g}")
                ax.fill_between(part.alpha, part.low, part.high, color=TIER_COLOURS[tier], alpha=0.15, linewidth=0)
            if zero_shot is not None and len(zero_shot):
                ref = zero_shot[(zero_shot.setting == setting) & (zero_shot.tier == tier)]
                if len(ref):
                    ax.axhline(float(ref.iloc[0, -1]), color=TIER_COLOURS[tier], linestyle=":", linewidth=0.9)
        ax.set(title=setting, xlabel="alpha (share of monolingual batches)", ylabel=measure_label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), frameon=False, fontsize=7,
               bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    return fig


def bias_by_alpha(bias: pd.DataFrame, zero_shot: float | None = None):
    """Language bias (mean rank distance between copies) against alpha, a line per OT weight and
    budget, bands over seeds; the dotted line is the untrained student."""
    use_style()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    groups = list(bias.groupby(["ot_weight", "train_pairs"], dropna=False, sort=True))
    palette = sns.color_palette("colorblind", n_colors=max(1, len(groups)))
    for colour, ((weight, budget), part) in zip(palette, groups):
        part = part.sort_values("alpha")
        ax.plot(part.alpha, part["mean"], marker="o", ms=3, color=colour,
                label=f"lambda={weight:g}, budget {budget_label(budget)}")
        ax.fill_between(part.alpha, part.low, part.high, color=colour, alpha=0.15, linewidth=0)
    if zero_shot is not None:
        ax.axhline(zero_shot, color="grey", linestyle=":", linewidth=0.9, label="untrained student")
    ax.set(xlabel="alpha (share of monolingual batches)", ylabel="language bias (rank distance)",
           title="multilingual pool")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def budget_curves(curves: pd.DataFrame, measure_label: str = "MAP"):
    """A panel per setting: the metric against the training budget (verse pairs), a line
    per tier, bands over seeds. ``curves`` for one alpha and OT weight."""
    use_style()
    settings = [s for s in RETRIEVAL_SETTINGS if s in set(curves.setting)]
    budgets = sorted(curves.train_pairs.unique(), key=lambda b: float("inf") if pd.isna(b) else b)
    position = {budget_label(b): i for i, b in enumerate(budgets)}
    fig, axes = plt.subplots(1, len(settings), figsize=(3.3 * len(settings), 2.9), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for tier in [t for t in TIER_ORDER if t in set(curves.tier)]:
            part = curves[(curves.setting == setting) & (curves.tier == tier)].copy()
            part["x"] = part.train_pairs.map(lambda b: position[budget_label(b)])
            part = part.sort_values("x")
            ax.plot(part.x, part["mean"], color=TIER_COLOURS[tier], marker="o", ms=3, label=tier)
            ax.fill_between(part.x, part.low, part.high, color=TIER_COLOURS[tier], alpha=0.15, linewidth=0)
        ax.set_xticks(range(len(position)), list(position))
        ax.set(title=setting, xlabel="training verse pairs (each in every language)", ylabel=measure_label)
    axes[0][0].legend(title="tier", frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
