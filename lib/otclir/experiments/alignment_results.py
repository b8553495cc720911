"""Notebook 02's numbers, computed once and stored: the cost matrices and plans its figures draw,
the alignment-quality and layer tables. Reporting mode draws every figure and table from the stored
files, so the figures are the same on every CPU (the model's last float digits differ between
Intel and AMD, and a recomputation would carry them into the PDFs).

Files in ``results/<profile>/02_ot_alignment/``: ``plans.json`` (matrices at six significant
digits, the word pieces or words on each axis, the gold links), ``alignment_quality.csv`` and
``by_layer.csv``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from otclir.experiments.ot_alignment import AlignmentSettings
from otclir.experiments.results import ResultStore

NOTEBOOK = "02_ot_alignment"
PLANS, QUALITY, LAYERS = "plans.json", "alignment_quality.csv", "by_layer.csv"
PAIR_EPSILON = 0.05  # the verse figures' epsilon on the raw cost, as in the first distillation experiment


class AlignmentStore(ResultStore):
    """Notebook 02's results, keyed by the code :func:`compute` reaches."""

    def __init__(self, profile: str):
        super().__init__(profile, NOTEBOOK)


def _matrix(values) -> list[list[float]]:
    return [[float(f"{v:.6g}") for v in row] for row in np.asarray(values, dtype=float)]


@dataclass
class VersePlan:
    """One verse's cost matrix and plan with the tokens (or words) of each axis."""

    verse: str
    cost: np.ndarray
    plan: np.ndarray
    rows: list[str]
    cols: list[str]
    gold: list[tuple[int, int]] | None = None

    def record(self) -> dict:
        return {"verse": self.verse, "cost": _matrix(self.cost), "plan": _matrix(self.plan), "rows": list(self.rows),
                "cols": list(self.cols), **({"gold": sorted(map(list, self.gold))} if self.gold is not None else {})}

    @classmethod
    def from_record(cls, record: dict) -> "VersePlan":
        gold = record.get("gold")
        return cls(record["verse"], np.array(record["cost"]), np.array(record["plan"]), record["rows"], record["cols"],
                   None if gold is None else [tuple(link) for link in gold])


@dataclass
class StoredAlignment:
    """What notebook 02 shows: verse plans, the plans across epsilon, and the two tables."""

    pairs: list[VersePlan]
    gold: VersePlan
    blur: dict[float, np.ndarray]
    blur_rows: list[str]
    blur_cols: list[str]
    quality: pd.DataFrame
    by_layer: pd.DataFrame

    def plan_entropy(self) -> dict[float, float]:
        """Entropy (nats) of each epsilon's plan: larger epsilon, more spread."""
        return {eps: float(-(p[p > 0] * np.log(p[p > 0])).sum()) for eps, p in self.blur.items()}

    def gold_score(self) -> dict[str, float]:
        """The gold verse's intersection alignment scored against its gold links."""
        from otclir.transport import alignment

        predicted = alignment.extract(torch.tensor(self.gold.plan), "intersection")
        return alignment.score([predicted], [set(self.gold.gold)])


def compute(settings: AlignmentSettings) -> StoredAlignment:
    """Every number notebook 02 shows, from the model and the installed data (minutes)."""
    from otclir.data.bible import parse_verse_id, read_version
    from otclir.models.encoder import Encoder
    from otclir.training.configs import DistillConfig
    from otclir.transport import alignment
    from otclir.transport.ot import sinkhorn

    encoder = Encoder(settings.model)
    english, tagalog = read_version("4"), read_version("f")  # WEB and Ang Dating Biblia 1905: public domain
    layer = settings.layer
    pairs = []
    for vid in settings.english_tagalog_verses:
        key = parse_verse_id(vid)
        cost, en_pieces, tl_pieces = alignment.piece_costs(encoder, english[key], encoder, tagalog[key], layer=layer)
        plan = sinkhorn(cost, epsilon=PAIR_EPSILON, max_iter=200).plan[0]
        pairs.append(VersePlan(vid, cost, plan, en_pieces, tl_pieces))

    gold = {v.verse: v for v in alignment.load_gold("nt")}[settings.greek_verse]
    [(x, xw)] = encoder.embed_words([gold.source], layer=layer)
    [(y, yw)] = encoder.embed_words([gold.target], layer=layer)
    piece_cost = alignment.cosine_cost(x.unsqueeze(0).double(), y.unsqueeze(0).double())[0]
    piece_plan = sinkhorn(piece_cost, epsilon=PAIR_EPSILON, max_iter=200).plan[0]
    n, m = len(gold.source), len(gold.target)
    gold_plan = VersePlan(settings.greek_verse, alignment.word_matrix(piece_cost, xw, yw, n, m, reduce="mean"),
                          alignment.word_matrix(piece_plan, xw, yw, n, m), list(gold.source), list(gold.target),
                          sorted(gold.links))

    blur_cost, blur_rows, blur_cols = pairs[0].cost, pairs[0].rows, pairs[0].cols
    blur = {eps: np.asarray(sinkhorn(blur_cost, epsilon=eps, max_iter=500).plan[0], dtype=float)
            for eps in settings.blur_epsilons}

    quality = alignment.quality_table(encoder, settings.testaments, settings.alignment_verses, settings.epsilons,
                                      layer=layer, threshold=settings.threshold, seed=settings.seed,
                                      scaled_epsilons=settings.scaled_epsilons, statistical=True)
    default = DistillConfig()
    by_layer = alignment.layer_table(encoder, alignment.sample_gold(settings.testaments[0], settings.alignment_verses,
                                                                    settings.seed),
                                     settings.layers, default.epsilon, default.cost_scale)
    return StoredAlignment(pairs, gold_plan, blur, list(blur_rows), list(blur_cols), quality, by_layer)


def stored_settings(settings: AlignmentSettings) -> dict:
    """The settings the stored numbers depend on (a distilled checkpoint is compared live, not stored)."""
    return {k: v for k, v in settings.to_record().items() if k != "distilled_model"}


def compute_and_store(settings: AlignmentSettings, profile: str, clock=time.perf_counter) -> dict:
    """Compute notebook 02's numbers and store them with their provenance (the previous results stay
    whole until everything is written)."""
    store = AlignmentStore(profile)
    started = clock()
    with store.recomputing():
        store.start(stored_settings(settings))
        found = compute(settings)
        store.write_json(PLANS, {"pairs": [p.record() for p in found.pairs], "gold": found.gold.record(),
                                 "blur": {"verse": settings.english_tagalog_verses[0], "rows": found.blur_rows,
                                          "cols": found.blur_cols,
                                          "plans": {repr(eps): _matrix(p) for eps, p in found.blur.items()}}})
        store.write_table(QUALITY, found.quality)
        store.write_table(LAYERS, found.by_layer)
        return store.finish(clock() - started, stored_settings(settings))


def read(settings: AlignmentSettings, profile: str) -> tuple[StoredAlignment, dict]:
    """The stored numbers of ``profile`` and their provenance, after checking they were computed with
    ``settings`` and that every file is the one written."""
    store = AlignmentStore(profile)
    store.require()
    store.check_settings(stored_settings(settings))
    plans = store.read_json(PLANS)
    blur = plans["blur"]
    found = StoredAlignment([VersePlan.from_record(p) for p in plans["pairs"]], VersePlan.from_record(plans["gold"]),
                            {float(eps): np.array(p) for eps, p in blur["plans"].items()}, blur["rows"], blur["cols"],
                            store.read_table(QUALITY), store.read_table(LAYERS))
    return found, store.provenance()


def before_and_after(settings: AlignmentSettings) -> dict[str, VersePlan]:
    """The first English–Tagalog verse's plan with the teacher (the untrained model reading English)
    against the untrained student and against ``settings.distilled_model``."""
    from otclir.data.bible import parse_verse_id, read_version
    from otclir.models.encoder import Encoder
    from otclir.transport import alignment
    from otclir.transport.ot import sinkhorn

    teacher = Encoder(settings.model)
    vid = settings.english_tagalog_verses[0]
    key = parse_verse_id(vid)
    english, tagalog = read_version("4")[key], read_version("f")[key]
    plans = {}
    for name, student in (("before", teacher), ("after", Encoder(settings.distilled_model))):
        cost, en_pieces, tl_pieces = alignment.piece_costs(teacher, english, student, tagalog, layer=settings.layer)
        plans[name] = VersePlan(vid, cost, sinkhorn(cost, epsilon=PAIR_EPSILON, max_iter=200).plan[0], en_pieces, tl_pieces)
    return plans
