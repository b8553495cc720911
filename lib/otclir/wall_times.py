"""The wall time of each part of a profile's stored results, read from what each part recorded
when it was computed (so a recompute that spanned sessions is summed part by part): notebook 02's
alignment, notebook 03's recipe study (per configuration) and headline (per language), notebook
04's grid and larger budget (per configuration: training and evaluation) and notebook 05's language
sweep (per language trained). Notebooks 01 and 05 compute nothing stored; they take minutes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from otclir.paths import PAPER_PROFILE


@dataclass
class PartTime:
    """One part of a profile: its name, what was timed, seconds (None where nothing was recorded),
    the commits it ran at and the machine."""

    part: str
    units: str
    seconds: float | None
    commits: set[str]
    machine: str
    note: str = ""


def _machine(record: dict) -> str:
    machine = record.get("machine") or {}
    gpus = machine.get("gpus") or []
    return (", ".join(gpus) if gpus else f"{machine.get('cpu', '?')} ({machine.get('cpu_count', '?')} cores)")


def commits_of(record) -> set[str]:
    """Every commit a provenance record names (short): its run's and those of parts it reused."""
    if isinstance(record, dict):
        found = {record["commit"][:7]} if isinstance(record.get("commit"), str) else set()
        return found.union(*(commits_of(value) for value in record.values()))
    if isinstance(record, list):
        return set().union(*(commits_of(value) for value in record))
    return set()


def _read(store, name: str) -> dict:
    return json.loads(store.path(name).read_text(encoding="utf-8"))


def alignment_part(store) -> list[PartTime]:
    record = _read(store, "provenance.json")
    return [PartTime("02 OT alignment", "one run", record.get("wall_seconds"), commits_of(record), _machine(record))]


def distillation_parts(store) -> list[PartTime]:
    """Notebook 03: the recipe study and the headline, each language on its own where recorded."""
    record = _read(store, "provenance.json")
    parts = []
    if store.path("study_provenance.json").is_file():
        study = _read(store, "study_provenance.json")
        points = store.read_table("study.csv")
        if "config_seconds" in points:  # each configuration's time, summed across the runs that computed them
            seconds = float(points.groupby("config").config_seconds.first().sum())
            units = f"{points.config.nunique()} configurations"
        else:
            seconds, units = study.get("wall_seconds"), "one run"
        parts.append(PartTime("03 recipe study", units, seconds, commits_of(study), _machine(study)))
    languages = record.get("settings", {}).get("languages", [])
    timed = record.get("language_seconds") or {}
    if timed:
        commits = {c[:7] for c in (record.get("language_commits") or {}).values() if c} or commits_of(record)
        seconds = float(sum(timed.values()))
        note = ""
    else:  # recorded before each language's time was: the run's own time; reused languages not counted
        resumed = record.get("resumed_languages") or {}
        commits = commits_of(record)
        seconds = record.get("wall_seconds")
        if parts and seconds is not None and parts[0].commits == commits_of(record.get("git")):  # the study ran in the same run
            seconds -= parts[0].seconds or 0
        note = f"{', '.join(sorted(resumed))} reused from an earlier run, its time not recorded" if resumed else ""
    parts.append(PartTime("03 headline", f"{len(languages)} languages", seconds, commits, _machine(record), note))
    return parts


def grid_part(store, name: str) -> list[PartTime]:
    """Notebook 04's grid or its larger budget: every configuration's training and evaluation."""
    record = _read(store, "provenance.json")
    summary = store.read_table("summary.csv")
    keys = [k for k in ("system", "alpha", "ot_weight", "train_pairs", "seed") if k in summary]
    configs = summary.groupby(keys, dropna=False)[["train_seconds", "evaluate_seconds"]].first()
    seconds = float(configs.sum().sum())
    return [PartTime(name, f"{len(configs)} configurations", seconds, commits_of(record), _machine(record))]


def sweep_part(store) -> list[PartTime]:
    record = _read(store, "provenance.json")
    sources = store.read_table("sources.csv")
    trained = sources[sources["from"] == "sweep"]
    commits = {c[:7] for c in trained.get("commit", pd.Series(dtype=str)).dropna()}
    return [PartTime("05 language sweep", f"{len(trained)} languages trained", float(trained.seconds.sum()), commits,
                     _machine(record), f"{len(sources) - len(trained)} read from notebook 03")]


def regime_part(store) -> list[PartTime]:
    record = _read(store, "provenance.json")
    configurations = store.read_table("configurations.csv")
    return [PartTime("04 regime probe", f"{len(configurations)} configurations", float(configurations.train_seconds.sum()),
                     commits_of(record), _machine(record))]


READERS = {"02_ot_alignment": alignment_part, "03_distillation_training": distillation_parts,
           "04_hybrid_batch_ablations": lambda s: grid_part(s, "04 hybrid grid"),
           "04_hybrid_batch_ablations.larger_budget": lambda s: grid_part(s, "04 larger budget"),
           "03_distillation_training.languages": sweep_part,
           "04_hybrid_batch_ablations.regime": regime_part,
           "04_hybrid_batch_ablations.regime_grid": lambda s: grid_part(s, "04 regime grid")}  # by store folder, in the order a recompute runs them


def store_parts(store) -> list[PartTime]:
    """The parts of one stored result (none where it is not stored)."""
    reader = READERS.get(store.folder.name)
    return reader(store) if reader is not None and store.exists() else []


def part_times(profile: str = PAPER_PROFILE) -> list[PartTime]:
    """Every stored part of ``profile`` with its recorded wall time, in the order a recompute runs them."""
    from otclir.experiments.stores import stored_results

    stores = stored_results(profile)
    return [part for name in READERS if name in stores for part in store_parts(stores[name])]


def stored_by(record: dict) -> str:
    """When, at which commit and on what a stored result was written. Unlike the provenance's own
    description it leaves out the storing run's minutes: a run that resumed staged parts stores in
    seconds what took hours, so the time is each part's (:func:`recorded_time`)."""
    git, packages = record.get("git", {}), record.get("packages", {})
    dirty = " with uncommitted changes" if git.get("uncommitted_changes") else ""
    return (f"stored on {record.get('date')} at commit {(git.get('commit') or 'unknown')[:10]}{dirty} on "
            f"{_machine(record)}; torch {packages.get('torch')}, transformers {packages.get('transformers')}.")


def recorded_time(store) -> str:
    """One sentence: the wall time each part of a stored result recorded when it was computed."""
    parts = store_parts(store)
    if not parts:
        return ""
    timed = [f"{p.part} {'not recorded' if p.seconds is None else f'{p.seconds / 60:.0f} min'} ({p.units})"
             for p in parts]
    commits = sorted(set().union(*(p.commits for p in parts)))
    return (f"Wall time recorded by its parts: {', '.join(timed)}; at commit{'s' if len(commits) > 1 else ''} "
            f"{', '.join(commits)}.")


def wall_time_table(profile: str = PAPER_PROFILE) -> list[str]:
    """Markdown: each part's recorded wall time, the commits it ran at and the machine, and the sum."""
    parts = part_times(profile)
    if not parts:
        return []
    rows = []
    for part in parts:
        time = "not recorded" if part.seconds is None else f"{part.seconds / 60:.0f} min"
        note = f" ({part.note})" if part.note else ""
        rows.append(f"| {part.part} | {part.units}{note} | {time} | {', '.join(sorted(part.commits))} | {part.machine} |")
    known = [p.seconds for p in parts if p.seconds is not None]
    commits = set().union(*(p.commits for p in parts))
    one = "one commit" if len(commits) == 1 else f"{len(commits)} commits"
    return ["", f"The wall time each part recorded when it was computed (summed over its parts where a run "
                f"spanned sessions); together {sum(known) / 3600:.1f} h at {one}"
                + (", some parts not recorded" if len(known) < len(parts) else "") + ".", "",
            "| part | timed | wall time | commits | machine |", "| --- | --- | --- | --- | --- |", *rows]
