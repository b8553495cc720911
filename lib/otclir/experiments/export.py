"""The runs a profile's stored results keep (notebook 03's ``archive_languages``), exported with
their judgments as TREC files that ``otclir eval``/``compare``, ranx, ir_measures and trec_eval
read: ``<folder>/<task>/en-<language>/qrels.txt`` beside each system's ``<system>.<scorer>.run.gz``.

The qrels are rebuilt from the installed data with the stored settings (the same task builder
notebook 03 evaluated with), so they hold verse identifiers only; the runs are copied as stored,
each query's top ``archive_depth`` documents, so measures read from them are measures at that
depth, not the whole-pool numbers the notebooks report.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from otclir.errors import OtclirError
from otclir.paths import outputs_dir, relative_to_root

NOTEBOOK = "03_distillation_training"


def export_runs(profile: str = "paper", folder: Path | None = None, tasks=None,
                languages=None) -> tuple[list[Path], int]:
    """Write the stored runs of ``profile`` and their qrels under ``folder`` (default
    ``outputs/export/<profile>/``), for the named tasks and languages (default: all kept);
    returns the folders written and the runs' depth."""
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
        written.append(out)
    return written, settings.archive_depth


def describe_export(written: list[Path], depth: int) -> str:
    lines = [f"{relative_to_root(p)}: qrels.txt and {len(list(p.glob('*.run.gz')))} runs" for p in written]
    return "\n".join(lines) + f"\nruns hold each query's top {depth} documents: measures read from them are at that depth"
