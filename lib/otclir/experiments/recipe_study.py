"""The distillation recipe study: which objective, learning rate, epsilon and number of steps make
a student that closes the gap between the zero-shot student and the ceiling.

Every configuration of a grid trains once for the longest budget of steps and keeps the student
of every dev evaluation, so each (configuration, step) is one point: its dev signals (from the
training log) and its test measures under both scorers, with the share of the zero-shot→ceiling
gap and a bootstrap interval of that share. The recipe is then chosen by one dev signal, named
before the study runs (``select_by``); test measures are reported beside it, never used to
choose. How well each dev signal ranks the points like the test split does is reported too
(Spearman's rho), since a dev split can mislead.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from otclir.data.languages import check_languages
from otclir.errors import OtclirError
from otclir.retrieval.system_names import CEILING, ZERO_SHOT
from otclir.settings import Settings, choice, each, mapping, positive, setting, text, whole
from otclir.training.checkpoints import RESULT, read_log
from otclir.training.configs import DEV_SIGNALS, DistillConfig
from otclir.training.trainer import train
from otclir.transport.objectives import OBJECTIVES, transports
from otclir.transport.plan_sources import PLANS


@dataclass
class StudyGrid(Settings):
    """The grid of a recipe study; ``settings`` holds every other DistillConfig setting."""

    WHAT = "study setting"

    language: str = setting("sw", check=text())
    objectives: list[str] = setting(factory=lambda: ["sentence_mse", "ot"],
                                    check=each(choice(OBJECTIVES, "objectives"), distinct=True))
    lrs: list[float] = setting(factory=lambda: [1e-4], check=each(positive, distinct=True))
    # only objectives with the transport term vary them (a statistical plan solves nothing: no epsilon)
    epsilons: list[float] = setting(factory=lambda: [0.1], check=each(positive, distinct=True))
    plans: list[str] = setting(factory=lambda: ["adaptive"], check=each(choice(PLANS, "plan sources"), distinct=True))
    epochs: float = setting(2, check=positive)  # the longest training, in passes over the budget
    evaluations_per_epoch: int = setting(1, check=whole(1))
    settings: dict = setting(factory=dict, check=mapping())
    select_by: str = setting("dev_bitext_MRR", check=choice(DEV_SIGNALS, "dev signals"))

    def __post_init__(self):
        super().__post_init__()
        check_languages([self.language])
        self.configs()  # every configuration is checked before the study trains

    def configs(self) -> list[DistillConfig]:
        """One training configuration per grid point (epsilon varies only where the ot term is used)."""
        settings = dict(self.settings)
        budget = settings.get("train_pairs", 2000)
        batch = settings.get("batch_size", 16)
        if budget is None:
            raise OtclirError("a study needs a finite train_pairs budget to count its epochs")
        per_epoch = budget // batch
        steps = max(1, int(round(self.epochs * per_epoch)))
        eval_every = max(1, per_epoch // self.evaluations_per_epoch)
        configs = []
        for objective, lr in itertools.product(self.objectives, self.lrs):
            for plan in (self.plans if transports(objective) else [settings.get("plan", self.plans[0])]):
                solved = transports(objective) and plan != "statistical"
                for epsilon in (self.epsilons if solved else self.epsilons[:1]):
                    configs.append(DistillConfig.from_dict({
                        **settings, "language": self.language, "objective": objective, "lr": lr, "epsilon": epsilon,
                        "plan": plan, "steps": steps, "eval_every": eval_every, "checkpoint_every": eval_every,
                        "keep_evaluated": True, "select_by": self.select_by}))
        return configs


def config_label(config: DistillConfig) -> str:
    if not transports(config.objective):
        return f"{config.objective} lr={config.lr:g}"
    plan = "" if config.plan == "fixed" else f" plan={config.plan}"
    return f"{config.objective}{plan} lr={config.lr:g}" + ("" if config.plan == "statistical" else f" eps={config.epsilon:g}")


def evaluated_students(folder: Path) -> list[tuple[int, Path]]:
    """The students a study run kept, by step (step 0 is the untrained student, not stored)."""
    kept = sorted((int(p.name.split("-")[1]), p) for p in Path(folder).glob("step-*") if p.is_dir())
    return [(step, path) for step, path in kept if step > 0]


def run_study(grid: StudyGrid, profile: str, test_queries: int | None = None, test_docs: int | None = None,
              rerank_depth: int = 200, seed: int = 0, progress: bool = True, log=print, done=None,
              keep=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every configuration and score every kept step; returns the points table and the
    training logs (long form). ``done`` maps a configuration's label to the (points, log) an
    earlier run kept; ``keep(label, points, log)`` is called after each configuration, so a
    stopped study resumes at the configuration it stopped in."""
    done = done or {}
    from otclir.experiments.systems import SystemRunner, english_documents, query_encoder_of, test_task, train_folder

    configs = grid.configs()
    task = test_task(grid.language, test_queries, test_docs, seed)
    runner = SystemRunner(task, f"{profile}-study", rerank_depth=rerank_depth)
    english = english_documents(task)
    reference = {}
    for system, texts in ((ZERO_SHOT, None), (CEILING, english)):
        for row in runner.dense(system, configs[0].teacher, configs[0].student, doc_texts=texts):
            reference[(system, row["scorer"])] = runner.per_query_of(system, row["scorer"])
    points, logs = [], []
    for config in configs:
        label = config_label(config)
        if label in done:
            log(f"study: {label} (kept from an earlier run)")
            kept_points, kept_log = done[label]
            points += kept_points.to_dict("records")
            logs.append(kept_log)
            continue
        first, began = len(points), time.time()
        folder = train_folder(config)
        log(f"study: {label}")
        train(config, folder, progress=progress)
        history = _labelled_log(config)
        logs.append(history)
        dev = history.set_index("step")
        start = _point(label, config, 0, dev, reference, reference[(ZERO_SHOT, "mean")], reference[(ZERO_SHOT, "maxsim")], seed)
        points.append(start)
        for step, path in evaluated_students(folder):
            name = f"study-{'-'.join(label.split())}-step{step}"
            scored = {row["scorer"]: runner.per_query_of(name, row["scorer"])
                      for row in runner.dense(name, query_encoder_of(str(path)), str(path))}
            points.append(_point(label, config, step, dev, reference, scored["mean"], scored["maxsim"], seed))
            runner.forget(name)
        for point in points[first:]:  # the configuration's training and test evaluation, so a study spanning runs sums
            point["config_seconds"] = round(time.time() - began, 1)
        if keep is not None:
            keep(label, pd.DataFrame(points[first:]), history)
    frame = pd.DataFrame(points)
    return frame, pd.concat(logs, ignore_index=True)


def _labelled_log(config: DistillConfig) -> pd.DataFrame:
    from otclir.experiments.systems import train_folder

    history = read_log(train_folder(config))
    history.insert(0, "config", config_label(config))
    return history


def study_logs(grid: StudyGrid) -> pd.DataFrame | None:
    """The training logs of a study whose runs are all finished on this machine (None otherwise):
    what a rerun of the same study needs besides its stored points table."""
    from otclir.experiments.systems import train_folder

    configs = grid.configs()
    if not all((train_folder(c) / RESULT).is_file() for c in configs):
        return None
    return pd.concat([_labelled_log(c) for c in configs], ignore_index=True)


def _point(label, config, step, dev, reference, mean_ap: pd.Series, maxsim_ap: pd.Series, seed: int) -> dict:
    from otclir.evaluation.stats import gap_share_interval

    per_epoch = config.train_pairs // config.batch_size
    row = {"config": label, "objective": config.objective, "lr": config.lr,
           "plan": config.plan if transports(config.objective) else None,
           "epsilon": config.epsilon if transports(config.objective) and config.plan != "statistical" else np.nan,
           "step": step, "epochs": step / per_epoch}
    for signal in DEV_SIGNALS:
        row[signal] = float(dev.loc[step, signal]) if step in dev.index and signal in dev.columns else np.nan
    for scorer, values in (("mean", mean_ap), ("maxsim", maxsim_ap)):
        zero, ceiling = reference[(ZERO_SHOT, scorer)], reference[(CEILING, scorer)]
        share, low, high = gap_share_interval(values.to_numpy(), zero.to_numpy(), ceiling.to_numpy(), seed=seed)
        row.update({f"test_AP_{scorer}": float(values.mean()), f"gap_share_{scorer}": share,
                    f"gap_share_{scorer}_low": low, f"gap_share_{scorer}_high": high})
    return row


def choose_recipes(points: pd.DataFrame, select_by: str) -> dict[str, dict]:
    """Per objective, the (configuration, step) with the best dev signal ``select_by`` (ties go to
    fewer steps, then to the configuration listed first): each objective gets its own best
    learning rate, epsilon, plan source and length, so none is compared at another's optimum."""
    if select_by not in points.columns or points[select_by].isna().all():
        raise OtclirError(f"the study has no dev signal '{select_by}'; signals: {', '.join(c for c in DEV_SIGNALS if c in points)}")
    chosen = {}
    ordered = points.assign(_order=range(len(points)))
    for objective in dict.fromkeys(points.objective):
        part = ordered[ordered.objective == objective]
        best = part.sort_values([select_by, "step", "_order"], ascending=[False, True, True]).iloc[0]
        chosen[objective] = best.drop("_order").to_dict()
    return chosen


def signal_agreement(points: pd.DataFrame, target: str = "test_AP_mean") -> pd.DataFrame:
    """Spearman's rho between each dev signal and a test measure across all study points: does
    the dev signal rank recipes as the test split does?"""
    from scipy.stats import spearmanr

    rows = []
    for signal in DEV_SIGNALS:
        if signal in points and points[signal].notna().sum() > 2:
            rho, p = spearmanr(points[signal], points[target], nan_policy="omit")
            rows.append({"dev_signal": signal, "test_measure": target, "spearman_rho": float(rho), "p": float(p)})
    return pd.DataFrame(rows)


def recipe_settings(choice: dict, grid: StudyGrid) -> dict:
    """Training settings of one objective's chosen point for the headline experiment: the grid's
    settings with the chosen lr, epsilon and plan source, and its length in epochs (0: the study found no step
    better than the untrained student on the dev signal)."""
    settings = {k: v for k, v in grid.settings.items() if k != "train_pairs"}
    settings.update({"lr": float(choice["lr"]), "select_by": grid.select_by})
    if not pd.isna(choice.get("epsilon", np.nan)):
        settings["epsilon"] = float(choice["epsilon"])
    if isinstance(choice.get("plan"), str):
        settings["plan"] = choice["plan"]
    return {"objective": choice["objective"], "epochs": float(choice["epochs"]), "step": int(choice["step"]),
            "checks_per_epoch": grid.evaluations_per_epoch, "settings": settings}
