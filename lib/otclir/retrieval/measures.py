"""Measures of TREC runs through ir_measures (pytrec_eval backend): per query, means, and a
system's run and scores saved side by side."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from otclir import checks
from otclir.data import trec
from otclir.errors import OtclirError

DEFAULT_MEASURES = ("AP", "nDCG@10", "RR@10", "R@100")
BITEXT_MEASURES = ("Success@1",)


def parse_measures(names):
    import ir_measures

    parsed = []
    for name in names:
        if not isinstance(name, str):
            raise OtclirError(f"a measure is a name such as AP or nDCG@10, got {name!r}")
        try:
            measure = ir_measures.parse_measure(name)
        except (NameError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise OtclirError(f"unknown measure '{name}' ({err}); examples: AP, nDCG@10, RR@10, R@100, P@10, Success@1") from None
        cutoff = measure.params.get("cutoff")
        if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 1):
            raise OtclirError(f"measure '{name}' has cutoff {cutoff!r}; a cutoff is a whole number of at least 1 "
                              "(nDCG@10, P@5)")
        parsed.append(measure)
    return parsed


FAST = re.compile(r"^(AP|RR@\d+|nDCG@\d+|R@\d+|P@\d+)$")  # measures :func:`ranked_measures` computes itself


def ranked_measures(qrels: trec.Qrels, run: trec.Run, measures) -> pd.DataFrame | None:
    """The measures of :func:`per_query` computed from each query's ranks with NumPy, as trec_eval
    computes them (documents by descending score, ties by descending id; AP over every relevant
    document of the qrels; nDCG's gains the grades), or None when a measure is not one of these.
    One ranking serves every measure: ir_measures computes RR@k with another tool that breaks
    ties by another rule, so RR@k can differ from it where a relevant document ties in score."""
    import numpy as np

    checks.judgments(qrels)
    checks.run_scores(run)
    names = [str(m) for m in parse_measures(measures)]
    if not all(FAST.match(n) for n in names):
        return None
    judged = sorted(q for q, docs in qrels.items() if any(r > 0 for r in docs.values()))
    table = pd.DataFrame(0.0, index=pd.Index(judged, name="query"), columns=names)
    cuts = {n: int(n.split("@")[1]) for n in names if "@" in n}
    missing = []
    values = np.zeros((len(judged), len(names)))
    for row, query in enumerate(judged):
        scores = run.get(query) or {}
        if not scores:
            missing.append(query)
            continue
        grades = {d: r for d, r in qrels[query].items() if r > 0}
        values_of = np.fromiter(scores.values(), float, len(scores))
        ranks, found = [], []
        for doc, grade in grades.items():  # a document's rank: those scored higher, then ties by descending id
            score = scores.get(doc)
            if score is None:
                continue
            tied = values_of == score
            rank = 1 + int((values_of > score).sum())
            if tied.sum() > 1:
                rank += sum(1 for other, value in scores.items() if value == score and other > doc)
            ranks.append(rank)
            found.append(grade)
        order = np.argsort(ranks, kind="stable")
        positions = np.array(ranks, dtype=float)[order]
        found_grades = np.array(found, dtype=float)[order]
        relevant = len(grades)
        ideal = np.sort(np.fromiter(grades.values(), float))[::-1]
        for column, name in enumerate(names):
            kind = name.split("@")[0]
            k = cuts.get(name)
            if kind == "AP":
                value = float((np.arange(1, len(positions) + 1) / positions).sum() / relevant)
            elif kind == "RR":
                value = float(1.0 / positions[0]) if len(positions) and positions[0] <= k else 0.0
            elif kind == "R":
                value = float((positions <= k).sum() / relevant)
            elif kind == "P":
                value = float((positions <= k).sum() / k)
            else:  # nDCG@k
                top = positions <= k
                dcg = float((found_grades[top] / np.log2(positions[top] + 1)).sum())
                best = ideal[:k]
                value = dcg / float((best / np.log2(np.arange(2, len(best) + 2))).sum())
            values[row, column] = value
    table.loc[:, :] = values
    table.attrs["missing_queries"] = missing
    return table


def per_query(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> pd.DataFrame:
    """One row per judged query, one column per measure; a query missing from the run scores 0
    (as trec_eval -c). The usual measures are computed from the ranks directly (equal to
    pytrec_eval's, a test checks it); any other goes through ir_measures.

    >>> per_query({'q1': {'d1': 1}, 'q2': {'d3': 1}}, {'q1': {'d1': 0.9, 'd2': 0.5}}, ['AP']).to_dict()
    {'AP': {'q1': 1.0, 'q2': 0.0}}
    """
    fast = ranked_measures(qrels, run, measures)
    return fast if fast is not None else trec_eval_measures(qrels, run, measures)


def trec_eval_measures(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> pd.DataFrame:
    """:func:`per_query` through ir_measures' pytrec_eval backend (the reference)."""
    import ir_measures

    checks.judgments(qrels)
    checks.run_scores(run)
    parsed = parse_measures(measures)
    judged = sorted(q for q, docs in qrels.items() if any(r > 0 for r in docs.values()))
    table = pd.DataFrame(0.0, index=pd.Index(judged, name="query"), columns=[str(m) for m in parsed])
    present = {q: docs for q, docs in run.items() if q in qrels and docs}
    if present:
        evaluator = ir_measures.evaluator(parsed, {q: qrels[q] for q in judged})
        for metric in evaluator.iter_calc(present):
            if metric.query_id in table.index:
                table.loc[metric.query_id, str(metric.measure)] = float(metric.value)
    table.attrs["missing_queries"] = sorted(set(judged) - set(present))
    return table


def evaluate(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> dict[str, float]:
    """Mean of each measure over every judged query (missing ones scored 0).

    >>> evaluate({'q1': {'d1': 1}}, {'q1': {'d2': 0.9, 'd1': 0.5}}, ['AP', 'RR@10'])
    {'AP': 0.5, 'RR@10': 0.5}
    """
    return per_query(qrels, run, measures).mean().to_dict()


def save_system(folder: Path, system: str, run: trec.Run, qrels: trec.Qrels, measures=DEFAULT_MEASURES,
                run_depth: int | None = None) -> dict:
    """Write ``<system>.run`` (TREC; each query's top ``run_depth``, all it ranks by default) and
    ``<system>.perquery.tsv`` (measured on the whole run) under ``folder``; return the means."""
    checks.plain_name(system, "a system's name")
    checks.run_scores(run)
    checks.judgments(qrels)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = run if run_depth is None else {q: dict(trec.ranked(docs)[:run_depth]) for q, docs in run.items()}
    trec.write_run(folder / f"{system}.run", written, tag=system)
    table = per_query(qrels, run, measures)
    table.to_csv(folder / f"{system}.perquery.tsv", sep="\t", float_format="%.6f")
    return table.mean().to_dict()
