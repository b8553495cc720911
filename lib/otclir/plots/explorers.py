"""Explorers for JupyterLab: pick a verse and see its transport plan, pick a query and see each
system's top ten. Each is a function that computes what it shows (tested as such) and a set of
ipywidgets controls that call it again. The view is a display with an id, so a live kernel
replaces it in place; stored outputs and nbval keep the first rendering as a static output.

Verse text appears only where its version is public domain or openly licensed; a restricted
version's word pieces are shown as positions.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from otclir.experiments.alignment_results import VersePlan
from otclir.plots.alignment import cost_and_plan

GOLD = "grc"  # the Greek NT (SBLGNT) against the English BSB, with the manual gold alignment
COSTS = ("raw", "scaled")  # 1 - cosine as it is, or divided by its spread (as distillation solves it)


@lru_cache(maxsize=4)
def _encoder(model: str):
    from otclir.models.encoder import Encoder

    return Encoder(model)


def _showable(code: str) -> bool:
    from otclir.data.languages import language, redistributable_versions

    return language(code).version in redistributable_versions()


def verse_plan(model: str, verse: str, language: str, layer: int | None, epsilon: float, cost: str = "raw") -> VersePlan:
    """The Sinkhorn plan between the English (WEB) verse and its ``language`` version at one layer
    and epsilon; ``language`` ``grc``: the Greek verse against the English BSB at word level, with
    its gold links."""
    from otclir.data.bible import parse_verse_id, read_language, read_version
    from otclir.transport import alignment
    from otclir.transport.ot import scale_cost, sinkhorn

    if cost not in COSTS:
        raise ValueError(f"unknown cost '{cost}'; costs: {', '.join(COSTS)}")
    encoder = _encoder(model)
    solve = (lambda c: sinkhorn(c if cost == "raw" else scale_cost(c, method="std"), epsilon=epsilon, max_iter=500).plan[0])
    if language == GOLD:
        verses = {v.verse: v for v in alignment.load_gold("nt")}
        if verse not in verses:
            raise ValueError(f"verse {verse} has no gold alignment; {len(verses)} New Testament verses have one, "
                             f"for example {', '.join(sorted(verses)[:3])}")
        gold = verses[verse]
        [(x, xw)] = encoder.embed_words([gold.source], layer=layer)
        [(y, yw)] = encoder.embed_words([gold.target], layer=layer)
        piece_cost = alignment.cosine_cost(x.unsqueeze(0).double(), y.unsqueeze(0).double())[0]
        n, m = len(gold.source), len(gold.target)
        return VersePlan(verse, alignment.word_matrix(piece_cost, xw, yw, n, m, reduce="mean"),
                         alignment.word_matrix(solve(piece_cost), xw, yw, n, m), list(gold.source), list(gold.target),
                         sorted(gold.links))
    key = parse_verse_id(verse)
    target = read_language(language)
    if key not in target:
        raise ValueError(f"verse {verse} is not in the {language} Bible")
    matrix, rows, cols = alignment.piece_costs(encoder, read_version("4")[key], encoder, target[key], layer=layer)
    if not _showable(language):
        cols = [f"#{i}" for i in range(1, len(cols) + 1)]
    return VersePlan(verse, matrix, solve(matrix), rows, cols)


def alignment_figure(model: str, verse: str, language: str, layer: int | None, epsilon: float, cost: str = "raw"):
    plan = verse_plan(model, verse, language, layer, epsilon, cost)
    other = "Greek (SBLGNT) to English (BSB), gold links as squares" if language == GOLD else f"English (WEB) to {language}"
    title = f"{verse}: {other}; layer {'last' if layer is None else layer}, epsilon {epsilon:g}, {cost} cost"
    return cost_and_plan(plan.cost, plan.plan, plan.rows, plan.cols, title=title, gold=plan.gold)


def top_results(runs: dict[str, dict], qrels: dict[str, dict], query: str, depth: int = 10,
                labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One query's top ``depth`` documents in each system's run, a row per rank and a column per
    system: the document (or its label) with a check mark where it is relevant; a last row counts
    the relevant documents found."""
    from otclir.data.trec import ranked

    relevant = {d for d, grade in qrels.get(query, {}).items() if grade > 0}
    columns = {}
    for system, run in runs.items():
        if query not in run:
            raise ValueError(f"query {query} is not in the run of {system}")
        top = [d for d, _ in ranked(run[query])[:depth]]
        cells = [f"{'✓ ' if d in relevant else ''}{(labels or {}).get(d, d)}" for d in top]
        cells += [""] * (depth - len(cells))
        columns[system] = cells + [f"{sum(d in relevant for d in top)} of {len(relevant)} relevant"]
    return pd.DataFrame(columns, index=[*range(1, depth + 1), "found"])


def chosen_queries(differences: pd.Series) -> dict[str, str]:
    """Queries chosen by rule for a close look, from per-query differences (treatment minus
    baseline): the largest gain, the largest loss and the median difference."""
    ordered = differences.sort_values(kind="mergesort")
    return {"largest gain": str(ordered.index[-1]), "largest loss": str(ordered.index[0]),
            "median": str(ordered.index[len(ordered) // 2])}


def archived_runs(folder) -> dict[str, dict]:
    """The runs a results folder keeps for one task and language pair
    (``runs/<task>/en-<language>/<system>.<scorer>.run.gz``), by ``<system>.<scorer>``."""
    from pathlib import Path

    from otclir.data.trec import read_run

    return {path.name.removesuffix(".run.gz"): read_run(path) for path in sorted(Path(folder).glob("*.run.gz"))}


def verse_labels(verse_ids, language: str) -> dict[str, str]:
    """Each verse as its reference (``Rom 3:23``), followed by its text in ``language`` where that
    version is public domain or openly licensed."""
    from otclir.data.bible import book_names, parse_verse_id, read_language

    names = book_names()
    text = read_language(language) if _showable(language) else {}
    labels = {}
    for vid in verse_ids:
        book, chapter, verse = key = parse_verse_id(str(vid))
        reference = f"{names[book]} {chapter}:{verse}"
        labels[str(vid)] = f"{reference} {text[key][:60]}" if key in text else reference
    return labels


def explore(draw, controls: dict):
    """Show ``draw(**values)`` for the controls' current values, redrawn in place when one changes;
    the controls themselves go below it."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    def view():
        try:
            shown = draw(**{name: control.value for name, control in controls.items()})
        except ValueError as error:  # a combination the data does not have: say so in place of the view
            return str(error)
        if hasattr(shown, "savefig"):
            plt.close(shown)
        return shown

    handle = display(view(), display_id=True)  # None outside a kernel: the controls still call draw

    def refresh(_change):
        shown = view()
        if handle is not None:
            handle.update(shown)

    for control in controls.values():
        control.observe(refresh, names="value")
    box = widgets.HBox(list(controls.values()))
    display(box)
    return box


def alignment_explorer(model: str, verses, languages, layers, epsilons, epsilon: float | None = None):
    """Verse, language, layer, epsilon and cost → the cost matrix and plan (gold links for ``grc``);
    the first of each list is shown first (``epsilon``: another starting epsilon)."""
    import ipywidgets as widgets

    epsilons = sorted(epsilons)
    controls = {"verse": widgets.Dropdown(options=list(verses), description="verse"),
                "language": widgets.Dropdown(options=list(languages), description="language"),
                "layer": widgets.Dropdown(options=[("last" if k is None else str(k), k) for k in layers],
                                          description="layer"),
                "epsilon": widgets.SelectionSlider(options=epsilons, value=epsilon if epsilon in epsilons else epsilons[0],
                                                   description="epsilon"),
                "cost": widgets.ToggleButtons(options=list(COSTS), description="cost")}
    return explore(lambda **values: alignment_figure(model, **values), controls)


TRAINED = ("distill-", "student-zero-shot")  # what the explorer shows first: the students, not the baselines


def ranking_explorer(runs_by_language: dict[str, dict[str, dict]], qrels: dict[str, dict], queries,
                     labels_by_language: dict[str, dict[str, str]] | None = None, depth: int = 10,
                     query_labels: dict[str, str] | None = None):
    """Query, language and systems → each system's top ``depth`` with relevance marks (documents
    shown by ``labels_by_language[language]`` where given). The query box searches the queries by
    id and by ``query_labels`` (their text, say) as one types; the trained students are shown
    first (every system can be added)."""
    import ipywidgets as widgets

    languages = list(runs_by_language)
    systems = sorted({s for runs in runs_by_language.values() for s in runs})
    trained = [s for s in systems if s.startswith(TRAINED)]
    choices = {f"{q}  {(query_labels or {}).get(str(q), '')}".strip(): q for q in queries}
    controls = {"query": widgets.Combobox(options=list(choices), value=next(iter(choices)), ensure_option=True,
                                          placeholder="words of a query, or its id", description="query"),
                "language": widgets.Dropdown(options=languages, description="language"),
                "systems": widgets.SelectMultiple(options=systems, value=tuple((trained or systems)[:4]),
                                                  description="systems")}

    def draw(query, language, systems):
        if query not in choices:
            raise ValueError("type words of a query (or its id) and pick one of the matches")
        chosen = {s: runs_by_language[language][s] for s in systems if s in runs_by_language[language]}
        return top_results(chosen, qrels, choices[query], depth, (labels_by_language or {}).get(language))

    return explore(draw, controls)


def plan_mass(plan: VersePlan) -> float:
    """The share of the plan's mass on its gold links (nan without gold)."""
    if not plan.gold:
        return float("nan")
    matrix = np.asarray(plan.plan, dtype=float)
    rows, cols = zip(*plan.gold)
    return float(matrix[list(rows), list(cols)].sum() / matrix.sum())
