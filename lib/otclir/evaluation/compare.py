"""The engine of ``otclir eval`` and ``otclir compare``: per-query measures of several TREC runs
over one qrels file, and each run against a baseline with paired intervals, corrected p-values and
markers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from otclir import checks
from otclir.data import trec
from otclir.errors import OtclirError
from otclir.evaluation.stats import compare_to_baseline
from otclir.evaluation.power import family_level, minimum_detectable_effect
from otclir.retrieval.measures import parse_measures, per_query


def system_name(path: Path | str) -> str:
    """A run file's name without its file suffixes: ``bm25.run.gz`` -> ``bm25``.

    >>> system_name('runs/distill-ot@2000.run.gz')
    'distill-ot@2000'
    """
    checks.path(path, "a run's path")
    name = Path(path).name
    for suffix in (".gz", ".run", ".txt", ".trec", ".tsv"):
        name = name.removesuffix(suffix)
    return name or Path(path).name


def load_measures(qrels_path, run_paths, measures, allow_missing: bool = True) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per measure, a (queries x systems) table. A judged query a run misses scores 0 (as
    trec_eval -c) and is reported in the notes; with ``allow_missing=False`` it is an error instead
    (a comparison would count the missing queries as losses).

    >>> import tempfile, pathlib
    >>> from otclir.data.trec import write_qrels, write_run
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> qrels = write_qrels(folder / 'qrels.txt', {'q1': {'d1': 1}, 'q2': {'d2': 1}})
    >>> run = write_run(folder / 'bm25.run', {'q1': {'d1': 0.9, 'd2': 0.1}, 'q2': {'d1': 0.8, 'd2': 0.5}}, tag='bm25')
    >>> tables, notes = load_measures(qrels, [run], ['AP'])
    >>> tables['AP'].to_dict()
    {'bm25': {'q1': 1.0, 'q2': 0.5}}
    """
    parse_measures(measures)
    duplicated = sorted({m for m in measures if list(measures).count(m) > 1})
    if duplicated:
        raise OtclirError(f"measure(s) {', '.join(duplicated)} given twice; name each once")
    qrels = trec.read_qrels(qrels_path)
    if not qrels:
        raise OtclirError(f"{qrels_path} holds no judgments")
    if not any(r > 0 for docs in qrels.values() for r in docs.values()):
        raise OtclirError(f"{qrels_path} judges no document relevant (every grade is 0 or less); every measure "
                          "would be undefined: give qrels with relevant documents")
    tables: dict[str, dict[str, pd.Series]] = {m: {} for m in measures}
    notes = []
    run_paths = list(dict.fromkeys(Path(p).resolve() for p in run_paths))  # the same file named twice counts once
    names = [system_name(p) for p in run_paths]
    if len(set(names)) != len(names):
        raise OtclirError(f"two runs share a name: {sorted(n for n in names if names.count(n) > 1)}; rename one file")
    for path, name in zip(run_paths, names):
        table = _run_measures(path, qrels, qrels_path, measures)
        missing = table.attrs["missing_queries"]
        if missing and not allow_missing:
            raise OtclirError(f"{path} misses {len(missing)} of {len(table)} judged queries (e.g. {', '.join(missing[:3])}); "
                              "a paired comparison would count them as losses. Rank every judged query, or pass "
                              "--allow-missing to score them 0 (trec_eval -c)")
        if missing:
            notes.append(f"{name}: {len(missing)} of {len(table)} judged queries missing from the run, scored 0")
        for measure in measures:
            tables[measure][name] = table[str(parse_measures([measure])[0])]
    return {m: pd.DataFrame(cols) for m, cols in tables.items()}, notes


def _run_measures(path, qrels, qrels_path, measures) -> pd.DataFrame:
    """:func:`per_query` of one run file, read a block of queries at a time (memory stays at one
    block, not the run), whole when its queries' lines are not together; judged queries the run
    misses score 0 and are listed in ``attrs["missing_queries"]``."""
    try:
        blocks = list(_block_measures(path, qrels, qrels_path, measures))
    except trec.UngroupedRunError:
        blocks = list(_block_measures(path, qrels, qrels_path, measures, [trec.read_run(path)]))
    seen = set().union(*(b.attrs["ranked"] for b in blocks))
    missing = {q: qrels[q] for q in qrels if q not in seen}
    rest = per_query(missing, {}, measures) if missing else None
    table = pd.concat([*(b for b in blocks), *([rest] if rest is not None else [])]).sort_index()
    table.attrs["missing_queries"] = sorted(rest.attrs["missing_queries"]) if rest is not None else []
    return table


def _block_measures(path, qrels, qrels_path, measures, runs=None):
    empty = True
    for run in runs if runs is not None else trec.read_run_blocks(path):
        empty = False
        foreign = sorted(set(run) - set(qrels))
        if foreign:
            raise OtclirError(f"{path} ranks {len(foreign)} queries that {qrels_path} does not judge "
                              f"(e.g. {', '.join(foreign[:3])}): runs and qrels must cover the same query set")
        block = per_query({q: qrels[q] for q in run}, run, measures)
        block.attrs["ranked"] = set(run)
        yield block
    if empty:
        raise OtclirError(f"{path} is an empty run")


def significance(tables: dict[str, pd.DataFrame], baseline: str, test: str = "randomization",
                 correction: str = "holm", alpha: float = 0.05, n_permutations: int = 10_000, seed: int = 0,
                 power: bool = False) -> pd.DataFrame:
    """One row per system; per measure its mean, the difference to the baseline with its 95%
    bootstrap interval, the corrected p-value and a marker (+ better, - worse, significant).
    ``power`` adds what each comparison could have seen: the minimum detectable difference at 80%
    power (``mde``, at the corrected level of the family's first Holm or Bonferroni step) and the
    queries that would detect the observed difference (``queries_needed``).

    >>> import pandas as pd
    >>> per_query = pd.DataFrame({'bm25': [0.1, 0.2, 0.3, 0.4, 0.5], 'ot': [0.3, 0.4, 0.4, 0.6, 0.7]})
    >>> table = significance({'AP': per_query}, 'bm25', n_permutations=999)
    >>> table.loc['ot', ('AP', 'sig')], round(float(table.loc['ot', ('AP', 'diff')]), 2)
    ('+', 0.18)
    """
    checks.named_frames(tables, "tables")
    checks.level(alpha, "alpha")
    checks.whole(n_permutations, "--permutations", 0)
    checks.whole(seed, "--seed", None)
    checks.one_of(test, "test", ("t", "randomization"))
    if not 0 < alpha < 1:
        raise OtclirError(f"alpha is a significance level in (0, 1), got {alpha}")
    if n_permutations < 100:
        raise OtclirError(f"--permutations must be at least 100 (p-values are no finer than 1/(permutations + 1)), got {n_permutations}")
    if seed < 0:
        raise OtclirError(f"--seed must be 0 or more, got {seed}")
    queries = len(next(iter(tables.values()))) if tables else 0
    if queries < 2:
        raise OtclirError(f"a paired comparison needs at least 2 judged queries, the qrels judge {queries}; give "
                          "qrels with more queries")
    frames = []
    for measure, table in tables.items():
        if len(table.columns) < 2:
            raise OtclirError("a comparison needs at least one run besides the baseline")
        if baseline not in table.columns:
            raise OtclirError(f"baseline '{baseline}' is not among the runs: {', '.join(table.columns)}")
        result = compare_to_baseline(table, baseline, test, correction, alpha, n_permutations, seed=seed)
        marker = np.where(result.significant & (result["diff"] > 0), "+",
                          np.where(result.significant & (result["diff"] < 0), "-", ""))
        part = pd.DataFrame({"mean": result["mean"], "diff": result["diff"], "diff_ci_low": result.diff_ci_low,
                             "diff_ci_high": result.diff_ci_high, "p_adjusted": result.p_adjusted, "sig": marker},
                            index=result.index)
        if power:
            compared = [name for name in table.columns if name != baseline]
            level = alpha if correction == "none" else family_level(alpha, len(compared))
            seen = {name: minimum_detectable_effect(table[name].to_numpy(), table[baseline].to_numpy(), level)
                    for name in compared}
            part["mde"] = [seen[name]["mde"] if name in seen else np.nan for name in part.index]
            part["queries_needed"] = [seen[name]["queries_needed"] if name in seen else np.nan for name in part.index]
        part.columns = pd.MultiIndex.from_product([[measure], part.columns])
        frames.append(part)
    out = pd.concat(frames, axis=1)
    out.attrs.update(baseline=baseline, test=test, correction=correction, alpha=alpha, power=power,
                     queries=len(next(iter(tables.values()))))
    return out
