"""The students the answers need, declared in a profile before anything trains, and the order a
recomputation takes them in.

Every student is a part (:mod:`otclir.experiments.student_parts`). The dev protocol is the same
for all: every judged dev query of the dev task over the whole dev pool, one sample for every seed
and notebook, checked ``checks`` times per run (the untrained student besides). Budgets are pairs
drawn from the train split (``None``: every training pair), trained for the epochs the plan gives
each budget; the pairs seen are ``steps x batch_size``.

The recipe (the learning rate) is chosen per language and objective on that language's own dev:
each rate of ``lrs`` trains the first budget at the first seed, and the rate whose dev-selected
signal is highest is kept for every other seed and budget. Nothing here reads a test number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from otclir.data.languages import check_languages
from otclir.data.tasks import BIBLE_TASKS
from otclir.errors import OtclirError
from otclir.experiments.student_parts import StudentEvaluation
from otclir.retrieval.dense import DEV_SIGNALS
from otclir.settings import Settings, choice, each, mapping, number, positive, setting, text, whole
from otclir.transport.objectives import OBJECTIVES


@dataclass
class StudentPlan(Settings):
    """The profile's declaration of the answers' students (notebook 03's ``students`` parameter)."""

    WHAT = "student plan setting"

    languages: list[str] = setting(factory=lambda: ["sw"], check=each(text(), distinct=True))
    objectives: list[str] = setting(factory=lambda: ["sentence_mse", "ot"],
                                    check=each(choice(OBJECTIVES, "objectives"), distinct=True))
    # None: the self-teacher (a frozen copy of the student reads English); else a model that is not
    # the student (OPTICAL's setting: "minilm-teacher"), whose students learn a map into its space
    # (otclir.training.cross_teacher; parts in results/parts/teacher_students/), with the untrained
    # closed-form map of each language as a baseline part
    teacher: str | None = setting(None, check=text(none=True))
    # objectives trained once per language (first budget, first seed) at the rate the first
    # objective's recipe grid chose, with no grid of their own: a row beside the comparison, cheaply
    rivals: list[str] = setting(factory=list, check=each(choice(OBJECTIVES, "rivals"), distinct=True, empty=True))
    budgets: list[int | None] = setting(factory=lambda: [2000], check=each(whole(16, none=True), distinct=True))
    # epochs per budget, in the order of ``budgets``; at least one full pass over the pairs
    epochs: list[float] = setting(factory=lambda: [4.0], check=each(number(1, says="at least 1 epoch")))
    seeds: list[int] = setting(factory=lambda: [0, 1, 2], check=each(whole(0), distinct=True))
    # seeds of each budget after the first (None: ``seeds``): one seed at the all-pairs budget, declared
    later_seeds: list[int] | None = setting(None, check=each(whole(0), distinct=True, none=True))
    # languages of the budgets after the first (None: ``languages``)
    later_languages: list[str] | None = setting(None, check=each(text(), distinct=True, none=True))
    lrs: list[float] = setting(factory=lambda: [3e-5, 1e-4, 3e-4], check=each(positive, distinct=True))
    checks: int = setting(10, check=whole(8, says="at least 8 dev checks a run"))
    select_by: str = setting("dev_nDCG@10", check=choice(DEV_SIGNALS, "dev signals"))
    dev_task: str = setting("crossref", check=choice(BIBLE_TASKS, "tasks"))
    dev_seed: int = setting(0, check=whole(0))
    # the fixed dev set: None is every judged dev query and the whole dev pool; a smaller sample
    # only for smoke tests (the quick profile), declared as such
    dev_queries: int | None = setting(None, check=whole(1, none=True))
    dev_docs: int | None = setting(None, check=whole(2, none=True))
    # a dev curve's end is flat when its last check is within this of the best earlier one
    flat_within: float = setting(0.002, check=number(0))
    training: dict = setting(factory=dict, check=mapping())  # DistillConfig settings shared by every student
    evaluation: dict = setting(factory=dict, check=mapping())  # StudentEvaluation settings

    def __post_init__(self):
        super().__post_init__()
        check_languages(self.languages)
        both = sorted(set(self.rivals) & set(self.objectives))
        if both:
            raise OtclirError(f"{', '.join(both)} is both an objective and a rival; name it in one of them (a rival "
                              "trains once, at the rate the first objective chose)")
        extra = sorted(set(self.later_languages or []) - set(self.languages))
        if extra:
            raise OtclirError(f"later_languages names {', '.join(extra)}, not among the languages; the later budgets "
                              "train with the recipe each language's own first budget chose")
        if len(self.epochs) != len(self.budgets):
            raise OtclirError(f"epochs names {len(self.epochs)} value(s) for {len(self.budgets)} budget(s); give one "
                              "number of epochs per budget, in the same order")
        for key in ("language", "objective", "train_pairs", "lr", "seed", "steps", "eval_every", "dev_queries",
                    "dev_docs", "dev_seed", "select_by", "teacher"):
            if key in self.training:
                raise OtclirError(f"training sets '{key}', which the plan decides for each student; remove it "
                                  "(the plan's own settings: budgets, epochs, lrs, seeds, checks, select_by, teacher)")
        self.evaluation_settings()
        for language in self.languages:  # every student's settings checked before anything trains
            for objective in self.objectives + self.rivals:
                for lr in self.lrs:
                    self._config(language, objective, self.budgets[0], self.seeds[0], lr, self.checks, 1)

    def evaluation_settings(self) -> StudentEvaluation:
        return StudentEvaluation.from_dict(self.evaluation)

    def trains(self, language: str, budget) -> bool:
        """Whether the plan trains ``language`` at ``budget``."""
        return budget == self.budgets[0] or self.later_languages is None or language in self.later_languages

    def seeds_of(self, budget) -> list[int]:
        first = budget == self.budgets[0]
        return list(self.seeds if first or self.later_seeds is None else self.later_seeds)

    def steps(self, language: str, budget) -> int:
        """Steps of a run: its epochs over the budget's pairs, in whole batches."""
        batch = int(self.training.get("batch_size", 16))
        pairs = budget if budget is not None else len(_bitext(language, self.training.get("bitext")))
        return max(1, math.ceil(self.epochs[self.budgets.index(budget)] * pairs / batch))

    def config(self, language: str, objective: str, budget, seed: int, lr: float):
        """The training settings of one student."""
        return self._config(language, objective, budget, seed, lr, self.steps(language, budget),
                            self.dev_queries or dev_query_count(language, self.dev_task))

    def _config(self, language: str, objective: str, budget, seed: int, lr: float, steps: int, dev_queries: int):
        from otclir.training.configs import DistillConfig
        from otclir.training.cross_teacher import CrossTeacherConfig

        every = max(1, steps // self.checks)
        kind, teacher = (DistillConfig, {}) if self.teacher is None else (CrossTeacherConfig, {"teacher": self.teacher})
        return kind.from_dict({
            **self.training, **teacher, "language": language, "objective": objective, "train_pairs": budget, "seed": seed,
            "lr": lr, "steps": steps, "eval_every": every, "checkpoint_every": every, "select_by": self.select_by,
            "dev_task": self.dev_task, "dev_seed": self.dev_seed, "dev_docs": self.dev_docs, "dev_queries": dev_queries})


def _bitext(language: str, source: str | None):
    from otclir.data.tasks import bitext_pairs

    return bitext_pairs(language, budget=None, source=source)


def dev_query_count(language: str, task: str) -> int:
    """Every judged dev query of the task: the fixed dev set."""
    from otclir.data.tasks import bible_tasks

    return len(bible_tasks([task], language, "dev")[task].queries)


def part_folder(plan: StudentPlan, config, evaluation=None, kind: str = "student"):
    """Where the part of one planned run is stored (``kind`` "baseline": a cross-model teacher's
    untrained map)."""
    evaluation = evaluation or plan.evaluation_settings()
    if plan.teacher is None:
        from otclir.experiments.student_parts import part_folder as folder_of

        return folder_of(config, evaluation)
    from otclir.experiments import teacher_parts

    return teacher_parts.part_folder(config, evaluation,
                                     teacher_parts.RIDGE_ENTRY if kind == "baseline" else teacher_parts.ENTRY)


def compute_part(plan: StudentPlan, kind: str, config, evaluation, progress: bool = False, log=print):
    """One planned run's part, found or computed (see :func:`part_folder`)."""
    if plan.teacher is None:
        from otclir.experiments import student_parts

        return student_parts.compute_part(config, evaluation, progress=progress, log=log)
    from otclir.experiments import teacher_parts

    if kind == "baseline":
        return teacher_parts.compute_ridge_part(config, evaluation, progress=progress)
    return teacher_parts.compute_part(config, evaluation, progress=progress)


def recipe_runs(plan: StudentPlan, language: str, objective: str) -> list:
    """The recipe grid of one language and objective: each rate at the first budget and seed."""
    return [plan.config(language, objective, plan.budgets[0], plan.seeds[0], lr) for lr in plan.lrs]


def choose_lr(selections: dict[float, dict], select_by: str) -> float:
    """The rate whose dev-selected value of ``select_by`` is highest (the smaller rate on a tie).

    >>> choose_lr({3e-5: {'dev_nDCG@10': 0.20}, 1e-4: {'dev_nDCG@10': 0.22}}, 'dev_nDCG@10')
    0.0001
    """
    if not selections:
        raise OtclirError("no recipe run to choose a learning rate from")
    missing = [lr for lr, s in selections.items() if s.get(select_by) is None]
    if missing:
        raise OtclirError(f"the recipe run(s) at lr {missing} logged no {select_by}; choose a dev signal they log")
    return max(sorted(selections), key=lambda lr: (selections[lr][select_by], -lr))


def curve_end(values, within: float) -> str:
    """Whether a dev curve is ``rising``, ``falling`` or ``flat`` at its end: its last check
    against the best of the checks before it.

    >>> curve_end([0.20, 0.22, 0.23], 0.002), curve_end([0.20, 0.25, 0.21], 0.002), curve_end([0.2, 0.25, 0.249], 0.002)
    ('rising', 'falling', 'flat')
    """
    values = [float(v) for v in values]
    if len(values) < 2:
        raise OtclirError(f"a dev curve needs at least two checks to have an end, got {len(values)}")
    last, before = values[-1], max(values[:-1])
    if last > before + within:
        return "rising"
    if last < before - within:
        return "falling"
    return "flat"


def dev_curve(log: pd.DataFrame, signal: str) -> pd.DataFrame:
    """The dev checks of a training log: step and the signal's value."""
    if signal not in log:
        raise OtclirError(f"the training log has no {signal}; its dev signals: "
                          f"{', '.join(c for c in log.columns if c.startswith('dev_')) or 'none'}")
    return log.loc[log[signal].notna(), ["step", signal]].reset_index(drop=True)


def _selected(folder) -> dict:
    from otclir.experiments.student_parts import read_part

    return read_part(folder)["record"]["selection"]


def chosen_lr(plan: StudentPlan, language: str, objective: str) -> float | None:
    """The rate the recipe grid chose, or None while one of its runs is not stored."""
    from otclir.experiments.student_parts import is_finished

    evaluation = plan.evaluation_settings()
    folders = {config.lr: part_folder(plan, config, evaluation) for config in recipe_runs(plan, language, objective)}
    if not all(is_finished(f) for f in folders.values()):
        return None
    return choose_lr({lr: _selected(f) for lr, f in folders.items()}, plan.select_by)


def planned_configs(plan: StudentPlan) -> list[tuple[str, object]]:
    """Every student of the plan in the order a recomputation takes them: per language, the recipe
    grid of each objective, then the rivals at the first objective's rate, then the other seeds of
    the first budget, then the later budgets. ``("waits", (language, objective))`` stands for the
    students of a recipe not chosen yet."""
    out = []
    for language in plan.languages:
        if plan.teacher is not None:  # the untrained closed-form map, the cross-model students' starting point
            out.append(("baseline", plan.config(language, plan.objectives[0], plan.budgets[0], plan.seeds[0],
                                                plan.lrs[0])))
        for objective in plan.objectives:
            out += [("recipe", config) for config in recipe_runs(plan, language, objective)]
        if plan.rivals:
            lr = chosen_lr(plan, language, plan.objectives[0])
            out += [("waits", (language, rival)) if lr is None else
                    ("rival", plan.config(language, rival, plan.budgets[0], plan.seeds[0], lr)) for rival in plan.rivals]
        for objective in plan.objectives:
            further = len(plan.seeds) > 1 or any(plan.trains(language, b) for b in plan.budgets[1:])
            lr = chosen_lr(plan, language, objective) if further else None
            if lr is None:
                out += [("waits", (language, objective))] if further else []  # nothing beyond the recipe runs
                continue
            for budget in (b for b in plan.budgets if plan.trains(language, b)):
                for seed in plan.seeds_of(budget):
                    if budget == plan.budgets[0] and seed == plan.seeds[0]:
                        continue  # the recipe run at the chosen rate is this student
                    out.append(("student", plan.config(language, objective, budget, seed, lr)))
    return out


def planned_count(plan: StudentPlan) -> int:
    """How many students the plan trains in all, whatever rates its grids choose: per language,
    each objective's recipe grid and its other seeds and budgets, and one run per rival."""
    total = 0
    for language in plan.languages:
        later = sum(len(plan.seeds_of(b)) for b in plan.budgets[1:] if plan.trains(language, b))
        total += len(plan.objectives) * (len(plan.lrs) + len(plan.seeds) - 1 + later) + len(plan.rivals)
        total += plan.teacher is not None  # the baseline map
    return total


def progress(plan: StudentPlan) -> dict:
    """Stored and planned students, and the recipes (language, objective) not yet chosen."""
    from otclir.experiments.student_parts import is_finished

    evaluation, configs = plan.evaluation_settings(), planned_configs(plan)
    stored = sum(kind != "waits" and is_finished(part_folder(plan, c, evaluation, kind)) for kind, c in configs)
    return {"stored": stored, "planned": planned_count(plan), "waiting": [c for kind, c in configs if kind == "waits"]}


def compute(plan: StudentPlan, minutes: float | None = None, progress: bool = False, log=print, workers: int = 1,
            poll: float = 30.0, threads: int | None = None) -> dict:
    """Compute the plan's missing parts in order, each stored as it finishes; with ``minutes``,
    start no new part after that long (a session's share), and say what is left. ``workers``
    above 1 runs that many processes with an equal share of the CPU threads; each takes the next
    part no other process holds (parts are locked), and waits ``poll`` seconds while every missing
    part is held elsewhere (a recipe's students wait for its runs). ``threads`` sets each process's
    CPU threads (beside another computation, one: threads that wait on each other's cores make
    every encoding several times slower)."""
    import os

    from otclir import checks

    checks.whole(workers, "workers", 1)
    checks.whole(threads, "threads", 1, optional=True)
    checks.number(poll, "poll", 0, low_open=True)
    if workers == 1:
        if threads is not None:
            _worker_threads(threads)
        return _compute_share(plan, minutes, progress, log, poll)
    import multiprocessing

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_worker_threads, initargs=(threads,)) as pool:
        records = pool.starmap(_compute_share, [(plan, minutes, False, print, poll)] * workers)
    waiting = records[-1]["waiting_recipes"]
    return {"computed": [name for record in records for name in record["computed"]],
            "stored": max(record["stored"] for record in records), "waiting_recipes": waiting}


def _worker_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _compute_share(plan: StudentPlan, minutes: float | None, progress: bool, log, poll: float) -> dict:
    import time

    from otclir.experiments.locks import LockedError
    from otclir.experiments.student_parts import is_finished

    evaluation = plan.evaluation_settings()
    started, done, found = time.time(), [], 0
    while True:
        pending = [(kind, c) for kind, c in planned_configs(plan)
                   if kind != "waits" and not is_finished(part_folder(plan, c, evaluation, kind))]
        if not pending:
            break
        if minutes is not None and time.time() - started > minutes * 60:
            log(f"stopped after {(time.time() - started) / 60:.0f} min; {len(pending)} part(s) left, the same "
                "command resumes")
            break
        for kind, config in pending:
            began = time.time()
            try:
                folder = compute_part(plan, kind, config, evaluation, progress=progress, log=log)
            except LockedError:  # another process computes this one: take the next
                continue
            done.append(folder.name)
            log(f"{kind} {folder.name}: {time.time() - began:.0f} s")
            break
        else:  # every missing part is held by another process: wait for one to finish
            time.sleep(poll)
    waiting = [c for kind, c in planned_configs(plan) if kind == "waits"]
    for kind, config in planned_configs(plan):
        found += kind != "waits" and is_finished(part_folder(plan, config, evaluation, kind))
    return {"computed": done, "stored": found, "waiting_recipes": waiting}


def collect(plan: StudentPlan) -> dict[str, pd.DataFrame]:
    """The stored parts of the plan as tables: ``per_query`` (every student, weights, task, scorer
    and query), ``students`` (one row per student: its settings, dev selection, dev curve's end,
    ``kept``: false for a recipe run at a rate its grid did not choose, or whose grid is not whole)
    and ``curves`` (every dev check of every student: each dev signal, whole and per fold)."""
    from otclir.experiments.student_parts import is_finished, read_part

    evaluation = plan.evaluation_settings()
    per_query, students, curves = [], [], []
    for kind, config in planned_configs(plan):
        if kind == "waits":
            continue
        folder = part_folder(plan, config, evaluation, kind)
        if not is_finished(folder):
            continue
        part = read_part(folder)
        if kind == "baseline":  # no training: test rows only
            per_query.append(part["perquery"].drop(columns=["language", "seed"], errors="ignore").assign(
                language=config.language, objective="none", budget=str(config.train_pairs or "all"), seed=config.seed,
                lr=float("nan"), recipe_run=False, kept=True))
            continue
        # a recipe run is kept when its rate is the one the recipe grid chose (all its runs stored)
        kept = kind != "recipe" or chosen_lr(plan, config.language, config.objective) == config.lr
        labels = {"language": config.language, "objective": config.objective,
                  "budget": "all" if config.train_pairs is None else str(config.train_pairs), "seed": config.seed,
                  "lr": config.lr, "recipe_run": kind == "recipe", "kept": kept}
        curve = dev_curve(part["log"], plan.select_by)
        checks = part["log"].loc[part["log"][plan.select_by].notna()]
        selection = part["record"]["selection"]
        students.append({**labels, "part": folder.name, "steps": config.steps,
                         "pairs_seen": config.steps * config.batch_size, "minutes": part["record"]["seconds"] / 60,
                         "selected_step": selection["selected_step"], "end": curve_end(curve[plan.select_by], plan.flat_within),
                         **{k: v for k, v in selection.items() if k.startswith("dev_")}})
        curves.append(checks[["step", *(c for c in checks.columns if c.startswith(("dev_", "plan_")))]]
                      .reset_index(drop=True).assign(**labels, batch_size=config.batch_size))
        per_query.append(part["perquery"].drop(columns=["language", "seed"], errors="ignore").assign(**labels))
    concat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
    return {"per_query": concat(per_query), "students": pd.DataFrame(students), "curves": concat(curves)}
