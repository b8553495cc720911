"""The runs a profile's stored results keep (notebook 03's ``archive_languages``), exported with
their judgments as TREC files that ``otclir eval``/``compare``, ranx, ir_measures and trec_eval
read: ``<folder>/<task>/en-<language>/qrels.txt`` beside each system's ``<system>.<scorer>.run.gz``.

The qrels are rebuilt from the installed data with the stored settings (the same task builder
notebook 03 evaluated with), so they hold verse identifiers only; the runs are copied as stored,
each query's top ``archive_depth`` documents. Beside each run, ``<system>.<scorer>.metadata.yaml``
describes it in the PRIMAD terms of ir_metadata (Breuer et al. 2022: platform, implementation,
method, data, and the run's depth and seed); a sidecar rather than comment lines in the run, which
trec_eval and most run readers refuse. Every export says which stored measures its runs reproduce:
those cut at or above the depth (nDCG@10, RR@10 at depth 10) are recomputed from the exported files
and compared with the stored per-query values; measures over the whole ranking (AP, R@100) are
not reproducible from a top-10 run, and the export says so.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from otclir.errors import OtclirError
from otclir.paths import outputs_dir, relative_to_root

NOTEBOOK = "03_distillation_training"


def export_runs(profile: str = "paper", folder: Path | None = None, tasks=None,
                languages=None) -> tuple[list[Path], int, dict]:
    """Write the stored runs of ``profile`` and their qrels under ``folder`` (default
    ``outputs/export/<profile>/``), for the named tasks and languages (default: all kept);
    returns the folders written, the runs' depth and, per stored measure, what reading the
    exported runs gives (:func:`reproduced_measures`)."""
    from otclir.data import trec
    from otclir.experiments.distillation import SETTINGS_FILE, ExperimentSettings
    from otclir.experiments.headline import evaluation_tasks
    from otclir.experiments.results import ResultStore

    store = ResultStore(profile, NOTEBOOK)
    store.require()
    settings = ExperimentSettings(**store.read_json(SETTINGS_FILE))
    kept = sorted(p for p in (store.folder / "runs").glob("*/en-*") if p.is_dir())
    if not kept:
        raise OtclirError(f"the stored results of profile '{profile}' keep no runs; notebook 03 keeps them for the "
                          "languages its archive_languages setting names")
    chosen = [p for p in kept if (tasks is None or p.parent.name in tasks)
              and (languages is None or p.name.removeprefix("en-") in languages)]
    if not chosen:
        have = ", ".join(f"{p.parent.name} {p.name}" for p in kept)
        raise OtclirError(f"no stored runs for tasks {tasks or 'any'} and languages {languages or 'any'}; kept: {have}")
    # every run checked against provenance.json before anything is written: a damaged or altered
    # run is refused, never exported as if whole
    runs = {source: [store.checked_path(str(run.relative_to(store.folder))) for run in sorted(source.glob("*.run.gz"))]
            for source in chosen}
    target = Path(folder) if folder is not None else outputs_dir("export", profile)
    written = []
    for source in chosen:
        task, language = source.parent.name, source.name.removeprefix("en-")
        built = evaluation_tasks(language, [task], settings.test_queries, settings.test_docs, settings.seed,
                                 settings.collection)
        out = target / task / source.name
        out.mkdir(parents=True, exist_ok=True)
        trec.write_qrels(out / "qrels.txt", next(iter(built.values())).qrels)
        for run in runs[source]:
            shutil.copyfile(run, out / run.name)
            (out / run.name.replace(".run.gz", ".metadata.yaml")).write_text(
                run_metadata(run.name, task, language, settings, store.provenance()), encoding="utf-8")
        written.append(out)
    per_query = {language: store.read_table(f"perquery_en-{language}.csv.gz", dtype={"query": str})
                 for language in sorted({p.name.removeprefix("en-") for p in written})}
    return written, settings.archive_depth, reproduced_measures(written, per_query, settings)


def run_metadata(name: str, task: str, language: str, settings, provenance: dict) -> str:
    """One exported run described in ir_metadata's PRIMAD terms, as YAML."""
    import yaml

    from otclir.retrieval.system_names import split_seed

    system, scorer = name.removesuffix(".run.gz").rsplit(".", 1)
    seeded = split_seed(system)[1] is None and system.startswith("distill-")
    record = {
        "tag": f"{system}.{scorer}",
        "platform": {"software": {"python": provenance.get("python"), "libraries": provenance.get("packages", {})},
                     "hardware": provenance.get("machine", {})},
        "implementation": {"source": {"repository": "otclir", "commit": (provenance.get("git") or {}).get("commit")}},
        "method": {"system": system, "scorer": scorer, "rerank_depth": settings.rerank_depth,
                   **({"training_seed": settings.student_seeds[0]} if seeded else {})},
        "data": {"test_collection": {"name": f"bible-{task}", "queries": "en", "documents": language, "split": "test",
                                     "qrels": "qrels.txt"}},
        "run": {"depth": settings.archive_depth, "computed": provenance.get("date")},
    }
    return yaml.safe_dump(record, sort_keys=False, allow_unicode=True)


def reproduced_measures(written: list[Path], per_query: dict, settings) -> dict[str, str]:
    """Per stored measure: the largest difference between the per-query values read from the
    exported runs and the stored ones (those cut at or above the runs' depth), or why it cannot be
    read from them (measures over the whole ranking)."""
    import re

    from otclir.data import trec
    from otclir.retrieval.measures import per_query as measure

    stored_measures = [c for c in next(iter(per_query.values())).columns if re.fullmatch(r"[A-Za-z]+(@\d+)?", c)
                       and c not in ("query", "task", "system", "scorer", "seed", "language")]
    cut = {m: int(m.split("@")[1]) for m in stored_measures if "@" in m and m.split("@")[0] in ("nDCG", "RR", "P")}
    readable = [m for m in stored_measures if m in cut and cut[m] <= settings.archive_depth]
    out = {m: f"not reproducible from runs of depth {settings.archive_depth}: it reads the whole ranking"
           for m in stored_measures if m not in readable}
    largest = dict.fromkeys(readable, 0.0)
    first = settings.student_seeds[0]
    for folder in written:
        task, language = folder.parent.name, folder.name.removeprefix("en-")
        qrels = trec.read_qrels(folder / "qrels.txt")
        table = per_query[language]
        for path in sorted(folder.glob("*.run.gz")):
            system, scorer = path.name.removesuffix(".run.gz").rsplit(".", 1)
            rows = table[(table.task == task) & (table.system == system) & (table.scorer == scorer)]
            if rows.seed.notna().any():
                rows = rows[rows.seed == first]
            values = measure(qrels, trec.read_run(path), readable)
            stored = rows.set_index("query")[readable].reindex(values.index)
            for m in readable:
                largest[m] = max(largest[m], float((values[m] - stored[m]).abs().max()))
    out.update({m: f"reproduced from the runs (largest per-query difference {largest[m]:.1e})" for m in readable})
    return out


def describe_export(written: list[Path], depth: int, measures: dict[str, str]) -> str:
    lines = [f"{relative_to_root(p)}: qrels.txt and {len(list(p.glob('*.run.gz')))} runs, each with its "
             "metadata.yaml" for p in written]
    lines.append(f"runs hold each query's top {depth} documents (a student's first training seed); the stored measures:")
    lines += [f"  {m}: {what}" for m, what in measures.items()]
    return "\n".join(lines)
