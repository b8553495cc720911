"""Finished configurations of a hybrid-batch grid, kept beside its results so a recomputation that
spans sessions resumes where the last one stopped.

A grid configuration is finished when its folder under ``outputs/ablation/<grid>/`` holds its
tables and its record (:func:`otclir.experiments.ablation.run_point`); ``outputs/`` is lost with
a fresh clone. :func:`stage_finished` copies what reading a finished configuration needs (its
summary and per-query tables, timing, training log and record; not its students) to
``results/.staging/<profile>/<store>.parts/<folder>/`` (``<store>`` names the results store the grid
goes to: ``04_hybrid_batch_ablations``, or its larger-budget grid's), with the commit and
date it ran at; that folder may be committed. :func:`restore_staged` puts staged configurations
back where ``run_point`` looks, before a run. A configuration's folder name is a digest of its
whole record, its settings and the fingerprint of the code that computes it, so a part staged by
other code or settings is never found there and is computed again, never kept.
"""
from __future__ import annotations

import datetime
import gzip
import json
import shutil
from pathlib import Path

from otclir.experiments.results import STAGING, results_root

NOTEBOOK = "04_hybrid_batch_ablations"
TABLES = ("summary.tsv", "perquery.tsv", "timing.json")
LOG = "train/log.jsonl"
RECORD = "config.json"  # copied last: its presence marks a staged configuration whole
PART = "part.json"


def parts_folder(profile: str, store: str = NOTEBOOK) -> Path:
    """Where the parts of the grid whose results go to the results store ``store`` are staged."""
    return results_root() / STAGING / profile / f"{store}.parts"


def _finished(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (*TABLES, RECORD))


def _copy(source: Path, target: Path) -> None:
    """A file copied, gzip-compressed (``.gz`` added, fixed timestamp) when it is a table."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".tsv":
        with open(source, "rb") as handle, open(target.with_name(target.name + ".gz"), "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
            shutil.copyfileobj(handle, out)
    else:
        shutil.copyfile(source, target)


def stage_finished(grid_folder: Path, profile: str, git: dict | None = None, store: str = NOTEBOOK) -> list[str]:
    """Stage every finished configuration of the grid in ``grid_folder`` not staged yet, recording
    ``git``, the code's state when the run began (default: now); returns the folder names staged."""
    from otclir.experiments.provenance import git_state

    git = git or git_state()
    staged = []
    target_root = parts_folder(profile, store)
    for folder in sorted(p for p in Path(grid_folder).iterdir() if p.is_dir() and _finished(p)):
        target = target_root / folder.name
        if (target / RECORD).is_file():
            continue
        for name in (*TABLES, LOG):
            if (folder / name).is_file():
                _copy(folder / name, target / name)
        (target / PART).write_text(json.dumps({
            "git": git, "staged": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
            indent=1, sort_keys=True) + "\n")
        shutil.copyfile(folder / RECORD, target / RECORD)
        staged.append(folder.name)
    return staged


def restore_staged(grid_folder: Path, profile: str, store: str = NOTEBOOK) -> list[str]:
    """Put each staged configuration into ``grid_folder`` where none is finished under its name;
    returns the folder names restored."""
    restored = []
    source_root = parts_folder(profile, store)
    if not source_root.is_dir():
        return restored
    for source in sorted(p for p in source_root.iterdir() if (p / RECORD).is_file()):
        folder = Path(grid_folder) / source.name
        if _finished(folder):
            continue
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name not in (RECORD, PART):
                relative = path.relative_to(source)
                target = folder / relative.parent / relative.name.removesuffix(".gz")
                target.parent.mkdir(parents=True, exist_ok=True)
                opener = gzip.open if path.suffix == ".gz" else open
                with opener(path, "rb") as handle, open(target, "wb") as out:
                    shutil.copyfileobj(handle, out)
        shutil.copyfile(source / RECORD, folder / RECORD)
        restored.append(source.name)
    return restored


def staged_parts(profile: str, store: str = NOTEBOOK) -> dict[str, dict]:
    """Each staged configuration's folder name with the commit and date it was staged at."""
    root = parts_folder(profile, store)
    if not root.is_dir():
        return {}
    return {p.name: json.loads((p / PART).read_text()) for p in sorted(root.iterdir()) if (p / PART).is_file()}


def remove_parts(profile: str, store: str = NOTEBOOK) -> None:
    """Drop the staged configurations once the grid's results are stored whole."""
    shutil.rmtree(parts_folder(profile, store), ignore_errors=True)


def store_staged(grid, store, profile: str, log=print, workers: int = 1) -> dict:
    """Train (or resume), evaluate and store a grid whose results go to ``store`` alone:
    configurations an earlier session staged are restored first, each one is staged as it
    finishes, and the parts are dropped once the results are stored whole."""
    from otclir.experiments.ablation import store_grid

    name = store.folder.name
    restored = restore_staged(grid.folder(), profile, name)
    if restored:
        log(f"{len(restored)} finished configuration(s) restored from the staging folder")

    def staged(message: str) -> None:
        log(message)
        stage_finished(grid.folder(), profile, store.git_at_start(), store=name)

    record = store_grid(grid, store, log=staged, progress=False, workers=workers)
    remove_parts(profile, name)
    return record
