"""Word alignments from transport plans, scored against the manual gold alignments of
``bible-alignments`` (Greek New Testament and Hebrew Old Testament to the English BSB).

Gold records link sets of source tokens to sets of target tokens; every pair in a record is a
link. English punctuation tokens (marked ``exclude``) are left out. Source tokens are the
package's units (Greek words, Hebrew morphemes), with combining marks stripped before the
multilingual tokenizer sees them.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from otclir.data.packages import package_file
from otclir.models.tokenization import strip_marks
from otclir.transport.losses import cosine_cost
from otclir.transport.ot import exact_transport, sinkhorn

TESTAMENTS = {
    "nt": ("SBLGNT", "nt_BSB.tsv", "SBLGNT-BSB-manual.json"),
    "ot": ("WLCM", "ot_BSB.tsv", "WLCM-BSB-manual.json"),
}
METHODS = ("forward", "backward", "intersection", "threshold")


@dataclass
class GoldVerse:
    verse: str  # BBCCCVVV in the source's versification
    source: list[str]
    target: list[str]
    links: set[tuple[int, int]]  # (source index, target index)


def _rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


@lru_cache(maxsize=2)
def load_gold(testament: str = "nt") -> tuple[GoldVerse, ...]:
    """Every verse of a testament with at least one manual link, in canonical order."""
    if testament not in TESTAMENTS:
        raise ValueError(f"unknown testament '{testament}'; use one of {', '.join(TESTAMENTS)}")
    source_name, target_file, align_file = TESTAMENTS[testament]
    source_tokens: dict[str, dict[str, int]] = {}
    source_words: dict[str, list[str]] = {}
    for row in _rows(package_file("bible-alignments", f"data/sources/{source_name}.tsv")):
        tid = row["id"][1:]  # drop the n/o prefix
        verse = tid[:8]
        words = source_words.setdefault(verse, [])
        source_tokens.setdefault(verse, {})[row["id"]] = len(words)
        words.append(strip_marks(row["text"]))
    target_tokens: dict[str, dict[str, int]] = {}
    target_words: dict[str, list[str]] = {}
    for row in _rows(package_file("bible-alignments", f"data/eng/targets/BSB/{target_file}")):
        if row.get("exclude") == "y":
            continue
        verse = row["source_verse"]
        words = target_words.setdefault(verse, [])
        target_tokens.setdefault(verse, {})[row["id"]] = len(words)
        words.append(row["text"])
    links: dict[str, set[tuple[int, int]]] = {}
    path = package_file("bible-alignments", f"data/eng/alignments/BSB/{align_file}")
    for record in json.loads(path.read_text(encoding="utf-8"))["records"]:
        if record.get("meta", {}).get("process") != "manual" or not record["source"]:
            continue
        verse = record["source"][0][1:9]
        src = [source_tokens.get(verse, {}).get(t) for t in record["source"]]
        # Hebrew-side records name English tokens with a trailing part digit (12 digits)
        tgt = [target_tokens.get(verse, {}).get(t[:11]) for t in record["target"]]
        pairs = {(s, t) for s in src if s is not None for t in tgt if t is not None}
        if pairs:
            links.setdefault(verse, set()).update(pairs)
    return tuple(GoldVerse(v, source_words[v], target_words[v], links[v])
                 for v in sorted(links) if v in source_words and v in target_words)


def sample_gold(testament: str, max_verses: int | None, seed: int = 0) -> list[GoldVerse]:
    verses = list(load_gold(testament))
    if max_verses is None or max_verses >= len(verses):
        return verses
    picked = np.random.default_rng(seed).choice(len(verses), size=max_verses, replace=False)
    return [verses[i] for i in sorted(picked)]


def word_matrix(piece_matrix: torch.Tensor, source_words: list[int], target_words: list[int],
                n_source: int, n_target: int, reduce: str = "sum") -> torch.Tensor:
    """Aggregate a piece-level matrix to words: summed for plans, averaged for similarities."""
    src = torch.zeros(n_source, len(source_words), dtype=piece_matrix.dtype)
    src[torch.tensor(source_words), torch.arange(len(source_words))] = 1
    tgt = torch.zeros(len(target_words), n_target, dtype=piece_matrix.dtype)
    tgt[torch.arange(len(target_words)), torch.tensor(target_words)] = 1
    total = src @ piece_matrix @ tgt
    if reduce == "mean":
        total = total / (src.sum(1, keepdim=True) * tgt.sum(0, keepdim=True)).clamp(min=1)
    return total


def extract(matrix: torch.Tensor, method: str = "intersection", threshold: float = 0.3) -> set[tuple[int, int]]:
    """Links from a word-level score matrix (plan mass or similarity)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; methods: {', '.join(METHODS)}")
    n, m = matrix.shape
    forward = {(i, int(matrix[i].argmax())) for i in range(n)}
    backward = {(int(matrix[:, j].argmax()), j) for j in range(m)}
    if method == "forward":
        return forward
    if method == "backward":
        return backward
    if method == "intersection":
        return forward & backward
    rows = matrix / matrix.sum(1, keepdim=True).clamp(min=1e-30)
    return {(int(i), int(j)) for i, j in (rows >= threshold).nonzero().tolist()}


def diagonal(n: int, m: int) -> set[tuple[int, int]]:
    """Each source word linked to the target word at the same relative position."""
    return {(i, min(m - 1, int((i + 0.5) * m / n))) for i in range(n)}


def score(predicted: list[set], gold: list[set]) -> dict[str, float]:
    """Micro-averaged precision, recall, F1 and AER (all gold links are sure links, so AER = 1 - F1)."""
    hits = sum(len(p & g) for p, g in zip(predicted, gold))
    n_pred = sum(len(p) for p in predicted)
    n_gold = sum(len(g) for g in gold)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    aer = 1 - 2 * hits / (n_pred + n_gold) if n_pred + n_gold else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "aer": aer, "links": n_pred}


def verse_costs(encoder, verses: list[GoldVerse], layer: int | None = None, batch_size: int = 16):
    """Piece-level cost matrices (1 - cosine) between each verse's source and target words."""
    out = []
    for start in range(0, len(verses), batch_size):
        chunk = verses[start:start + batch_size]
        src = encoder.embed_words([v.source for v in chunk], layer=layer)
        tgt = encoder.embed_words([v.target for v in chunk], layer=layer)
        for (xs, xw), (ys, yw), verse in zip(src, tgt, chunk):
            cost = cosine_cost(xs.unsqueeze(0).double(), ys.unsqueeze(0).double())[0]
            out.append((cost, xw, yw, len(verse.source), len(verse.target)))
    return out


def plan_quality(costs, verses: list[GoldVerse], epsilons, methods=METHODS, threshold: float = 0.3,
             max_iter: int = 200, scaled_epsilons=()) -> pd.DataFrame:
    """Alignment quality of Sinkhorn plans at each epsilon (on the raw cost, and on the cost scaled
    by its spread at each of ``scaled_epsilons``, as distillation computes them), exact OT, and two
    baselines."""
    from otclir.transport.ot import scale_cost

    gold = [v.links for v in verses]
    rows = []

    def add(system, epsilon, method, predicted):
        rows.append({"system": system, "epsilon": epsilon, "method": method, **score(predicted, gold)})

    for system, scale, values in (("sinkhorn", "none", epsilons), (SCALED, "std", scaled_epsilons)):
        for epsilon in values:
            words = []
            for cost, xw, yw, n, m in costs:
                plan = sinkhorn(scale_cost(cost, method=scale), epsilon=epsilon, max_iter=max_iter).plan[0]
                words.append(word_matrix(plan, xw, yw, n, m))
            for method in methods:
                add(system, epsilon, method, [extract(w, method, threshold) for w in words])
    exact = [word_matrix(exact_transport(cost), xw, yw, n, m) for cost, xw, yw, n, m in costs]
    for method in methods:
        add("exact OT", 0.0, method, [extract(w, method, threshold) for w in exact])
    similarity = [word_matrix(1 - cost, xw, yw, n, m, reduce="mean") for cost, xw, yw, n, m in costs]
    for method in ("forward", "backward", "intersection"):
        add("cosine argmax (no OT)", float("nan"), method, [extract(s, method) for s in similarity])
    add("diagonal", float("nan"), "diagonal", [diagonal(len(v.source), len(v.target)) for v in verses])
    return pd.DataFrame(rows)


SCALED = "sinkhorn, cost/std"
STATISTICAL = {"IBM Model 1": 0.0, "fast_align-style Model 2": 4.0}  # system -> diagonal tension


def statistical_quality(testament: str, verses: list[GoldVerse], iterations: int = 5) -> pd.DataFrame:
    """AER of the classical aligners, trained without supervision on every verse of the testament
    (the gold links are only read to score), in both directions, links combined as for the plans."""
    from otclir.transport import statistical_alignment

    pairs = [([w.lower() for w in v.source], [w.lower() for w in v.target]) for v in load_gold(testament)]
    gold = [v.links for v in verses]
    rows = []
    for system, tension in STATISTICAL.items():
        forward = statistical_alignment.train(pairs, iterations, tension)
        backward = statistical_alignment.train([(t, s) for s, t in pairs], iterations, tension)
        for method in statistical_alignment.LINK_METHODS:
            predicted = [statistical_alignment.symmetric_links(forward, backward, [w.lower() for w in v.source],
                                                               [w.lower() for w in v.target], method) for v in verses]
            rows.append({"system": system, "epsilon": float("nan"), "method": method, **score(predicted, gold)})
    return pd.DataFrame(rows)


def piece_costs(x_encoder, x_text: str, y_encoder, y_text: str, layer: int | None = None):
    """Cost matrix (1 - cosine) between the word pieces of two texts, special tokens left out,
    with the pieces as labels. The two encoders may differ (teacher and student)."""
    rows = []
    for encoder, text in ((x_encoder, x_text), (y_encoder, y_text)):
        [(emb, _)] = encoder.embed_words([text.split()], layer=layer)
        ids = encoder.tokenizer(text.split(), is_split_into_words=True)["input_ids"]
        special = set(encoder.tokenizer.all_special_ids)
        pieces = [p for i, p in zip(ids, encoder.tokenizer.convert_ids_to_tokens(ids)) if i not in special]
        rows.append((emb, pieces))
    (x, x_pieces), (y, y_pieces) = rows
    return cosine_cost(x.unsqueeze(0).double(), y.unsqueeze(0).double())[0], x_pieces, y_pieces


def quality_table(encoder, testaments=("nt",), max_verses: int | None = 100, epsilons=(0.01, 0.02, 0.05, 0.1, 0.2),
                  layer: int | None = None, threshold: float = 0.3, seed: int = 0, scaled_epsilons=(),
                  statistical: bool = False) -> pd.DataFrame:
    """Alignment quality per testament, system, epsilon and extraction method; ``statistical`` adds
    IBM Model 1 and its fast_align-style variant, the classical aligners the plans compete with."""
    frames = []
    for testament in testaments:
        verses = sample_gold(testament, max_verses, seed)
        frame = plan_quality(verse_costs(encoder, verses, layer=layer), verses, epsilons, threshold=threshold,
                         scaled_epsilons=scaled_epsilons)
        if statistical:
            frame = pd.concat([frame, statistical_quality(testament, verses)], ignore_index=True)
        frame.insert(0, "testament", testament)
        frame.insert(1, "verses", len(verses))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def layer_table(encoder, verses: list[GoldVerse], layers, epsilon: float, cost_scale: str = "std",
                max_iter: int = 200) -> pd.DataFrame:
    """Per hidden layer: the best AER over extraction methods of the plans at one setting, and the
    plans' mean row entropy as a share of its maximum."""
    from otclir.transport.ot import plan_diagnostics, scale_cost

    gold = [v.links for v in verses]
    rows = []
    for layer in layers:
        words, entropy = [], []
        for cost, xw, yw, n, m in verse_costs(encoder, verses, layer=layer):
            plan = sinkhorn(scale_cost(cost, method=cost_scale), epsilon=epsilon, max_iter=max_iter).plan[0]
            entropy.append(plan_diagnostics(plan)["plan_entropy"])
            words.append(word_matrix(plan, xw, yw, n, m))
        scores = {method: score([extract(w, method) for w in words], gold) for method in METHODS}
        method = min(scores, key=lambda k: scores[k]["aer"])
        rows.append({"layer": layer, "best_aer": scores[method]["aer"], "method": method,
                     "plan_entropy": float(np.mean(entropy))})
    return pd.DataFrame(rows)


def quality_summary(quality: pd.DataFrame) -> tuple[dict, list[str]]:
    """Notebook 02's reading of :func:`quality_table`, per testament: the best AER of each system,
    the epsilon and link method of the best Sinkhorn plan (the metrics record), and one sentence
    saying whether OT beats the no-OT baseline and the statistical aligner."""
    summary, lines = {}, []
    for testament, part in quality.groupby("testament"):
        by_system = part.groupby("system").aer.min()
        ot_best = part[part.system == "sinkhorn"].sort_values("aer").iloc[0]
        summary[testament] = {"verses": int(part.verses.iloc[0]), "best_aer": by_system.round(4).to_dict(),
                              "best_sinkhorn_epsilon": float(ot_best.epsilon), "best_sinkhorn_method": ot_best.method}
        best_ot = min(by_system["sinkhorn"], by_system[SCALED])
        beats_argmax = "beats" if by_system["sinkhorn"] < by_system["cosine argmax (no OT)"] else "does not beat"
        beats_statistical = "beats" if best_ot < by_system["fast_align-style Model 2"] else "does not beat"
        lines.append(f"{testament}: best Sinkhorn AER {by_system['sinkhorn']:.3f} (epsilon {ot_best.epsilon:g}, "
                     f"{ot_best.method}), {by_system[SCALED]:.3f} on the scaled cost; cosine argmax without OT "
                     f"{by_system['cosine argmax (no OT)']:.3f}; diagonal {by_system['diagonal']:.3f}; IBM Model 1 "
                     f"{by_system['IBM Model 1']:.3f}; fast_align-style {by_system['fast_align-style Model 2']:.3f}. "
                     f"OT {beats_argmax} the no-OT baseline and {beats_statistical} the statistical aligner.")
    return summary, lines
