"""Measures of TREC runs through ir_measures (pytrec_eval backend): per query, means, and a
system's run and scores saved side by side."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

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


def per_query(qrels: trec.Qrels, run: trec.Run, measures=DEFAULT_MEASURES) -> pd.DataFrame:
    """One row per judged query, one column per measure; a query missing from the run scores 0
    (as trec_eval -c)."""
    import ir_measures

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
    """Mean of each measure over every judged query (missing ones scored 0)."""
    return per_query(qrels, run, measures).mean().to_dict()


def save_system(folder: Path, system: str, run: trec.Run, qrels: trec.Qrels, measures=DEFAULT_MEASURES) -> dict:
    """Write ``<system>.run`` (TREC) and ``<system>.perquery.tsv`` under ``folder``; return the means."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trec.write_run(folder / f"{system}.run", run, tag=system)
    table = per_query(qrels, run, measures)
    table.to_csv(folder / f"{system}.perquery.tsv", sep="\t", float_format="%.6f")
    return table.mean().to_dict()
