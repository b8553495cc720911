"""One trained student as a stored part: trained with dev checks on the fixed dev set, then
evaluated on test with its dev-selected and its final weights, both tasks and both scorers.

A part lives in ``results/parts/students/<name>/`` (committed: it is what a fresh clone reads
instead of training again) and is found by its key: the student's resolved training settings,
the evaluation's settings, and the fingerprint of the code :func:`compute_part` reaches with the
data files that code names and the package versions that change numbers. Every profile and
notebook whose students have the same key reads the same part. A part is written into a staging
folder beside it and renamed into place when whole, under a lock: a killed run leaves no half
part, and a second process computing the same student is refused.

Files of a part: ``part.json`` (the key, the selection, the wall time, commit and machine; written
last), ``perquery.csv.gz`` (one row per weights, task, scorer and test query), ``results.csv``
(their means) and ``log.csv.gz`` (the training log: loss terms and the dev curve).
"""
from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from otclir.data.tasks import BIBLE_TASKS
from otclir.errors import OtclirError
from otclir.retrieval.system_names import SCORERS
from otclir.settings import Settings, choice, each, setting, whole
from otclir.training.configs import DistillConfig

ENTRY = "otclir.experiments.student_parts:compute_part"
PART_FILE = "part.json"
TABLES = ("perquery.csv.gz", "results.csv", "log.csv.gz")
WEIGHTS = ("dev-selected", "final")  # the student dev selection keeps, and the one training ended with
RUN_DEPTH = 10  # the run files a part's test writes to outputs/ (measures read the whole ranking)


@dataclass
class StudentEvaluation(Settings):
    """How a student part is tested: the Bible tasks, the scorers, the reranking depth of MaxSim
    and, for small runs, a sample of the test queries and documents."""

    WHAT = "student evaluation setting"

    tasks: list[str] = setting(factory=lambda: list(BIBLE_TASKS), check=each(choice(BIBLE_TASKS, "tasks"), distinct=True))
    scorers: list[str] = setting(factory=lambda: list(SCORERS), check=each(choice(SCORERS, "scorers"), distinct=True))
    rerank_depth: int = setting(200, check=whole(1))
    test_queries: int | None = setting(None, check=whole(2, none=True))
    test_docs: int | None = setting(None, check=whole(2, none=True))
    seed: int = setting(0, check=whole(0))  # of the test sample (unused when nothing is sampled)


def parts_root(kind: str = "students") -> Path:
    from otclir.experiments.results import results_root

    return results_root() / "parts" / kind


def part_key(config: DistillConfig, evaluation: StudentEvaluation, entry: str = ENTRY) -> dict:
    """What a part is found by: the settings of its training and its test, and the key of the
    code ``entry`` (the function that computes it) reaches."""
    return {"training": config.to_record(), "evaluation": evaluation.to_record(), "code": code_fingerprint(entry)}


@functools.lru_cache(maxsize=None)
def code_fingerprint(entry: str = ENTRY) -> str:
    """The key of the code a part runs, read once per process: the code it computes with."""
    from otclir.experiments.code_reach import code_key

    return code_key(entry).fingerprint


def part_name(key: dict) -> str:
    """``<language>-<objective>-<budget>-s<seed>-<digest>``: readable, and distinct per key."""
    training = key["training"]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    budget = "all" if training.get("train_pairs") is None else training["train_pairs"]
    return f"{training['language']}-{training['objective']}-{budget}-s{training['seed']}-{digest}"


def part_folder(config: DistillConfig, evaluation: StudentEvaluation) -> Path:
    return parts_root() / part_name(part_key(config, evaluation))


def is_finished(folder: Path) -> bool:
    return (Path(folder) / PART_FILE).is_file()


def compute_part(config: DistillConfig, evaluation: StudentEvaluation, progress: bool = False, log=print) -> Path:
    """The part of one student: found when stored, else trained, tested and stored (whole or not
    at all); returns its folder."""
    return store_part(part_key(config, evaluation), parts_root(),
                      lambda name: _train_and_test(config, evaluation, name, progress, log))


def store_part(key: dict, root: Path, make) -> Path:
    """The part of ``key`` below ``root``: found when stored, else ``make(name)`` computes its
    tables (:data:`TABLES`) and selection, and it is stored whole, under a lock; returns its folder."""
    from otclir.experiments.locks import FolderLock

    folder = root / part_name(key)
    if is_finished(folder):
        return folder
    lock = FolderLock(folder.with_name(folder.name + ".lock"), folder)
    lock.acquire()
    try:
        if is_finished(folder):  # another process finished it while this one waited to start
            return folder
        staging = folder.with_name(folder.name + ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        started = time.time()
        tables, selection = make(folder.name)
        for name, frame in zip(TABLES, tables):
            frame.to_csv(staging / name, index=False, float_format="%.6g",
                         compression={"method": "gzip", "mtime": 0} if name.endswith(".gz") else None)
        _write_record(staging, key, selection, time.time() - started)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        return folder
    finally:
        lock.release()


def train_student(config: DistillConfig, folder: Path, progress: bool = False) -> dict:
    """Train one student (or resume it, or read its finished run) in ``folder`` with dev checks per
    fold of the dev books (:class:`~otclir.training.dev_folds.FoldedDevDistiller`)."""
    from otclir.training.checkpoints import finished_result, with_paths
    from otclir.training.dev_folds import FoldedDevDistiller

    stored = finished_result(folder)
    if stored and stored["config"] == config.to_record():
        return with_paths(stored, folder)
    return FoldedDevDistiller(config, folder, progress=progress).train(progress=progress)


def _train_and_test(config: DistillConfig, evaluation: StudentEvaluation, run_name: str, progress: bool, log):
    from otclir.experiments import headline
    from otclir.paths import outputs_dir
    from otclir.retrieval.system_names import DISTILLED, distilled_name
    from otclir.training.checkpoints import read_log

    name = distilled_name(config.objective, config.train_pairs)
    folder = outputs_dir("train", "parts", run_name)  # the part's name holds its key: never another code's run
    result = train_student(config, folder, progress)
    weights = dict(zip(WEIGHTS, (result["model"], result.get("final_model", str(folder / "final")))))
    frames, per_query = [], []
    for kind, path in weights.items():
        frame, queries = headline.compare_systems(
            config.language, {name: {config.seed: path}}, f"student-{run_name}-{kind}", evaluation.tasks,
            evaluation.test_queries, evaluation.test_docs, [DISTILLED], [config.train_pairs], evaluation.scorers,
            evaluation.rerank_depth, evaluation.seed, log, run_depth=RUN_DEPTH)
        frames.append(frame.assign(weights=kind))
        per_query.append(queries.assign(weights=kind))
    best = result.get("best") or {}
    selection = {"trained_steps": result["steps"], "selected_step": best.get("step", result["steps"]),
                 "selected_by": best.get("selected_by"), "train_pairs": result.get("train_pairs"),
                 **{k: v for k, v in best.items() if k.startswith("dev_")}}
    return (pd.concat(per_query, ignore_index=True), pd.concat(frames, ignore_index=True), read_log(folder)), selection


def _write_record(staging: Path, key: dict, selection: dict, seconds: float) -> None:
    from otclir.experiments.provenance import git_state, machine, sha256_of

    files = {name: sha256_of(staging / name) for name in TABLES}
    record = {**key, "selection": selection, "seconds": round(seconds, 1), "git": git_state(), "machine": machine(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "files": files}
    (staging / PART_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_part(folder: Path) -> dict:
    """A stored part: its record and tables, each file checked against the checksum written with it."""
    from otclir.experiments.provenance import sha256_of
    from otclir.experiments.results import DamagedResults

    folder = Path(folder)
    if not is_finished(folder):
        raise OtclirError(f"{folder.name} is not a finished student part (no {PART_FILE}); compute it with "
                          "`otclir students`")
    record = json.loads((folder / PART_FILE).read_text(encoding="utf-8"))
    out = {"record": record}
    for name in TABLES:
        path = folder / name
        if not path.is_file() or sha256_of(path) != record["files"].get(name):
            raise DamagedResults(f"{folder.name}/{name} is not the file the part wrote (missing or changed); delete "
                                 f"the folder {folder.name} and compute it again with `otclir students`")
        out[name.split(".")[0]] = pd.read_csv(path, dtype={"query": str}, low_memory=False)
    return out
