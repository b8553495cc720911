"""The systems compared on cross-reference CLIR, run on one language and written as TREC runs.

Runs land in ``outputs/runs/<run_name>/<task kind>/<split>/<query lang>-<lang>/`` as
``<system>.run`` and ``<system>.perquery.tsv`` beside the task's ``qrels.txt``; notebook 05 and
``otclir compare`` read them from there.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from . import trec
from .bible import parse_verse_id, read_language
from .errors import MissingPackageError
from .evaluation import DEFAULT_MEASURES, dense_retrieve, save_system
from .paths import outputs_dir
from .tasks import RetrievalTask, crossref_task, subsample_documents
from .training import OBJECTIVES, DistillConfig, train

SYSTEMS = (
    "student-zero-shot",        # e5 queries and documents: its own multilingual space
    "minilm-on-target",         # the English retriever on target-language text, no transfer
    "distill-sentence_mse",     # Reimers and Gurevych 2020
    "distill-ot",               # OPTICAL
    "distill-ot+sentence_mse",
    "bm25-dictionary",          # BM25 with dictionary query translation, where a dictionary exists
    "oracle-translate-test",    # MiniLM on the English text of each document: an upper bound
)


def runs_folder(run_name: str, task: RetrievalTask) -> Path:
    base = task.name.split("@")[0]
    return outputs_dir("runs", run_name, *base.split("/"))


def train_folder(config: DistillConfig) -> Path:
    """One folder per distinct configuration, so reruns reuse finished training."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return outputs_dir("train", f"{config.language}-{config.objective}-{digest}")


def test_task(language: str, max_queries: int | None, max_docs: int | None, seed: int = 0) -> RetrievalTask:
    return subsample_documents(crossref_task(language, "test", max_queries=max_queries, seed=seed), max_docs, seed)


def train_students(language: str, settings: dict, objectives=OBJECTIVES) -> dict[str, dict]:
    """Train (or reuse) one student per objective; returns each run's result."""
    results = {}
    for objective in objectives:
        config = DistillConfig.from_dict({**settings, "language": language, "objective": objective})
        results[objective] = dict(train(config, train_folder(config)), folder=str(train_folder(config)))
    return results


class SystemRunner:
    """Runs every system on one task, sharing encoders and query embeddings between systems."""

    def __init__(self, task: RetrievalTask, run_name: str, measures=DEFAULT_MEASURES, batch_size: int = 64):
        self.task, self.measures, self.batch_size = task, tuple(measures), batch_size
        self.folder = runs_folder(run_name, task)
        self.query_ids, self.doc_ids = list(task.queries), list(task.docs)
        self._encoders: dict = {}
        self._queries: dict = {}
        trec.write_qrels(self.folder / "qrels.txt", task.qrels)
        (self.folder / "task.json").write_text(json.dumps({**task.meta, "name": task.name, **task.stats()}, indent=1) + "\n")

    def encoder(self, model: str):
        from .encoder import Encoder

        if model not in self._encoders:
            self._encoders[model] = Encoder(model)
        return self._encoders[model]

    def query_embeddings(self, model: str):
        if model not in self._queries:
            texts = [self.task.queries[q] for q in self.query_ids]
            self._queries[model] = self.encoder(model).encode(texts, kind="query", batch_size=self.batch_size)
        return self._queries[model]

    def dense(self, system: str, query_model: str, doc_model: str, doc_texts: dict[str, str] | None = None) -> dict:
        texts = doc_texts or self.task.docs
        docs = self.encoder(doc_model).encode([texts[d] for d in self.doc_ids], kind="passage", batch_size=self.batch_size)
        if doc_model not in ("e5-small-student", "minilm-teacher"):
            self._encoders.pop(doc_model, None)  # a trained student is used once
        run = dense_retrieve(self.query_embeddings(query_model), docs, self.query_ids, self.doc_ids,
                             exclude=self.task.exclude)
        return self.save(system, run)

    def save(self, system: str, run) -> dict:
        return {"system": system, **save_system(self.folder, system, run, self.task.qrels, self.measures)}


def compare_systems(language: str, students: dict[str, str], run_name: str, test_queries: int | None = None,
                    test_docs: int | None = None, systems=SYSTEMS, teacher: str = "e5-small-student",
                    seed: int = 0, log=print) -> pd.DataFrame:
    """Every system's mean measures on the test split of one language; runs written to disk."""
    from .dictionary import bm25_dictionary_run, find_dictionary, read_dictd

    task = test_task(language, test_queries, test_docs, seed)
    runner = SystemRunner(task, run_name)
    rows = []
    for system in systems:
        if system == "student-zero-shot":
            rows.append(runner.dense(system, "e5-small-student", "e5-small-student"))
        elif system == "minilm-on-target":
            rows.append(runner.dense(system, "minilm-teacher", "minilm-teacher"))
        elif system.startswith("distill-"):
            objective = system.removeprefix("distill-")
            if objective not in students:
                log(f"{system}: no trained student for objective '{objective}', skipped")
                continue
            rows.append(runner.dense(system, teacher, students[objective]))
        elif system == "bm25-dictionary":
            try:
                dictionary = read_dictd(find_dictionary("en", language))
            except MissingPackageError as err:
                log(f"{system} skipped for {language}: {err}")
                continue
            rows.append(runner.save(system, bm25_dictionary_run(task, dictionary)))
        elif system == "oracle-translate-test":
            english_verses = read_language("en")
            english = {d: english_verses[parse_verse_id(d)] for d in runner.doc_ids}
            rows.append(runner.dense(system, "minilm-teacher", "minilm-teacher", doc_texts=english))
        else:
            raise ValueError(f"unknown system '{system}'; systems: {', '.join(SYSTEMS)}")
    frame = pd.DataFrame(rows)
    frame.insert(0, "language", language)
    frame.to_csv(runner.folder / "summary.tsv", sep="\t", index=False, float_format="%.6f")
    return frame


def load_runs(run_name: str, kind: str = "crossref", split: str = "test") -> dict[str, dict]:
    """Per language pair: the qrels path and the run files notebook 03 wrote."""
    base = outputs_dir("runs", run_name, kind, split)
    found = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        runs = sorted(folder.glob("*.run"))
        if runs and (folder / "qrels.txt").is_file():
            found[folder.name] = {"qrels": folder / "qrels.txt", "runs": {r.stem: r for r in runs}}
    return found
