"""Every system of notebook 03 on one language: each Bible task (or a collection) over one pool of
documents, each distilled student with every training seed, the baselines and the upper bounds.

Document encodings are shared: a system's documents are encoded once and scored against every
task's queries (the tasks rank the same verses); students that froze their lower layers continue
from the base model's states of the pool, computed once per process. Per-query rows carry the
task, the system, the scorer and, for students, the training seed.
"""
from __future__ import annotations

import pandas as pd

from otclir.data.tasks import RetrievalTask, bible_tasks
from otclir.errors import MissingPackageError, OtclirError
from otclir.experiments.systems import (
    SystemRunner,
    add_gap_share,
    english_documents,
    query_encoder_of,
    runs_folder,
)
from otclir.retrieval.system_names import (
    BASELINE_SCORER,
    BM25_DICTIONARY,
    BM25_ENGLISH,
    BM25_FREEDICT,
    CEILING,
    DEFAULT_SYSTEMS,
    DISTILLED,
    MINILM_ON_TARGET,
    ORACLE,
    RRF_DICTIONARY,
    SCORERS,
    SYSTEMS,
    UPPER_BOUNDS,
    ZERO_SHOT,
    dictionary_name,
    fusion_name,
    seeded_name,
)
from otclir.settings import choice, each

RRF_K = 60  # reciprocal-rank fusion's constant (Cormack, Clarke and Buettcher 2009)


def reciprocal_rank_fusion(runs, k: int = RRF_K, depth: int = 1000) -> dict[str, dict[str, float]]:
    """Each document's sum over the runs of 1 / (k + its rank there), the top ``depth`` kept."""
    from otclir.data.trec import ranked

    fused: dict[str, dict[str, float]] = {}
    for run in runs:
        for query, scores in run.items():
            target = fused.setdefault(query, {})
            for rank, (doc, _) in enumerate(ranked(scores), start=1):
                target[doc] = target.get(doc, 0.0) + 1.0 / (k + rank)
    return {q: dict(ranked(s)[:depth]) for q, s in fused.items()}


class TaskRunners:
    """One :class:`SystemRunner` per task, the tasks sharing their documents: a system's documents
    are encoded once and scored for every task."""

    def __init__(self, tasks: dict[str, RetrievalTask], run_name: str, scorers=SCORERS, rerank_depth: int = 200,
                 on_disk: bool = False, run_depth: int | None = None):
        docs = {name: list(task.docs) for name, task in tasks.items()}
        if len({tuple(d) for d in docs.values()}) > 1:
            raise OtclirError(f"the tasks {', '.join(tasks)} rank different documents; they cannot share encodings")
        self.runners = {name: SystemRunner(task, run_name, scorers=scorers, rerank_depth=rerank_depth, on_disk=on_disk,
                                           run_depth=run_depth) for name, task in tasks.items()}
        self.first = next(iter(self.runners.values()))
        for runner in self.runners.values():
            runner._encoders = self.first._encoders  # one encoder of each model for every task

    def dense(self, system: str, query_model: str, doc_model: str, doc_texts: dict[str, str] | None = None) -> list[dict]:
        docs = None if self.first.on_disk else self.first.documents(doc_model, doc_texts or self.first.task.docs)
        rows = []
        for name, runner in self.runners.items():
            rows += [{"task": name, **row} for row in runner.dense(system, query_model, doc_model, doc_texts, docs=docs)]
        if doc_model not in ("e5-small-student", "minilm-teacher"):
            self.first._encoders.pop(doc_model, None)  # a trained student is used once
        return rows

    def save(self, system: str, scorer: str, runs: dict[str, dict]) -> list[dict]:
        """Runs computed per task (``runs``: task -> run) saved with their measures."""
        return [{"task": name, **runner.save(system, scorer, runs[name])} for name, runner in self.runners.items()]

    def per_query(self) -> pd.DataFrame:
        frames = []
        for name, runner in self.runners.items():
            frame = runner.per_query()
            frame.insert(0, "task", name)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def __iter__(self):
        return iter(self.runners.items())


def evaluation_tasks(language: str, tasks, test_queries: int | None, test_docs: int | None, seed: int,
                     collection: str | None = None) -> dict[str, RetrievalTask]:
    if collection is not None:
        from otclir.data.external import collection_id, load_ir_dataset

        return {"collection": load_ir_dataset(collection_id(collection, language), test_queries, test_docs, seed)}
    return bible_tasks(tasks, language, "test", max_queries=test_queries, max_docs=test_docs, seed=seed)


def compare_systems(language: str, students: dict[str, dict[int, str]], run_name: str, tasks=("crossref",),
                    test_queries: int | None = None, test_docs: int | None = None, systems=DEFAULT_SYSTEMS,
                    budgets=(2000,), scorers=SCORERS, rerank_depth: int = 200, seed: int = 0, log=print,
                    collection: str | None = None, bitext: str | None = None,
                    run_depth: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every system's mean measures on one language's test split, per task (and the per-query
    measures); runs are written to disk. ``students`` maps a distilled system's name to its model
    folder per training seed. ``collection`` (an ir_datasets id, ``{language}`` filled in) replaces
    the Bible's tasks; its documents are encoded to disk in blocks, and the systems that need each
    document's English text are left out. ``bitext`` (a TSV file) is what the dictionary learns from."""
    from otclir.retrieval.dictionary import bm25_dictionary_run, freedict_dictionary, induced_dictionary

    each(choice(SYSTEMS, "systems"), distinct=True)("systems", list(systems))
    found = evaluation_tasks(language, tasks, test_queries, test_docs, seed, collection)
    if collection is not None:
        skipped = [s for s in systems if s in UPPER_BOUNDS]
        if skipped:
            log(f"{', '.join(skipped)} left out on {found['collection'].name}: the collection has no English text of its "
                "documents")
        systems = [s for s in systems if s not in UPPER_BOUNDS]
    for task in found.values():
        for path in runs_folder(run_name, task).glob("*.perquery.tsv"):  # a rerun replaces the last one's systems
            path.unlink()
    runners = TaskRunners(found, run_name, scorers=scorers, rerank_depth=rerank_depth, on_disk=collection is not None,
                          run_depth=run_depth)
    teachers = sorted({query_encoder_of(path) for seeds in students.values() for path in seeds.values()}) \
        or ["e5-small-student"]
    if len(teachers) > 1:
        raise OtclirError(f"the students were distilled from different teachers ({', '.join(teachers)}); compare them separately")
    english = english_documents(runners.first.task) if any(s in systems for s in UPPER_BOUNDS) else {}
    dictionaries = {}
    rows = []
    for system in systems:
        if system == ZERO_SHOT:
            rows += runners.dense(system, "e5-small-student", "e5-small-student")
        elif system == MINILM_ON_TARGET:
            rows += runners.dense(system, "minilm-teacher", "minilm-teacher")
        elif system == DISTILLED:
            for name, seeds in students.items():
                for training_seed, path in sorted(seeds.items()):
                    rows += [{**row, "system": name, "seed": training_seed}
                             for row in runners.dense(seeded_name(name, training_seed), query_encoder_of(path), path)]
        elif system in (BM25_DICTIONARY, RRF_DICTIONARY):
            for budget in budgets:
                if budget not in dictionaries:
                    dictionaries[budget] = induced_dictionary(language, "en", budget, seed, bitext=bitext)
                lexical = {name: bm25_dictionary_run(runner.task, dictionaries[budget]) for name, runner in runners}
                if system == BM25_DICTIONARY:
                    rows += runners.save(dictionary_name(budget), BASELINE_SCORER, lexical)
                else:
                    fused = {name: reciprocal_rank_fusion([lexical[name], runner.mean_run(ZERO_SHOT)])
                             for name, runner in runners}
                    rows += runners.save(fusion_name(budget), BASELINE_SCORER, fused)
        elif system == BM25_FREEDICT:
            try:
                dictionary = freedict_dictionary("en", language)
            except MissingPackageError as err:
                log(f"{system} skipped for {language}: {err}")
                continue
            rows += runners.save(system, BASELINE_SCORER, {n: bm25_dictionary_run(r.task, dictionary) for n, r in runners})
        elif system == BM25_ENGLISH:  # the lexical monolingual reference: English queries against English text
            rows += runners.save(system, BASELINE_SCORER, {n: bm25_dictionary_run(_with_docs(r.task, english), {})
                                                           for n, r in runners})
        elif system == CEILING:
            rows += runners.dense(system, teachers[0], teachers[0], doc_texts=english)
        elif system == ORACLE:
            rows += runners.dense(system, "minilm-teacher", "minilm-teacher", doc_texts=english)
    frame = pd.DataFrame(rows)
    if "seed" not in frame:
        frame["seed"] = float("nan")
    frame.insert(0, "language", language)
    frame = add_gap_share(frame)
    for name, runner in runners:
        frame[frame.task == name].to_csv(runner.folder / "summary.tsv", sep="\t", index=False, float_format="%.6f")
    per_query = runners.per_query()
    per_query.insert(0, "language", language)
    return frame, per_query


def _with_docs(task: RetrievalTask, docs: dict[str, str]) -> RetrievalTask:
    import dataclasses

    return dataclasses.replace(task, docs={d: docs[d] for d in task.docs})
