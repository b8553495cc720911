"""The one figure style: column widths, TrueType fonts, languages in tier order, display names
for systems, byte-stable files, and the checks a figure must pass (no empty axes, no Type 3
fonts)."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from otclir.errors import OtclirError
from otclir.paths import PAPER_PROFILE, figures_dir, plain_name, project_root, relative_to_root
from otclir.retrieval.system_names import (BM25_DICTIONARY, BM25_ENGLISH, BM25_FREEDICT, CEILING, MINILM_ON_TARGET,
                                           ORACLE, RRF_DICTIONARY, ZERO_SHOT, parse, split_seed)

SINGLE_COLUMN = 3.3  # inches: one column of a two-column paper (ACL, ACM, IEEE within a few points)
DOUBLE_COLUMN = 6.9  # inches: the full text width
TIER_ORDER = ["low", "mid", "high"]
TIER_COLOURS = {"low": "#d55e00", "mid": "#e69f00", "high": "#0072b2"}
BASELINE_COLOURS = {"zero-shot": "#333333", "rival": "#cc79a7"}
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 200, "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7,
    "xtick.labelsize": 6.5, "ytick.labelsize": 6.5, "legend.fontsize": 6.5, "legend.title_fontsize": 6.5,
    "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "otclir",
    "pdf.compression": 6, "pdf.fonttype": 42, "ps.fonttype": 42,  # TrueType, never Type 3
    "lines.linewidth": 1.0, "patch.linewidth": 0.0,  # bars and areas without edges that could paint them over
}

OBJECTIVE_NAMES = {"sentence_mse": "sentence MSE", "contrastive": "contrastive", "ot": "OT",
                   "ot+sentence_mse": "OT + sentence MSE", "ot+contrastive": "OT + contrastive"}
FIXED_NAMES = {ZERO_SHOT: "zero-shot student", CEILING: "ceiling (teacher, English text)",
               ORACLE: "oracle (MiniLM, English text)", MINILM_ON_TARGET: "MiniLM on target text",
               BM25_ENGLISH: "BM25, English text", BM25_FREEDICT: "BM25, FreeDict translation"}


def use_style() -> None:
    sns.set_theme(context="paper", style="whitegrid")
    plt.rcParams.update(STYLE)


def figure_size(width: str = "double", height: float = 2.4) -> tuple[float, float]:
    """(width, height) in inches for one column (``single``) or the text width (``double``)."""
    return ({"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}[width], height)


def display_name(system: str) -> str:
    """A system as a figure labels it: ``OT + contrastive @2000``, ``zero-shot student``."""
    name, seed = split_seed(system)
    parsed = parse(name)
    if parsed.distilled:
        label = f"{OBJECTIVE_NAMES.get(parsed.objective, parsed.objective)} @{parsed.budget}"
    elif parsed.family == BM25_DICTIONARY:
        label = f"BM25, dictionary @{parsed.budget}"
    elif parsed.family == RRF_DICTIONARY:
        label = f"RRF dictionary + zero-shot @{parsed.budget}"
    else:
        label = FIXED_NAMES.get(name, name)
    return label if seed is None else f"{label} (seed {seed})"


def system_order(systems) -> list[str]:
    """Systems in reading order: the zero-shot student, then students by budget and objective
    (sentence MSE, contrastive, OT, OT + ...), then everything else by name."""
    objectives = list(OBJECTIVE_NAMES)

    def key(name: str):
        parsed = parse(split_seed(name)[0])
        if name == ZERO_SHOT:
            return (0, 0, 0, name)
        if parsed.distilled:
            budget = float("inf") if parsed.budget == "all" else float(parsed.budget)
            rank = objectives.index(parsed.objective) if parsed.objective in objectives else len(objectives)
            return (1, budget, rank, name)
        return (2, 0, 0, name)

    return sorted(dict.fromkeys(systems), key=key)


def unique_handles(fig) -> tuple[list, list[str]]:
    """The legend entries of every axes of a figure, each label once, in drawing order (for one
    legend below small multiples)."""
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    return handles, labels


def tier_rank(code: str) -> tuple[int, str]:
    """A language's place in every figure: low-resource first, then mid, then high, by code within."""
    from otclir.data.languages import language

    try:
        return TIER_ORDER.index(language(code).tier), code
    except Exception:
        return len(TIER_ORDER), code


def languages_by_tier(codes) -> list[str]:
    return sorted(set(codes), key=tier_rank)


def tier_of(code: str) -> str:
    from otclir.data.languages import language

    return language(code).tier


def save_figure(fig, name: str, profile: str = PAPER_PROFILE, folder: Path | None = None) -> list[str]:
    """Write ``name``.pdf and ``name``.png into the profile's figures folder (see
    :func:`otclir.paths.figures_dir`), byte for byte the same on every run (no dates, fixed
    software string); returns their paths relative to the project root."""
    plain_name(name, "a figure's name")
    folder = Path(folder) if folder else figures_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, metadata in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "otclir", "Creator": "otclir"}),
                          ("png", {"Software": "otclir"})):
        path = folder / f"{name}.{ext}"
        fig.savefig(path, metadata=metadata, bbox_inches="tight", pad_inches=0.02)
        written.append(relative_to_root(path))
    problems = layout_problems(fig)
    if problems:  # checked on the figure as written (drawing it first can change a PDF's bytes)
        for path in written:
            (project_root() / path).unlink(missing_ok=True)
        raise OtclirError(f"figure {name} is not fit for a paper: " + "; ".join(problems[:5])
                          + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
                          + ". Fix the plotting function's layout (legend below the panels, fewer labels, a "
                          "narrower legend); nothing was kept")
    return written


# ------------------------------------------------------------------------------------- checks
INK_SHARE = 0.002  # below this share of an axes' inner pixels carrying ink, the axes reads as empty


def empty_axes(fig) -> list[str]:
    """The titles (or positions) of the axes of ``fig`` in which nothing but the frame and the grid
    shows once rendered: fewer than :data:`INK_SHARE` of the pixels inside the frame differ
    visibly from white and from the light grid. Bars painted over by white edges, or lines drawn
    outside the limits, count as nothing."""
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255
    height = pixels.shape[0]
    empty = []
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or _is_colourbar(ax):
            continue
        box = ax.get_window_extent()
        x0, x1 = int(box.x0) + 3, int(box.x1) - 3
        y0, y1 = height - int(box.y1) + 3, height - int(box.y0) - 3
        if x1 <= x0 or y1 <= y0:
            empty.append(ax.get_title() or f"axes {index}")
            continue
        inner = pixels[y0:y1, x0:x1]
        ink = (inner.min(axis=2) < 0.80) | (inner.max(axis=2) - inner.min(axis=2) > 0.15)
        if ink.mean() < INK_SHARE:
            empty.append(ax.get_title() or f"axes {index}")
    return empty


def _is_colourbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def type3_fonts(pdf: bytes | Path) -> list[str]:
    """The names of the Type 3 fonts a PDF embeds (journals and arXiv ask for none)."""
    data = Path(pdf).read_bytes() if isinstance(pdf, (str, Path)) else pdf
    fonts = []
    for match in re.finditer(rb"/Subtype\s*/Type3", data):
        window = data[max(0, match.start() - 400): match.end() + 400]
        name = re.search(rb"/(?:BaseFont|Name)\s*/([^\s/<>\[\]]+)", window)
        fonts.append(name.group(1).decode("latin-1") if name else "?")
    return fonts


def pdf_width_inches(pdf: bytes | Path) -> float:
    """The width of a PDF's first page (its MediaBox), in inches."""
    data = Path(pdf).read_bytes() if isinstance(pdf, (str, Path)) else pdf
    box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)
    return (float(box.group(3)) - float(box.group(1))) / 72



def _text_boxes(fig) -> list[tuple[str, object]]:
    """Every piece of text a reader sees, named, with its box in display pixels: the figure's
    title and legends, and per axes its titles, legend, axis labels and tick labels."""
    renderer = fig.canvas.get_renderer()
    boxes = []

    def add(name, artist):
        if artist is not None and artist.get_visible() and (not hasattr(artist, "get_text") or artist.get_text()):
            boxes.append((name, artist.get_window_extent(renderer)))

    add("the figure's title", getattr(fig, "_suptitle", None))
    for legend in fig.legends:
        add("the figure's legend", legend)
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or _is_colourbar(ax):
            continue
        name = f"panel {ax.get_title()!r}" if ax.get_title() else f"panel {index}"
        for title in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)):
            add(f"the title of {name}", title)
        add(f"the legend of {name}", ax.get_legend())
        add(f"the x label of {name}", ax.xaxis.label)
        add(f"the y label of {name}", ax.yaxis.label)
        for axis_name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            for tick in axis._update_ticks():  # the ticks drawn: those within the view limits
                for label in (tick.label1, tick.label2):
                    add(f"the {axis_name} tick {label.get_text()!r} of {name}", label)
    return boxes


def text_overlaps(fig, slack: float = 1.0) -> list[str]:
    """Pairs of texts of ``fig`` that overlap once drawn (by more than ``slack`` pixels each way):
    a title printed over a legend, two panel titles run together, tick labels that collide."""
    fig.canvas.draw()
    boxes = _text_boxes(fig)
    found = []
    for i, (a_name, a) in enumerate(boxes):
        for b_name, b in boxes[i + 1:]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > slack and height > slack:
                found.append(f"{a_name} overlaps {b_name}")
    return found


def layout_problems(fig, max_width: float = DOUBLE_COLUMN) -> list[str]:
    """What keeps a figure out of a two-column paper: overlapping text (:func:`text_overlaps`) and
    a saved width beyond the text width (``max_width`` inches, 0.05 in of slack)."""
    problems = text_overlaps(fig)
    width = drawn_width(fig)
    if width > max_width + 0.05:
        problems.append(f"it is {width:.2f} in wide, more than the {max_width:g} in of a page's text width")
    return problems


def drawn_width(fig) -> float:
    """The width in inches a figure is saved at (its tight bounding box, as save_figure writes it)."""
    fig.canvas.draw()
    return float(fig.get_tightbbox(fig.canvas.get_renderer()).width) + 2 * 0.02
