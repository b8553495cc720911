"""The distillation experiment end to end: the recipe study, then the headline comparison of every
system on every language and budget with the chosen recipe, written to a results folder.

``compute`` trains and evaluates and writes ``results/<profile>/03_distillation_training/``:
``study.csv``, ``study_agreement.csv`` and ``study_provenance.json`` (the recipe study),
``recipes.json`` (the recipe each objective got and why), ``results.csv`` (mean measures per language, system and scorer, with the
share of the zero-shot→ceiling gap and each student's selected step), ``perquery_<pair>.csv.gz``
(per-query measures, read by the significance analysis) and ``training_logs.csv.gz`` (every
logged step: loss terms, plan diagnostics, dev signals). ``load`` reads them back.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from otclir.data.languages import check_languages
from otclir.errors import OtclirError
from otclir.experiments.provenance import provenance
from otclir.experiments.results import (
    SETTINGS_FILE,
    DamagedResults,
    ResultStore,
    check_covers,
    check_no_missing_values,
)
from otclir.retrieval.system_names import (
    BM25_DICTIONARY,
    BM25_FREEDICT,
    DEFAULT_SYSTEMS,
    DISTILLED,
    RRF_DICTIONARY,
    SCORERS,
    SYSTEMS,
    UPPER_BOUNDS,
    budget_tag,
    dictionary_name,
    distilled_name,
    fusion_name,
    parse,
)
from otclir.settings import Settings, as_json, choice, each, mapping, setting, text, whole
from otclir.training.configs import DistillConfig
from otclir.data.tasks import BIBLE_TASKS
from otclir.retrieval.dense import DEV_SIGNALS
from otclir.transport.objectives import OBJECTIVES, transports

NOTEBOOK = "03_distillation_training"
STUDY_PROVENANCE = "study_provenance.json"  # the study's own record: a rerun may reuse it
STUDY_LOGS = "study_logs.csv.gz"  # the study's training logs, so that a rerun elsewhere reuses the study
PARTS = "parts"  # per-language results while a recomputation runs: a stopped one resumes from them


@dataclass
class ExperimentSettings(Settings):
    """Notebook 03's settings (the profile's section): every value is checked here, and every
    student's training settings are built once, before any result is touched."""

    WHAT = "notebook 03 setting"

    languages: list[str] = setting(factory=lambda: ["sw"], check=each(text(), distinct=True))
    budgets: list[int | None] = setting(factory=lambda: [2000], check=each(whole(1, none=True), distinct=True))
    objectives: list[str] = setting(factory=lambda: list(OBJECTIVES), check=each(choice(OBJECTIVES, "objectives"),
                                                                                 distinct=True))
    training: dict = setting(factory=dict, check=mapping())  # DistillConfig settings shared by every student
    study: dict | None = setting(None, check=mapping(none=True))  # a StudyGrid; None: ``training`` as it is
    systems: list[str] | None = setting(None, check=each(choice(SYSTEMS, "systems"), distinct=True, none=True))
    scorers: list[str] = setting(factory=lambda: ["mean", "maxsim"], check=each(choice(SCORERS, "scorers"), distinct=True))
    rerank_depth: int = setting(200, check=whole(1))
    test_queries: int | None = setting(None, check=whole(2, none=True))
    test_docs: int | None = setting(None, check=whole(2, none=True))
    seed: int = setting(0, check=whole(0))
    # an ir_datasets id ({language} filled in) instead of the Bible's test task
    collection: str | None = setting(None, check=text(none=True), added=None)
    tasks: list[str] = setting(factory=lambda: ["crossref"], check=each(choice(BIBLE_TASKS, "tasks"), distinct=True),
                               added=["crossref"])
    run_depth: int | None = setting(None, check=whole(1, none=True), added=None)  # run files' depth (None: 1,000)
    # languages whose runs (each system, a student's first seed) the results keep, each query's top archive_depth
    archive_languages: list[str] = setting(factory=list, check=each(text(), distinct=True, empty=True), added=[])
    archive_depth: int = setting(10, check=whole(1), added=10)
    # each student is trained once per seed (the pair sample, data order and dropout); None: once, with ``seed``
    training_seeds: list[int] | None = setting(None, check=each(whole(0), distinct=True, none=True), added=None)
    # a TSV file of (English, target) pairs instead of the Bible's train split
    bitext: str | None = setting(None, check=text(none=True), added=None)

    def __post_init__(self):
        super().__post_init__()
        check_languages(self.languages)
        self.systems = list(DEFAULT_SYSTEMS if self.systems is None else self.systems)
        for language in self.languages:  # every student's settings, checked before anything trains
            for objective in self.objectives:
                for budget in self.budgets:
                    DistillConfig.from_dict({**self.training, "language": language, "objective": objective,
                                             "train_pairs": budget})
        if self.study is not None:
            self.study_grid()  # validate early: nothing is trained on a bad grid
        if self.bitext is not None:
            from otclir.data.tasks import read_bitext

            read_bitext(self.bitext)  # a missing or malformed file fails before anything trains
        if self.collection is not None and len(self.languages) > 1 and "{language}" not in self.collection:
            raise OtclirError(f"one collection '{self.collection}' for {len(self.languages)} languages; write "
                              "'{language}' where its id names the language (wikiclir/{language})")

    @property
    def student_seeds(self) -> list[int]:
        return list(self.training_seeds) if self.training_seeds is not None else [self.seed]

    def study_grid(self):
        from otclir.experiments.recipe_study import StudyGrid

        grid = dict(self.study)
        grid.setdefault("settings", {})
        grid["settings"] = {**self.training, **grid["settings"]}
        return StudyGrid.from_dict(grid)


def compute(settings: ExperimentSettings, store: ResultStore, progress: bool = True, log=print) -> dict:
    """Run the study (if any) and the headline comparison; write everything to ``store`` (the
    previous results are replaced only once everything is written)."""
    started = time.time()
    with store.recomputing():
        reused = reusable_study(settings, store)  # read before start() may clear the staging folder
        finished = finished_languages(settings, store)
        store.start(settings.to_record())
        return _compute(settings, store, reused, finished, started, progress, log)


def _compute(settings: ExperimentSettings, store: ResultStore, reused, finished, started: float, progress: bool,
             log) -> dict:
    from otclir.experiments import headline, recipe_study, systems
    from otclir.training.checkpoints import read_log

    recipes = default_recipes(settings)
    logs = []
    if settings.study is not None:
        grid = settings.study_grid()
        if reused is not None:
            points, study_logs, study_record = reused
            log(f"recipe study: reusing an earlier run's study (computed {study_record.get('date')})")
        else:
            study_started = time.time()
            points, study_logs = recipe_study.run_study(grid, store.profile, settings.test_queries, settings.test_docs,
                                                        settings.rerank_depth, settings.seed, progress, log,
                                                        done=staged_study_points(store),
                                                        keep=lambda *kept: keep_study_points(store, *kept))
            study_record = provenance(time.time() - study_started, study_part(settings), store.git_at_start())
        store.write_table("study.csv", points)
        store.write_table(STUDY_LOGS, study_logs)
        store.write_json(STUDY_PROVENANCE, study_record)
        store.write_table("study_agreement.csv", recipe_study.signal_agreement(points))
        logs.append(study_logs.assign(language=grid.language, budget=str(grid.settings.get("train_pairs")), part="study"))
        chosen = recipe_study.choose_recipes(points, grid.select_by)
        recipes = {o: recipe_study.recipe_settings(chosen[o], grid) for o in settings.objectives if o in chosen}
        missing = sorted(set(settings.objectives) - set(recipes))
        if missing:
            raise OtclirError(f"the study grid has no configuration for objective(s) {', '.join(missing)}")
    store.write_json("recipes.json", recipes)
    tables, resumed, parts = [], {}, {}
    for language in settings.languages:
        if language in finished:  # its students are not trained again: a fresh checkout has none of them
            frame, queries, resumed[language], language_logs = finished[language]
            log(f"{language}: reusing its finished test results (computed {resumed[language].get('date')})")
        else:
            began = time.time()
            students, runs, language_logs = {}, {}, []
            for budget in settings.budgets:
                for objective in settings.objectives:
                    for training_seed in settings.student_seeds:
                        config = headline_config(recipes[objective], settings, language, objective, budget, training_seed)
                        result = systems.train_students(language, config, [objective], [budget], progress)
                        name = distilled_name(objective, budget)
                        runs[(name, training_seed)] = result[name]
                        students.setdefault(name, {})[training_seed] = result[name]["model"]
                        history = read_log(result[name]["folder"])
                        language_logs.append(history.assign(config=name, language=language, budget=budget_tag(budget),
                                                            part="headline", seed=training_seed))
            language_logs = pd.concat(language_logs, ignore_index=True)
            frame, queries = headline.compare_systems(
                language, students, store.profile, settings.tasks, settings.test_queries, settings.test_docs,
                settings.systems, settings.budgets, settings.scorers, settings.rerank_depth, settings.seed, log,
                collection=settings.collection, bitext=settings.bitext, run_depth=settings.run_depth)
            frame = frame.merge(selection_table(runs), on=["system", "seed"], how="left")
            log(f"{language}: {len(students)} students x {len(settings.student_seeds)} seeds evaluated on "
                f"{', '.join(settings.tasks if settings.collection is None else ['the collection'])}")
        logs.append(language_logs)
        tables.append(frame)
        if language in settings.archive_languages:
            if language in finished:  # reused: its archived runs come along from where they were
                keep_archived_runs(store, language)
            else:
                archive_runs(store, settings, language)
        store.write_table(f"perquery_en-{language}.csv.gz", queries)
        store.write_table(f"{PARTS}/results_en-{language}.csv", frame)
        store.write_table(f"{PARTS}/training_logs_en-{language}.csv.gz", language_logs)
        parts[language] = resumed.get(language) or {**part_record(store), "seconds": round(time.time() - began, 1)}
        store.write_json(f"{PARTS}/results_en-{language}.json", parts[language])
    results = pd.concat(tables, ignore_index=True)
    store.write_table("results.csv", results)
    store.write_table("training_logs.csv.gz", pd.concat(logs, ignore_index=True))
    store.remove(PARTS)
    timed = {language: part["seconds"] for language, part in parts.items() if "seconds" in part}
    extra = {"language_seconds": timed, "language_commits": {k: (parts[k].get("git") or {}).get("commit") for k in timed}}
    if resumed:
        extra["resumed_languages"] = resumed
    return store.finish(time.time() - started, settings.to_record(), **extra)


def archive_runs(store: ResultStore, settings: ExperimentSettings, language: str) -> None:
    """Keep one language's runs in the results (``runs/<task>/en-<language>/<system>.<scorer>.run.gz``,
    each query's top ``archive_depth``): every system, a student with its first training seed, so
    a fresh clone can compare, fuse and export them."""
    from otclir.data import trec
    from otclir.experiments.headline import evaluation_tasks
    from otclir.experiments.systems import runs_folder
    from otclir.retrieval.system_names import split_seed

    first = settings.student_seeds[0]
    for task_name, task in evaluation_tasks(language, settings.tasks, settings.test_queries, settings.test_docs,
                                            settings.seed, settings.collection).items():
        for path in sorted(runs_folder(store.profile, task).glob("*.run")):
            name, scorer = path.name.removesuffix(".run").rsplit(".", 1)
            system, seed = split_seed(name)
            if seed is None or seed == first:
                store.write_run(f"runs/{task_name}/en-{language}/{system}.{scorer}.run.gz", trec.read_run(path),
                                f"{system}.{scorer}", settings.archive_depth)


def keep_archived_runs(store: ResultStore, language: str) -> None:
    """A reused language's archived runs, from a stopped run's staging folder or the previous results."""
    for folder in (store.staging, store.folder):
        found = sorted(folder.glob(f"runs/*/en-{language}/*.run.gz"))
        for path in found:
            store.copy_file(path, str(path.relative_to(folder)))
        if found:
            return


def part_record(store: ResultStore) -> dict:
    import datetime

    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git": store.git_at_start()}


def finished_languages(settings: ExperimentSettings, store: ResultStore) -> dict:
    """Languages whose test results an earlier run already wrote with the same settings for each
    language (all but the list of languages): a stopped recomputation's ``parts/`` (dropped when it
    finishes), or a finished one's tables, so a profile that adds a language computes that language
    only. {language: (table, per-query measures, when and at which commit, training logs)}: a
    finished language's students are not trained again."""
    wanted = language_free(settings.to_record())
    found = {}
    for run in store.earlier_runs():
        if language_free(run.settings) != wanted:
            continue
        tables = run.table("results.csv") if run.kind == "finished" and run.has("results.csv") else None
        for language in settings.languages:
            queries = f"perquery_en-{language}.csv.gz"
            part = (f"{PARTS}/results_en-{language}.csv", f"{PARTS}/results_en-{language}.json",
                    f"{PARTS}/training_logs_en-{language}.csv.gz")
            if language in found:
                continue
            if run.kind == "stopped" and run.has(*part, queries):
                found[language] = (run.table(part[0]), run.table(queries, dtype={"query": str}), run.json(part[1]),
                                   run.table(part[2], low_memory=False))
            elif tables is not None and run.has(queries, "training_logs.csv.gz") and (tables.language == language).any():
                logs = run.table("training_logs.csv.gz", low_memory=False)
                found[language] = (tables[tables.language == language].reset_index(drop=True),
                                   run.table(queries, dtype={"query": str}),
                                   run.record.get("resumed_languages", {}).get(language)
                                   or {"date": run.record["date"], "git": run.record["git"]},
                                   logs[(logs.part == "headline") & (logs.language == language)].reset_index(drop=True))
    return found


def language_free(settings: dict) -> dict:
    """Settings as stored, without the list of languages: what one language's results depend on."""
    return {k: v for k, v in as_json(settings).items() if k != "languages"}


def study_part(settings: ExperimentSettings) -> dict:
    """The settings a recipe study's results depend on."""
    values = settings.to_record()
    return {k: values[k] for k in ("study", "training", "test_queries", "test_docs", "rerank_depth", "seed")}


def reusable_study(settings: ExperimentSettings, store: ResultStore):
    """(points, logs, provenance) of a study an earlier run wrote (a stopped one's staging folder
    or the finished results) with the same study settings and its logs (stored, or every run's
    on this machine), else None: a recomputation that stopped after its study (the longest part) does not run it again."""
    from otclir.experiments.recipe_study import study_logs

    if settings.study is None:
        return None
    for run in store.earlier_runs():
        if run.has("study.csv", STUDY_PROVENANCE) and study_part(ExperimentSettings(**run.settings)) == study_part(settings):
            if run.has(STUDY_LOGS):  # stored beside the points: the study's trainings need not be on this machine
                logs = run.table(STUDY_LOGS, low_memory=False)
            else:
                logs = study_logs(settings.study_grid())
            if logs is None:
                return None
            return run.table("study.csv"), logs, run.json(STUDY_PROVENANCE)
    return None


def _study_part_name(label: str) -> str:
    import hashlib

    return f"{PARTS}/study/{hashlib.sha256(label.encode()).hexdigest()[:12]}"


def keep_study_points(store: ResultStore, label: str, points: pd.DataFrame, history: pd.DataFrame) -> None:
    """One finished study configuration's points and log, staged until the study is whole."""
    name = _study_part_name(label)
    store.write_table(f"{name}.log.csv.gz", history)
    store.write_table(f"{name}.points.csv", points)  # written last: its presence marks the configuration done


def staged_study_points(store: ResultStore) -> dict:
    """{label: (points, log)} of the study configurations a stopped run with these settings and
    this code finished (read after :meth:`ResultStore.start`, which keeps only such a run's files)."""
    found = {}
    for path in sorted((store.staging / PARTS / "study").glob("*.points.csv")):
        points = pd.read_csv(path)
        history = pd.read_csv(path.with_name(path.name.replace(".points.csv", ".log.csv.gz")), low_memory=False)
        found[str(points.config.iloc[0])] = (points, history)
    return found


def default_recipes(settings: ExperimentSettings) -> dict:
    """Without a study every objective trains with the shared settings for their number of steps."""
    return {o: {"objective": o, "epochs": None, "step": settings.training.get("steps"), "settings": dict(settings.training)}
            for o in settings.objectives}


def headline_config(recipe: dict, settings: ExperimentSettings, language: str, objective: str, budget,
                    training_seed: int | None = None) -> dict:
    """DistillConfig settings of one headline student: the recipe's, its length scaled to the
    budget (the same number of epochs), its dev checks as often per epoch as the study's; its
    seed (the pair sample, the data order, dropout) one of the settings' training seeds."""
    config = {**settings.training, **recipe["settings"], "seed": settings.seed if training_seed is None else training_seed}
    if settings.training_seeds is not None:
        config["dev_seed"] = settings.seed  # one dev sample for every training seed
    if settings.bitext is not None:
        config["bitext"] = settings.bitext
    if recipe.get("epochs") is not None:
        from otclir.data.tasks import bitext_pairs

        size = budget if budget is not None else len(bitext_pairs(language, budget=None, source=settings.bitext))
        per_epoch = max(1, size // config.get("batch_size", 16))
        epochs = max(recipe["epochs"], 1.0 / per_epoch)  # at least one step, even when the study chose none
        config["steps"] = max(1, int(round(epochs * per_epoch)))
        checks = recipe.get("checks_per_epoch", 1)
        config["eval_every"] = max(1, min(per_epoch // checks, config["steps"]))
        config["checkpoint_every"] = config["eval_every"]
    config.pop("keep_evaluated", None)
    return config


SELECTION_COLUMNS = ["system", "seed", "trained_steps", "selected_step", "selected_untrained", "selected_by", "plan",
                     *(f"selected_{signal}" for signal in DEV_SIGNALS)]


def selection_table(runs: dict[tuple[str, int], dict]) -> pd.DataFrame:
    """Per distilled system and training seed: its training length, the step dev selection kept,
    whether that is the untrained student (step 0), every dev signal's value there (what a rival
    is chosen by, never a test number) and, for an OT student, its plan source."""
    rows = []
    for (name, seed), result in runs.items():
        best = result.get("best") or {}
        step = best.get("step", result["steps"])
        config = result.get("config") or {}
        rows.append({"system": name, "seed": seed, "trained_steps": result["steps"], "selected_step": step,
                     "selected_untrained": step == 0, "selected_by": best.get("selected_by"),
                     "plan": config.get("plan", "fixed") if transports(config.get("objective", "")) else None,
                     **{f"selected_{signal}": best.get(signal) for signal in DEV_SIGNALS}})
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)


def load(store: ResultStore) -> dict:
    """The stored tables of an experiment, for reporting, checked to be whole: every language,
    system and scorer the settings name, every query for every system, no empty per-query value."""
    store.require()
    settings = ExperimentSettings(**store.read_json(SETTINGS_FILE))
    out = {"settings": settings, "provenance": store.provenance(), "recipes": store.read_json("recipes.json"),
           "results": store.read_table("results.csv"),
           "logs": store.read_table("training_logs.csv.gz", low_memory=False),
           "per_query": {f"en-{lang}": store.read_table(f"perquery_en-{lang}.csv.gz", dtype={"query": str})
                         for lang in settings.languages}}
    check_stored(settings, out["results"], out["per_query"])
    if settings.study is not None:
        out["study"] = store.read_table("study.csv")
        out["study_provenance"] = store.read_json(STUDY_PROVENANCE)
        out["agreement"] = store.read_table("study_agreement.csv")
    return out


def expected_systems(settings: ExperimentSettings) -> list[str]:
    """The systems the settings make, as the results name them (the optional FreeDict baseline and,
    on a collection, the upper bounds need not be there)."""
    names = []
    for system in settings.systems:
        if system == DISTILLED:
            names += [distilled_name(o, b) for b in settings.budgets for o in settings.objectives]
        elif system == BM25_DICTIONARY:
            names += [dictionary_name(b) for b in settings.budgets]
        elif system == RRF_DICTIONARY:
            names += [fusion_name(b) for b in settings.budgets]
        elif system != BM25_FREEDICT and not (settings.collection and system in UPPER_BOUNDS):
            names.append(system)
    return names


def check_stored(settings: ExperimentSettings, results: pd.DataFrame, per_query: dict[str, pd.DataFrame]) -> None:
    """Stored results cover their settings: every task, language and system, every query of a task
    for every system, scorer and training seed."""
    check_covers(results.language, settings.languages, "results.csv", "language(s)")
    tasks = ["collection"] if settings.collection else settings.tasks
    systems = expected_systems(settings)
    for language in settings.languages:
        label = f"perquery_en-{language}.csv.gz"
        table = per_query[f"en-{language}"]
        by_task = "task" in table.columns
        for task in tasks:
            rows = results[(results.language == language) & ((results.task == task) if "task" in results else True)]
            check_covers(rows.system, systems, "results.csv", f"{language} {task} system(s)")
            part = table[table.task == task] if by_task else table
            check_covers(part.system, systems, label, f"{task} system(s)")
            keys = [k for k in ("system", "scorer", "seed") if k in part.columns]
            counts = part.groupby(keys, dropna=False)["query"].nunique()
            if counts.nunique() > 1:
                short = counts[counts < counts.max()]
                raise DamagedResults(f"{label}: {short.index[0]} has {short.iloc[0]} of {counts.max()} {task} queries; "
                                     "the per-query measures are partial: recompute them")
            if "seed" in part.columns:
                seeds = part[part.system.map(lambda c: parse(c).distilled)].groupby("system").seed.nunique()
                few = seeds[seeds < len(settings.student_seeds)]
                if len(few):
                    raise DamagedResults(f"{label}: {few.index[0]} has {few.iloc[0]} of the {len(settings.student_seeds)} "
                                         "training seeds its settings name; recompute the results")
        check_no_missing_values(table, label, [c for c in ("AP", "nDCG@10") if c in table.columns],
                                ("task", "system", "scorer", "seed"))


def results_profile(profile: str, asked: str | None = None) -> str:
    """Whose stored results a reading notebook reads: ``asked``, else its own profile's, else those
    of the profile a customised run (``paper+custom``) changes, so a reading can take its own
    parameters over stored results."""
    if asked:
        return asked
    if ResultStore(profile, NOTEBOOK).exists() or "+" not in profile:
        return profile
    return profile.split("+", 1)[0]


def check_collection(settings: ExperimentSettings, collection: str | None) -> None:
    """The significance analysis reads the results of the collection it is asked about, or says so."""
    if settings.collection != collection:
        stored = settings.collection or "the Bible (collection None)"
        raise OtclirError(f"these results were computed on {stored}, not on {collection or 'the Bible'}; pass "
                          f"-p collection {settings.collection!r} or recompute notebook 03 on the collection")
