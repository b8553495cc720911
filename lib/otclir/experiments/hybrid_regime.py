"""Where can alpha matter? A dev-only probe of the hybrid-batch regime before the grid is sized.

With eight of twelve layers frozen, notebook 04's alpha moves cross-lingual retrieval by at most
0.0005 AP: the trade-off Elmahdy et al. study (cross-lingual batches buy cross-lingual quality
that monolingual batches lose) cannot appear where the model can hardly move. This probe trains
the two single strategies (alpha 0: every batch cross-lingual; alpha 1: every batch monolingual)
at one seed for each setting of frozen layers and learning rate, and reads the gap between them on
the dev split's cross-lingual signal (``dev_AP``: English queries against the non-English training
languages, one fixed dev sample for every configuration). The grid then runs in the cheapest
setting whose gap reaches the margin declared with the probe (:func:`choose_setting`).

Its results are a store of their own, ``results/<profile>/04_hybrid_batch_ablations.regime/``,
keyed by the code :func:`compute` reaches (``otclir status`` lists it). Each finished configuration
is staged as it finishes (:func:`stage_finished`), so a probe that spans sessions resumes.
"""
from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from otclir.errors import OtclirError
from otclir.experiments.results import STAGING, ResultStore, results_root
from otclir.paths import outputs_dir
from otclir.settings import Settings, as_json, each, mapping, number, positive, setting, whole
from otclir.training.configs import ContrastiveConfig

STORE = "04_hybrid_batch_ablations.regime"  # results/<profile>/<STORE>/
AXES = ("frozen_layers", "lr", "alpha")


@dataclass
class RegimeProbe(Settings):
    """The probe: its axes, the seed and dev sample every configuration shares, the margin a gap
    must reach, and the other training settings (a :class:`ContrastiveConfig` without the axes)."""

    WHAT = "regime probe setting"

    frozen_layers: list[int] = setting(factory=lambda: [8, 4, 0], check=each(whole(0), distinct=True))
    lrs: list[float] = setting(factory=lambda: [2e-5, 1e-4], check=each(positive, distinct=True))
    alphas: list[float] = setting(factory=lambda: [0.0, 1.0], check=each(number(0, 1), distinct=True))
    seed: int = setting(0, check=whole(0))
    dev_seed: int = setting(0, check=whole(0))
    # the smallest dev-AP gap between alpha 0 and alpha 1 that counts as "the strategies differ"
    margin: float = setting(0.01, check=number(0, says="0 or more (a dev AP difference)"))
    training: dict = setting(factory=dict, check=mapping())

    def __post_init__(self):
        super().__post_init__()
        clash = sorted(set(self.training) & {*AXES, "seed", "dev_seed"})
        if clash:
            raise OtclirError(f"{', '.join(clash)} are the probe's own settings, not training settings")
        if len(self.alphas) < 2:
            raise OtclirError(f"the probe compares at least two alphas, got {self.alphas}")
        for point in self.points():  # every configuration is checked before any training starts
            self.config(point)

    def points(self) -> list[dict]:
        return [dict(zip(AXES, values)) for values in itertools.product(self.frozen_layers, self.lrs, self.alphas)]

    def config(self, point: dict) -> ContrastiveConfig:
        return ContrastiveConfig.from_dict({**self.training, **point, "seed": self.seed, "dev_seed": self.dev_seed})


def _folder(config: ContrastiveConfig):
    digest = hashlib.sha256(json.dumps(config.to_record(), sort_keys=True).encode()).hexdigest()[:10]
    return outputs_dir("regime", digest)


# A finished configuration is staged beside the results (its training log and record, not its
# student), so a probe that spans sessions resumes from a fresh clone where the last one stopped.
# Its folder name digests the configuration and the code that trains it: a part trained by other
# code or settings is never found there.
PART_RECORD = "config.json"  # written last: its presence marks a staged configuration whole


def parts_folder(profile: str) -> Path:
    return results_root() / STAGING / profile / f"{STORE}.parts"


def _part(profile: str, config: ContrastiveConfig) -> Path:
    from otclir.experiments.provenance import code_fingerprint

    record = {**config.to_record(), "code": code_fingerprint("otclir.training.trainer:train")}
    return parts_folder(profile) / hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]


def stage_finished(probe: RegimeProbe, profile: str) -> list[str]:
    """Stage every configuration of the probe whose training finished in ``outputs/regime/`` and is
    not staged yet; returns the staged folders' names."""
    from otclir.experiments.provenance import git_state
    from otclir.training.checkpoints import LOG, RESULT

    staged = []
    for point in probe.points():
        config = probe.config(point)
        source, target = _folder(config), _part(profile, config)
        if not (source / RESULT).is_file() or (target / PART_RECORD).is_file():
            continue
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / LOG, target / LOG)
        (target / "part.json").write_text(json.dumps({"git": git_state(), "staged": datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}, indent=1, sort_keys=True) + "\n")
        (target / PART_RECORD).write_text(json.dumps(config.to_record(), indent=1, sort_keys=True) + "\n")
        staged.append(target.name)
    return staged


def _staged_log(profile: str, config: ContrastiveConfig):
    """A staged configuration's training log (None where none is staged whole for these settings)."""
    from otclir.training.checkpoints import read_log

    folder = _part(profile, config)
    try:
        whole = json.loads((folder / PART_RECORD).read_text()) == json.loads(json.dumps(config.to_record()))
    except (OSError, json.JSONDecodeError):
        return None
    return read_log(folder) if whole else None


def compute(probe: RegimeProbe, profile: str, log=print, progress: bool = False) -> dict:
    """Train every configuration (resuming what a stopped run left in ``outputs/regime/``), and
    store each one's dev curve and wall time."""
    from otclir.training.checkpoints import read_log
    from otclir.training.trainer import train

    store = ResultStore(profile, STORE)
    started = time.time()
    with store.recomputing():
        for run in store.earlier_runs():  # the same settings stored by the same code: nothing to train
            if run.kind == "finished" and run.settings == as_json(probe.to_record()):
                log(f"results/{profile}/{STORE}/ holds this probe, computed by this code: kept")
                return run.record
        store.start(probe.to_record())
        curves, configurations = [], []
        for n, point in enumerate(probe.points(), 1):
            config = probe.config(point)
            began = time.time()
            history = _staged_log(profile, config)
            if history is None:
                folder = _folder(config)
                train(config, folder, progress=progress)
                history = read_log(folder)
                stage_finished(probe, profile)
            # the median step times the steps: one step held up (a paused or shared machine) does not count
            steps = history.step_seconds.dropna() if "step_seconds" in history else pd.Series(dtype=float)
            seconds = float(steps.median() * len(steps)) if len(steps) else time.time() - began
            dev = history[history.dev_AP.notna()][["step", "dev_AP"]].assign(**point)
            curves.append(dev)
            best = dev.loc[dev.dev_AP.idxmax()]
            configurations.append({**point, "best_step": int(best.step), "best_dev_AP": float(best.dev_AP),
                                   "final_dev_AP": float(dev.dev_AP.iloc[-1]),
                                   "step_seconds": float(steps.median()) if len(steps) else float("nan"),
                                   "train_seconds": round(seconds, 1)})
            log(f"[{n}/{len(probe.points())}] frozen {point['frozen_layers']}, lr {point['lr']:g}, alpha "
                f"{point['alpha']:g}: dev AP {dev.dev_AP.iloc[0]:.4f} -> {dev.dev_AP.iloc[-1]:.4f} "
                f"(best {best.dev_AP:.4f} at step {int(best.step)}), {seconds / 60:.1f} min")
        store.write_table("dev_curves.csv", pd.concat(curves, ignore_index=True)[["step", *AXES, "dev_AP"]])
        store.write_table("configurations.csv", pd.DataFrame(configurations))
        record = store.finish(time.time() - started, probe.to_record())
    shutil.rmtree(parts_folder(profile), ignore_errors=True)  # stored whole: the staged parts are done
    return record


def load(profile: str) -> dict:
    """The stored probe: its settings, configurations and dev curves."""
    store = ResultStore(profile, STORE)
    store.require()
    return {"settings": RegimeProbe.from_dict(store.read_json("settings.json")),
            "configurations": store.read_table("configurations.csv"), "curves": store.read_table("dev_curves.csv")}


def gaps(configurations: pd.DataFrame, low: float = 0.0, high: float = 1.0) -> pd.DataFrame:
    """Per setting (frozen layers, learning rate): dev AP of alpha ``low`` and ``high`` at each one's
    best dev step and at the end, their gaps, and the minutes one configuration costs."""
    rows = []
    for (frozen, lr), group in configurations.groupby(["frozen_layers", "lr"], sort=True):
        by_alpha = group.set_index("alpha")
        if low not in by_alpha.index or high not in by_alpha.index:
            raise OtclirError(f"the probe has no alpha {low} and {high} at frozen {frozen}, lr {lr:g}")
        a, b = by_alpha.loc[low], by_alpha.loc[high]
        rows.append({"frozen_layers": int(frozen), "lr": float(lr), f"best_dev_AP_alpha{low:g}": a.best_dev_AP,
                     f"best_dev_AP_alpha{high:g}": b.best_dev_AP, "best_gap": a.best_dev_AP - b.best_dev_AP,
                     "final_gap": a.final_dev_AP - b.final_dev_AP,
                     "minutes_per_configuration": float(group.train_seconds.mean()) / 60})  # median step x steps
    return pd.DataFrame(rows)


def choose_setting(table: pd.DataFrame, margin: float) -> dict | None:
    """The cheapest setting whose best-step gap between the single strategies reaches ``margin`` in
    size: the most frozen layers (fewer trained layers cost less a step on any machine; the measured
    minutes depend on what else ran), then the smaller learning rate; None where no setting does."""
    differ = table[table.best_gap.abs() >= margin]
    if differ.empty:
        return None
    row = differ.sort_values(["frozen_layers", "lr"], ascending=[False, True]).iloc[0]
    return {"frozen_layers": int(row.frozen_layers), "lr": float(row.lr), "best_gap": float(row.best_gap),
            "minutes_per_configuration": float(row.minutes_per_configuration)}
