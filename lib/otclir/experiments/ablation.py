"""The hybrid-batch ablation grid: alpha x lambda (OT weight) x training budget x seed.

Each configuration gets its own folder, ``outputs/ablation/<grid>/<point>-<hash>/``, holding
``train/`` (checkpoints, log, students), ``runs/<setting>/`` (TREC runs and qrels),
``perquery.tsv``, ``summary.tsv`` and ``config.json``. A configuration whose summary exists with
the same settings is skipped; one interrupted mid-training resumes from its last checkpoint.
The untrained student is evaluated once as the grid's reference (``zero-shot``).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from otclir import checks
from otclir.data.languages import check_languages
from otclir.data.splits import SPLITS
from otclir.data.tasks import BIBLE_TASKS
from otclir.errors import OtclirError
from otclir.evaluation.retrieval_settings import (
    DEFAULT_SETTINGS,
    MEASURES,
    RETRIEVAL_SETTINGS,
    encode_pool,
    evaluate_settings,
    parallel_pools,
)
from otclir.experiments.provenance import code_fingerprint
from otclir.paths import outputs_dir
from otclir.settings import Settings, choice, each, flag, mapping, number, setting, text, whole
from otclir.training.configs import ContrastiveConfig
from otclir.training.trainer import train

POINT = ("alpha", "ot_weight", "train_pairs", "seed")
SUMMARY, PER_QUERY, CONFIG = "summary.tsv", "perquery.tsv", "config.json"


@dataclass
class GridEvaluation(Settings):
    """How every configuration of a grid is evaluated (the grid's ``evaluation`` mapping)."""

    WHAT = "evaluation setting"

    languages: list[str] | None = setting(None, check=each(text(), distinct=True, none=True))  # None: the training languages
    split: str = setting("test", check=choice(SPLITS, "splits"))
    max_queries: int | None = setting(None, check=whole(2, none=True))
    max_docs: int | None = setting(None, check=whole(2, none=True))
    depth: int | None = setting(100, check=whole(1, none=True))  # None: measures over the whole pool
    seed: int = setting(0, check=whole(0))
    settings: list[str] = setting(factory=lambda: list(DEFAULT_SETTINGS),
                                  check=each(choice(RETRIEVAL_SETTINGS, "settings"), distinct=True))
    measures: list[str] = setting(factory=lambda: list(MEASURES), check=each(text(), distinct=True))
    # documents per query in the stored runs of a whole-pool evaluation (added later; runs had 100 before)
    run_depth: int = setting(100, check=whole(0), added=100)
    tasks: list[str] = setting(factory=lambda: ["crossref"], check=each(choice(BIBLE_TASKS, "tasks"), distinct=True),
                               added=["crossref"])  # the topical task asks in English only

    def __post_init__(self):
        super().__post_init__()
        if self.languages is not None:
            check_languages(self.languages)


@dataclass
class AblationGrid(Settings):
    WHAT = "grid setting"

    name: str = setting("quick", check=text())
    alphas: list[float] = setting(factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0], check=each(number(), distinct=True))
    ot_weights: list[float] = setting(factory=lambda: [0.0, 0.1], check=each(number(), distinct=True))
    # verse pairs, each in every language; None: all
    budgets: list[int | None] = setting(factory=lambda: [2000], check=each(whole(1, none=True), distinct=True))
    seeds: list[int] = setting(factory=lambda: [0], check=each(whole(0), distinct=True))
    training: dict = setting(factory=dict, check=mapping())  # other ContrastiveConfig settings, shared by all points
    evaluation: dict = setting(factory=dict, check=mapping())  # a GridEvaluation
    baseline: bool = setting(True, check=flag())  # also evaluate the untrained student

    def __post_init__(self):
        super().__post_init__()
        clash = sorted(set(self.training) & set(POINT))
        if clash:
            raise OtclirError(f"{', '.join(clash)} are grid axes (alphas, ot_weights, budgets, seeds), not training settings")
        self.evaluation_settings()
        for point in self.points():  # every configuration is checked before any training starts
            self.config(point)

    def points(self) -> list[dict]:
        return [dict(zip(POINT, values)) for values in
                itertools.product(self.alphas, self.ot_weights, self.budgets, self.seeds)]

    def config(self, point: dict) -> ContrastiveConfig:
        return ContrastiveConfig.from_dict({**self.training, **point})

    def evaluation_settings(self) -> dict:
        settings = GridEvaluation.from_dict(self.evaluation).to_record()
        if settings["languages"] is None:
            settings["languages"] = self.config(self.points()[0]).languages
        return settings

    def folder(self) -> Path:
        return outputs_dir("ablation", self.name)


@dataclass
class HybridParameters(Settings):
    """Notebook 04's parameters: the grid and how its reading is done, checked before anything runs."""

    WHAT = "notebook 04 setting"

    grid_name: str = setting("quick", check=text())
    alphas: list[float] = setting(factory=lambda: [0.0, 0.5, 1.0], check=each(number(), distinct=True))
    ot_weights: list[float] = setting(factory=lambda: [0.0], check=each(number(), distinct=True))
    budgets: list[int | None] = setting(factory=lambda: [200], check=each(whole(1, none=True), distinct=True))
    seeds: list[int] = setting(factory=lambda: [0], check=each(whole(0), distinct=True))
    training: dict = setting(factory=dict, check=mapping())
    evaluation: dict = setting(factory=dict, check=mapping())
    measure: str = setting("AP", check=text())
    reference_alpha: float = setting(0.5, check=number(0, 1, says="is a probability in [0, 1]"))
    pairs_collection: str | None = setting(None, check=text(none=True))
    workers: int = setting(1, check=whole(1))

    def __post_init__(self):
        super().__post_init__()
        measures = self.grid().evaluation_settings()["measures"]
        if self.measure not in measures:
            raise OtclirError(f"unknown measure {self.measure!r}; the grid measures: {', '.join(measures)}")

    def grid(self) -> "AblationGrid":
        training = {**self.training, "pairs_collection": self.pairs_collection} if self.pairs_collection else self.training
        return AblationGrid.from_dict({"name": self.grid_name, "alphas": self.alphas, "ot_weights": self.ot_weights,
                                       "budgets": self.budgets, "seeds": self.seeds, "training": training,
                                       "evaluation": self.evaluation})


def _digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]


def point_label(point: dict) -> str:
    budget = "all" if point["train_pairs"] is None else point["train_pairs"]
    return f"alpha{point['alpha']:g}-lambda{point['ot_weight']:g}-budget{budget}-seed{point['seed']}"


def _finished(folder: Path, record: dict) -> bool:
    path = folder / CONFIG
    return (folder / SUMMARY).is_file() and path.is_file() and json.loads(path.read_text()) == record


def evaluation_pools(evaluation: dict) -> dict:
    """The parallel pools (one per task, the same documents) every configuration is evaluated on."""
    return parallel_pools(evaluation["languages"], evaluation.get("tasks", ["crossref"]), evaluation["split"],
                          evaluation["max_queries"], evaluation["max_docs"], evaluation["seed"])


def evaluation_pool(evaluation: dict):
    """The first task's pool (the cross-reference one unless the grid names only others)."""
    return next(iter(evaluation_pools(evaluation).values()))


def evaluate_model(model: str, evaluation: dict, folder: Path, tag: str) -> pd.DataFrame:
    """Every evaluation setting of every task for one model (its documents encoded once for all);
    writes runs, the per-query table and the summary, each row naming its task."""
    from otclir.models.encoder import Encoder
    from otclir.models.state_cache import encode_sharing

    import torch

    pools = evaluation_pools(evaluation)
    encoder = Encoder(model, device="cuda" if torch.cuda.is_available() else "cpu")
    documents = None
    summaries, tables = [], []
    for task, pool in pools.items():
        if documents is None:
            embeddings = encode_pool(encoder, pool)
            documents = {code: vectors for code, (_, vectors) in embeddings.items()}
        else:
            embeddings = {code: (encode_sharing(encoder, [pool.query_text(code, q) for q in pool.queries], "query")
                                 if code in pool.query_languages else None, documents[code]) for code in pool.languages}
        runs = folder / "runs" if len(pools) == 1 else folder / "runs" / task
        summary, table = evaluate_settings(embeddings, pool, evaluation["settings"], evaluation["measures"],
                                           evaluation["depth"], runs, tag,
                                           evaluation.get("run_depth", GridEvaluation.run_depth))
        if "tasks" in evaluation:  # grids stored before tasks existed keep their tables' columns
            summary.insert(0, "task", task)
            table.insert(0, "task", task)
        summaries.append(summary)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(folder / PER_QUERY, sep="\t", index=False, float_format="%.6f")
    return pd.concat(summaries, ignore_index=True)


def point_record(grid: AblationGrid, point: dict | None) -> tuple[str, dict, Path]:
    """A configuration's label, its full settings (what must match for it to count as done) and
    its folder; ``point=None`` is the untrained student."""
    evaluation = grid.evaluation_settings()
    if point is None:
        record = {"system": "zero-shot", "model": grid.training.get("student", ContrastiveConfig.student),
                  "evaluation": evaluation}
        label = "zero-shot"
    else:
        record = {"system": "trained", "point": point, "training": grid.config(point).to_record(), "evaluation": evaluation}
        label = point_label(point)
    record["code"] = code_fingerprint("otclir.experiments.ablation:run_point")  # other code: computed again, never reused
    return label, record, grid.folder() / f"{label}-{_digest(record)}"


def run_point(grid: AblationGrid, point: dict | None, log=print, stop_after: int | None = None,
              progress: bool = True) -> dict:
    """Train (or resume) and evaluate one configuration; ``point=None`` is the untrained student."""
    checks.code_unchanged("otclir.experiments.ablation:run_point")  # worker processes outlive an edit
    label, record, folder = point_record(grid, point)
    evaluation = record["evaluation"]
    model = record.get("model")
    if _finished(folder, record):
        log(f"{label}: done, skipped")
        return {"folder": folder, "status": "skipped"}
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    if point is not None:
        result = train(grid.config(point), folder / "train", stop_after=stop_after, progress=progress)
        if "interrupted_at" in result:
            log(f"{label}: stopped at step {result['interrupted_at']}")
            return {"folder": folder, "status": "interrupted"}
        model = result["model"]
    trained = time.time() - started
    summary = evaluate_model(model, evaluation, folder, tag=label.replace(" ", "_"))
    for key in POINT:
        summary.insert(POINT.index(key), key, None if point is None else point[key])
    summary.insert(0, "system", record["system"])
    summary.to_csv(folder / SUMMARY, sep="\t", index=False, float_format="%.6f")
    timing = {"train_seconds": round(trained, 1), "evaluate_seconds": round(time.time() - started - trained, 1)}
    if point is not None and result.get("best"):
        timing["selected_step"] = result["best"]["step"]  # the dev-selected step (0: the untrained student)
    (folder / "timing.json").write_text(json.dumps(timing) + "\n")
    (folder / CONFIG).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")  # written last: marks it finished
    log(f"{label}: trained in {timing['train_seconds']:.0f} s, evaluated in {timing['evaluate_seconds']:.0f} s")
    return {"folder": folder, "status": "done", **timing}


def run_grid(grid: AblationGrid, log=print, stop_after: int | None = None, progress: bool = True,
             workers: int = 1) -> pd.DataFrame:
    """Every configuration of the grid (and the untrained reference); returns what ``load_grid``
    reads. ``log`` gets a line per configuration; ``progress`` shows each training's progress bar.
    ``workers`` above 1 runs configurations in that many processes at once (on one GPU, small
    models leave it idle between steps; each process gets an equal share of the CPU threads)."""
    points = ([None] if grid.baseline else []) + grid.points()
    if workers > 1:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        with context.Pool(workers, initializer=_worker_threads, initargs=(threads,)) as pool:
            for line in pool.imap_unordered(_run_in_worker, [(grid, point, stop_after) for point in points]):
                log(line)
        return load_grid(grid)
    for i, point in enumerate(points, 1):
        log(f"[{i}/{len(points)}] " + ("zero-shot" if point is None else point_label(point)))
        run_point(grid, point, log, stop_after, progress)
    return load_grid(grid)


def _worker_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_in_worker(task) -> str:
    grid, point, stop_after = task
    lines = []
    run_point(grid, point, lines.append, stop_after, progress=False)
    return "; ".join(lines)


def load_grid(grid: AblationGrid, per_query: bool = False) -> pd.DataFrame:
    """The finished configurations of this grid's settings: their summaries (or per-query rows),
    with the grid point as columns and the seconds each took."""
    frames = []
    for point in ([None] if grid.baseline else []) + grid.points():
        _, record, folder = point_record(grid, point)
        if not _finished(folder, record):
            continue
        if per_query:
            frame = pd.read_csv(folder / PER_QUERY, sep="\t", dtype={"query": str})
            for key in reversed(POINT):
                frame.insert(0, key, None if point is None else point[key])
            frame.insert(0, "system", record["system"])
        else:
            frame = pd.read_csv(folder / SUMMARY, sep="\t")
            timing = json.loads((folder / "timing.json").read_text())
            frame["train_seconds"], frame["evaluate_seconds"] = timing["train_seconds"], timing["evaluate_seconds"]
            if "selected_step" in timing:
                frame["selected_step"] = timing["selected_step"]
        frames.append(frame)
    if not frames:
        raise OtclirError(f"no finished configuration of grid '{grid.name}' under {grid.folder()}; run it with run_grid first")
    return pd.concat(frames, ignore_index=True)


def store_grid(grid: AblationGrid, store, log=print, progress: bool = True, workers: int = 1) -> dict:
    """Run the grid and write what notebook reporting needs into a results store: the summaries,
    per-query rows and training logs of every configuration, with the provenance."""
    from otclir.training.checkpoints import read_log

    started = time.time()
    with store.recomputing():
        store.start(grid.to_record())
        summary = run_grid(grid, log=log, progress=progress, workers=workers)
        store.write_table("summary.csv", summary)
        write_per_query(store, load_grid(grid, per_query=True))
        logs = []
        for point in grid.points():
            label, _, folder = point_record(grid, point)
            if (folder / "train" / "log.jsonl").is_file():
                logs.append(read_log(folder / "train").assign(config=label))
        if logs:
            store.write_table("training_logs.csv.gz", pd.concat(logs, ignore_index=True))
        return store.finish(time.time() - started, grid.to_record())


PER_QUERY_PART_ROWS = 200_000  # rows per stored per-query file, which keeps each under the store's size cap


def write_per_query(store, per_query: pd.DataFrame) -> list[Path]:
    """Per-query rows as ``perquery-<setting>-<n>.csv.gz``, a file per setting and block of rows."""
    for old in store.staging.glob("perquery*.csv.gz"):
        old.unlink()
    paths = []
    for name, part in per_query.groupby("setting", sort=False):
        for n, start in enumerate(range(0, len(part), PER_QUERY_PART_ROWS), 1):
            paths.append(store.write_table(f"perquery-{name}-{n}.csv.gz", part.iloc[start:start + PER_QUERY_PART_ROWS]))
    return paths


def read_stored_grid(store, grid: AblationGrid | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summaries and per-query rows a results store holds for a grid; with ``grid``, checked
    to hold every configuration (each seed) in every evaluation setting, and no empty value."""
    from otclir.experiments.results import check_covers, check_no_missing_values

    summary = store.read_table("summary.csv")
    names = sorted(n for n in store.recorded_files() if n.startswith("perquery-") and n.endswith(".csv.gz")) \
        or ["perquery.csv.gz"]  # one file: older stores
    per_query = pd.concat([store.read_table(name, dtype={"query": str}) for name in names], ignore_index=True)
    if grid is not None:
        settings = grid.evaluation_settings()["settings"]
        check_covers(summary.setting, settings, "summary.csv", "evaluation setting(s)")
        check_covers(per_query.setting, settings, "the per-query files", "evaluation setting(s)")
        for frame, label in ((summary, "summary.csv"), (per_query, "the per-query files")):
            trained = frame[frame.system == "trained"]
            found = set(zip(trained.alpha, trained.ot_weight, trained.train_pairs.fillna(-1), trained.seed))
            expected = [(p["alpha"], p["ot_weight"], -1 if p["train_pairs"] is None else p["train_pairs"], p["seed"])
                        for p in grid.points()]
            check_covers(found, expected, label, "configuration(s) (alpha, lambda, budget, seed)")
        check_no_missing_values(per_query, "the per-query files", ["AP"], ("setting", "alpha", "ot_weight", "seed"))
    return summary, per_query
