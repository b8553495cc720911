"""One student of a cross-model teacher (:mod:`otclir.training.cross_teacher`) as a stored part:
trained with the answers' dev checks, then tested with its dev-selected and its final weights,
both tasks and both scorers, the teacher reading the queries and the student the documents
through its learned map.

Parts live in ``results/parts/teacher_students/<name>/`` with the files, staging, lock and
checksums of :mod:`otclir.experiments.student_parts`, keyed on their own settings and on the code
:func:`compute_part` reaches (so a change to the self-teacher's trainer does not touch them, nor
a change here the self-teacher's parts). The baseline of no training, the closed-form map fitted
on the same pairs, is a part of its own (:func:`compute_ridge_part`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from otclir.experiments.student_parts import StudentEvaluation, parts_root, part_key, store_part
from otclir.training.cross_teacher import CrossTeacherConfig

ENTRY = "otclir.experiments.teacher_parts:compute_part"
RIDGE_ENTRY = "otclir.experiments.teacher_parts:compute_ridge_part"
ROOT = "teacher_students"
RIDGE = "ridge-map"  # the system name of the closed-form map, untrained


def teacher_parts_root() -> Path:
    return parts_root(ROOT)


def part_folder(config: CrossTeacherConfig, evaluation: StudentEvaluation, entry: str = ENTRY) -> Path:
    from otclir.experiments.student_parts import part_name

    return teacher_parts_root() / part_name(part_key(config, evaluation, entry))


def compute_part(config: CrossTeacherConfig, evaluation: StudentEvaluation, progress: bool = False) -> Path:
    """The part of one cross-model student: found when stored, else trained, tested and stored."""
    return store_part(part_key(config, evaluation, ENTRY), teacher_parts_root(),
                      lambda name: _train_and_test(config, evaluation, name, progress))


def compute_ridge_part(config: CrossTeacherConfig, evaluation: StudentEvaluation, progress: bool = False) -> Path:
    """The untrained baseline of ``config``'s student: its closed-form initial map on the same
    pairs, tested as the trained students are (``config.steps`` plays no part)."""
    return store_part(part_key(config, evaluation, RIDGE_ENTRY), teacher_parts_root(),
                      lambda name: _ridge_test(config, evaluation, name, progress))


def _test(config: CrossTeacherConfig, evaluation: StudentEvaluation, student: str, mapping, system: str, kind: str,
          run_name: str) -> pd.DataFrame:
    """Per-query test rows of one student folder (or model name) read through ``mapping``."""
    from otclir.experiments.headline import TaskRunners, evaluation_tasks
    from otclir.experiments.student_parts import RUN_DEPTH
    from otclir.retrieval.linear_map import mapped_runs

    tasks = evaluation_tasks(config.language, evaluation.tasks, evaluation.test_queries, evaluation.test_docs,
                             evaluation.seed)
    runners = TaskRunners(tasks, f"teacher-{run_name}-{kind}", scorers=evaluation.scorers,
                          rerank_depth=evaluation.rerank_depth, run_depth=RUN_DEPTH)
    runs = mapped_runs(tasks, mapping, student, config.teacher, evaluation.scorers, evaluation.rerank_depth)
    for scorer in evaluation.scorers:
        runners.save(system, scorer, {name: runs[name][scorer] for name in tasks})
    return runners.per_query().assign(seed=config.seed, weights=kind, teacher=config.teacher)


def _train_and_test(config: CrossTeacherConfig, evaluation: StudentEvaluation, run_name: str, progress: bool):
    from otclir.paths import outputs_dir
    from otclir.retrieval.system_names import distilled_name
    from otclir.training.checkpoints import finished_result, read_log, with_paths
    from otclir.training.cross_teacher import CrossTeacherDistiller, load_map

    folder = outputs_dir("train", ROOT, run_name)  # the part's name holds its key
    stored = finished_result(folder)
    result = with_paths(stored, folder) if stored and stored["config"] == config.to_record() else \
        CrossTeacherDistiller(config, folder, progress=progress).train(progress=progress)
    weights = {"dev-selected": result["model"], "final": result.get("final_model", str(folder / "final"))}
    system = distilled_name(config.objective, config.train_pairs)
    per_query = pd.concat([_test(config, evaluation, str(path), load_map(path), system, kind, run_name)
                           for kind, path in weights.items()], ignore_index=True)
    best = result.get("best") or {}
    selection = {"trained_steps": result["steps"], "selected_step": best.get("step", result["steps"]),
                 "selected_by": best.get("selected_by"), "train_pairs": result.get("train_pairs"),
                 "stopped_early": result.get("stopped_early"), **{k: v for k, v in best.items() if k.startswith("dev_")}}
    return (per_query, _means(per_query), read_log(folder)), selection


def _ridge_test(config: CrossTeacherConfig, evaluation: StudentEvaluation, run_name: str, progress: bool):
    from otclir.paths import outputs_dir
    from otclir.training.cross_teacher import CrossTeacherDistiller

    # fits the initial map and trains nothing: the folder is never written
    trainer = CrossTeacherDistiller(config, outputs_dir("train", ROOT, run_name), progress=progress)
    per_query = _test(config, evaluation, config.student, trainer.map_matrix(), RIDGE, "untrained", run_name)
    log = pd.DataFrame([{"step": 0, "map_init": config.map_init, "map_alpha": config.map_alpha}])
    return (per_query, _means(per_query), log), {"trained_steps": 0, "selected_step": 0, "train_pairs": len(trainer.pairs)}


def _means(per_query: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("task", "system", "scorer", "seed", "weights", "teacher") if c in per_query]
    measures = [c for c in per_query.columns if c not in keys and c != "query" and pd.api.types.is_numeric_dtype(per_query[c])]
    return per_query.groupby(keys, sort=False)[measures].mean().reset_index()
