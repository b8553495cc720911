"""Which stored parts of a profile are current, stale or missing, and what bringing it up to date costs.

A stored part is current while its key (:mod:`otclir.experiments.code_reach`: the functions its
computation reaches, the data files they name, the package versions that change numbers) equals
the key recorded in its ``code.json``; otherwise it is stale, and the recorded key says which
function, data file or version changed. A part never stored is missing. Minutes are what each part
recorded when it was computed (:mod:`otclir.wall_times`). Readings (statistics, tables, figures,
the summary) are not parts: every ``make reproduce`` recomputes them from the parts.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from otclir.paths import PAPER_PROFILE


@dataclass
class PartState:
    part: str  # what the part computes, as the wall-time table names it
    store: str  # results/<profile>/<store>/
    state: str  # "current", "stale" or "missing"
    minutes: float | None  # recorded wall time (None: not recorded, or never computed)
    changes: list[str] = field(default_factory=list)  # for a stale part: what differs from its recorded key


STATES = ("current", "stale", "missing")


def recorded_key(store) -> dict:
    """The key a stored part recorded (``code.json``; a part stored before keys named their units
    holds only its fingerprint)."""
    path = store.path("code.json")
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def store_state(store, declared: dict | None = None) -> tuple[str, list[str]]:
    """One store's state ("current", "stale" or "missing") and, for a stale one, what changed:
    its code's key, or (with ``declared``, the settings the profile declares for it now) its
    settings."""
    from otclir.experiments.provenance import store_key

    if not store.exists():
        return "missing", []
    changes = settings_changes(store, declared) if declared is not None else []
    now, recorded = store_key(store.notebook), recorded_key(store)
    if now is not None and recorded.get("code") != now.fingerprint:
        changes += (now.changes(recorded) if "units" in recorded else
                    [f"recorded key {recorded.get('code')} names no units: recompute it"])
    return ("stale", changes) if changes else ("current", [])


def settings_changes(store, declared: dict) -> list[str]:
    """The settings a store was computed with that differ from those the profile declares now."""
    from otclir.settings import as_json

    path = store.path("settings.json")
    try:
        stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        stored = {}
    asked = as_json(declared)
    return [f"setting {key}: stored {stored.get(key)!r}, declared {asked.get(key)!r}"
            for key in sorted(set(stored) | set(asked)) if stored.get(key) != asked.get(key)]


def profile_status(profile: str = PAPER_PROFILE) -> list[PartState]:
    """Every part the profile stores, in the order a recompute runs them."""
    from otclir.experiments.stores import stored_results
    from otclir.wall_times import READERS, store_parts

    from otclir.runner import declared_settings

    stores, declared = stored_results(profile), declared_settings(profile)
    rows = []
    for name in [n for n in READERS if n in stores] + [n for n in stores if n not in READERS]:
        store = stores[name]
        state, changes = store_state(store, declared.get(name))
        if state == "missing":
            rows.append(PartState(name, name, "missing", None))
            continue
        parts = store_parts(store) or []
        for part in parts or [None]:
            minutes = None if part is None or part.seconds is None else round(part.seconds / 60, 1)
            rows.append(PartState(part.part if part else name, name, state, minutes, changes))
    return rows + student_rows(profile)


def student_rows(profile: str) -> list[PartState]:
    """One row per student the profile's plan declares (notebook 03's ``students``): current when
    its part is stored under its key now (a part of other code or settings has another name, so it
    is not found: missing), with the minutes it recorded; the students of a recipe not yet chosen
    on dev are one missing row per language and objective."""
    from otclir.errors import OtclirError
    from otclir.runner import declared_students

    rows = []
    for parameter in STUDENT_PLANS:
        try:
            plan = declared_students(profile, parameter)
        except OtclirError:
            continue
        rows += _plan_rows(plan)
    return rows


STUDENT_PLANS = ("students", "teacher_students")  # notebook 03's plans of stored students


def _plan_rows(plan) -> list[PartState]:
    from otclir.experiments import student_parts, student_plan

    evaluation, rows = plan.evaluation_settings(), []
    for kind, config in student_plan.planned_configs(plan):
        if kind == "waits":
            language, objective = config
            folder = "teacher_students" if plan.teacher else "students"
            rows.append(PartState(f"03 {folder.replace('_', ' ')} {language} {objective} (after its recipe)",
                                  f"parts/{folder}/", "missing", None))
            continue
        folder = student_plan.part_folder(plan, config, evaluation, kind)
        name = f"parts/{folder.parent.name}/{folder.name}"
        if student_parts.is_finished(folder):
            seconds = json.loads((folder / student_parts.PART_FILE).read_text(encoding="utf-8")).get("seconds")
            rows.append(PartState(f"03 {kind} {folder.name}", name, "current", round(seconds / 60, 1)))
        else:
            rows.append(PartState(f"03 {kind} {folder.name}", name, "missing", None))
    return rows


def cost_minutes(rows: list[PartState]) -> float:
    """The recorded minutes of every stale part (missing parts have none recorded)."""
    return round(sum(r.minutes or 0 for r in rows if r.state != "current"), 1)


def status_json(rows: list[PartState]) -> str:
    return json.dumps({"parts": [asdict(r) for r in rows], "stale_minutes": cost_minutes(rows),
                       "missing": [r.part for r in rows if r.state == "missing"]}, indent=1) + "\n"


def status_text(rows: list[PartState], profile: str, changes_shown: int = 8) -> str:
    width = max([len(r.part) for r in rows] + [4])
    lines = [f"{'part':<{width}}  {'state':<7}  {'minutes':>7}  store"]
    for row in rows:
        minutes = "-" if row.minutes is None else f"{row.minutes:.1f}"
        where = f"results/{row.store}" if row.store.startswith("parts/") else f"results/{profile}/{row.store}/"
        lines.append(f"{row.part:<{width}}  {row.state:<7}  {minutes:>7}  {where}")
    shown = set()
    for row in rows:
        if row.changes and row.store not in shown:
            shown.add(row.store)
            lines.append(f"\n{row.store} is stale: {len(row.changes)} change(s)")
            lines += [f"  {change}" for change in row.changes[:changes_shown]]
            if len(row.changes) > changes_shown:
                lines.append(f"  ... and {len(row.changes) - changes_shown} more (--format json lists them all)")
    counts = {state: sum(r.state == state for r in rows) for state in STATES}
    missing = counts["missing"]
    lines.append(f"\n{counts['current']} current, {counts['stale']} stale, {missing} missing; bringing profile "
                 f"'{profile}' up to date costs {cost_minutes(rows):.0f} recorded minutes"
                 + (f" plus {missing} part(s) never computed" if missing else "")
                 + (f" (`make reproduce PROFILE={profile} RECOMPUTE=1`)" if counts["stale"] or missing else ""))
    return "\n".join(lines) + "\n"
