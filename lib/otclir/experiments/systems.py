"""The systems compared on cross-reference CLIR, run on one language and written as TREC runs.

Every dense system is scored two ways: ``mean`` (one mean-pooled vector per text, inner product)
and ``maxsim`` (late interaction over the content tokens, :mod:`otclir.retrieval.late_interaction`,
rescoring the mean-pooled ranking's top ``rerank_depth``). Runs land in
``outputs/runs/<profile>/<task kind>/<split>/<query lang>-<lang>/`` as ``<system>.<scorer>.run``
and ``<system>.<scorer>.perquery.tsv`` beside the task's ``qrels.txt``; ``otclir compare`` reads
them from there, and notebook 05 reads the per-query measures from the results folder.

Systems (:data:`SYSTEMS`): the student zero-shot; MiniLM on target-language text; one distilled
student per objective and budget (``distill-<objective>@<budget>``, queries read by the teacher
its record names); BM25 with query translation by a dictionary induced from the same bitext
budget (``bm25-dictionary@<budget>``) or, where Debian's FreeDict is installed and asked for,
by FreeDict (``bm25-freedict``); the ceiling (the students' query encoder reading the English
text of each document: what a perfect distillation reaches) and the translate-test oracle (MiniLM
on the English text). The last two are upper bounds, never baselines.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from otclir.data import trec
from otclir.data.tasks import RetrievalTask, crossref_task, subsample_documents
from otclir.errors import OtclirError
from otclir.paths import outputs_dir
from otclir.settings import choice, each
from otclir.retrieval.dense import dense_retrieve
from otclir.retrieval.measures import DEFAULT_MEASURES, save_system
from otclir.retrieval.system_names import CEILING, SCORERS, ZERO_SHOT, budget_tag, distilled_name, split_seed
from otclir.training.configs import DistillConfig
from otclir.training.trainer import train
from otclir.transport.objectives import OBJECTIVES



def runs_folder(run_name: str, task: RetrievalTask) -> Path:
    base = task.name.split("@")[0]
    return outputs_dir("runs", run_name, *base.split("/"))


def train_folder(config: DistillConfig) -> Path:
    """One folder per distinct configuration and training code, so reruns reuse finished training
    and never a run trained by other code."""
    from otclir.experiments.provenance import code_fingerprint

    record = {**config.to_record(), "code": code_fingerprint("otclir.training.trainer")}
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:10]
    return outputs_dir("train", f"{config.language}-{config.objective}-{digest}")


def test_task(language: str, max_queries: int | None, max_docs: int | None, seed: int = 0) -> RetrievalTask:
    return subsample_documents(crossref_task(language, "test", max_queries=max_queries, seed=seed), max_docs, seed)


def train_students(language: str, settings: dict, objectives=tuple(OBJECTIVES), budgets=(2000,),
                   progress: bool = True) -> dict[str, dict]:
    """Train (or reuse) one student per objective and budget; returns each run's result by system name."""
    results = {}
    for budget in budgets:
        for objective in objectives:
            config = DistillConfig.from_dict({**settings, "language": language, "objective": objective,
                                              "train_pairs": budget})
            folder = train_folder(config)
            results[distilled_name(objective, budget)] = dict(train(config, folder, progress=progress), folder=str(folder),
                                                              objective=objective, budget=budget_tag(budget))
    return results


def query_encoder_of(student: str) -> str:
    """The encoder that reads the queries for a distilled student: the teacher its record names."""
    from otclir.models.registry import DISTILLED_MARKER

    marker = Path(student) / DISTILLED_MARKER
    if not marker.is_file():
        raise OtclirError(f"{student} is not a student written by otclir.training.trainer (no {DISTILLED_MARKER})")
    return json.loads(marker.read_text())["config"]["teacher"]


class SystemRunner:
    """Runs every system on one task, sharing encoders, query encodings and the documents' frozen
    lower-layer states between systems."""

    def __init__(self, task: RetrievalTask, run_name: str, measures=DEFAULT_MEASURES, batch_size: int = 64,
                 scorers=SCORERS, rerank_depth: int = 200, on_disk: bool = False, run_depth: int | None = None):
        each(choice(SCORERS, "scorers"), distinct=True)("scorers", list(scorers))
        self.run_depth = run_depth  # documents per query written to the run files (None: all 1,000 ranked)
        self.task, self.measures, self.batch_size = task, tuple(measures), batch_size
        self.scorers, self.rerank_depth, self.on_disk = tuple(scorers), rerank_depth, on_disk
        self.folder = runs_folder(run_name, task)
        self.query_ids, self.doc_ids = list(task.queries), list(task.docs)
        self._encoders: dict = {}
        self._queries: dict = {}
        self.mean_runs: dict = {}
        self.token_bytes: dict[str, int] = {}
        trec.write_qrels(self.folder / "qrels.txt", task.qrels)
        (self.folder / "task.json").write_text(json.dumps({**task.meta, "name": task.name, **task.stats()}, indent=1) + "\n")

    def encoder(self, model: str):
        from otclir.models.encoder import Encoder

        if model not in self._encoders:
            self._encoders[model] = Encoder(model)
        return self._encoders[model]

    def queries(self, model: str):
        if model not in self._queries:
            texts = [self.task.queries[q] for q in self.query_ids]
            self._queries[model] = self.encoder(model).encode_tokens(texts, kind="query", batch_size=self.batch_size)
        return self._queries[model]

    def documents(self, model: str, texts: dict[str, str]):
        """Document encodings; a student continues from the base model's frozen-layer states, which
        are computed once per base model and layer (and process: every task and setting over the
        same verses shares them)."""
        from otclir.models.state_cache import lower_states

        encoder = self.encoder(model)
        frozen = encoder.shared_layers if encoder.spec.delta else 0
        if not frozen:
            return encoder.encode_tokens([texts[d] for d in self.doc_ids], kind="passage", batch_size=self.batch_size)
        base = next((e for e in self._encoders.values() if e.spec.path == encoder.spec.path and not e.spec.delta),
                    None) or self.encoder(encoder.spec.path)
        lower = lower_states(base, [texts[d] for d in self.doc_ids], "passage", frozen, self.batch_size)
        return encoder.encode_tokens(None, "passage", batch_size=self.batch_size, lower=lower)

    def dense(self, system: str, query_model: str, doc_model: str, doc_texts: dict[str, str] | None = None,
              docs=None) -> list[dict]:
        """Mean-pooled and MaxSim runs of a system; ``docs``: the documents already encoded (by
        another task over the same documents)."""
        from otclir.retrieval.late_interaction import maxsim_retrieve

        if self.on_disk:
            return self.dense_on_disk(system, query_model, doc_model, doc_texts or self.task.docs)
        if docs is None:
            docs = self.documents(doc_model, doc_texts or self.task.docs)
            if doc_model not in ("e5-small-student", "minilm-teacher"):
                self._encoders.pop(doc_model, None)  # a trained student is used once
        self.token_bytes[system] = docs.token_bytes
        queries = self.queries(query_model)
        mean = dense_retrieve(queries.pooled, docs.pooled, self.query_ids, self.doc_ids, exclude=self.task.exclude)
        rows = []
        if system == ZERO_SHOT:
            self.mean_runs[system] = mean  # kept whole for fusion with the lexical runs
        if "mean" in self.scorers:
            rows.append(self.save(system, "mean", mean))
        if "maxsim" in self.scorers:
            run = maxsim_retrieve(queries, docs, self.query_ids, self.doc_ids, exclude=self.task.exclude,
                                  candidates=mean, rerank_depth=self.rerank_depth)
            rows.append(self.save(system, "maxsim", run))
        return rows

    def dense_on_disk(self, system: str, query_model: str, doc_model: str, texts: dict[str, str]) -> list[dict]:
        """The same scores for a collection too large to hold its token states: mean-pooled document
        vectors go to a file on disk in blocks, and MaxSim encodes the tokens of only the documents
        its rescoring reaches (every query's top ``rerank_depth``)."""
        from otclir.retrieval.dense import encode_to_disk
        from otclir.retrieval.late_interaction import maxsim_retrieve

        encoder = self.encoder(doc_model)
        path = self.folder / "vectors" / f"{system}.npy"
        vectors = encode_to_disk(encoder, (texts[d] for d in self.doc_ids), len(self.doc_ids), path,
                                 batch_size=self.batch_size)
        queries = self.queries(query_model)
        mean = dense_retrieve(queries.pooled, vectors, self.query_ids, self.doc_ids, exclude=self.task.exclude)
        del vectors
        path.unlink()
        rows = [self.save(system, "mean", mean)] if "mean" in self.scorers else []
        if "maxsim" in self.scorers:
            reached = sorted({d for ranking in mean.values() for d in list(ranking)[:self.rerank_depth]})
            docs = encoder.encode_tokens([texts[d] for d in reached], kind="passage", batch_size=self.batch_size)
            self.token_bytes[system] = docs.token_bytes
            run = maxsim_retrieve(queries, docs, self.query_ids, reached, exclude=self.task.exclude,
                                  candidates=mean, rerank_depth=self.rerank_depth)
            rows.append(self.save(system, "maxsim", run))
        if doc_model not in ("e5-small-student", "minilm-teacher"):
            self._encoders.pop(doc_model, None)
        return rows

    def save(self, system: str, scorer: str, run) -> dict:
        means = save_system(self.folder, f"{system}.{scorer}", run, self.task.qrels, self.measures, self.run_depth)
        return {"system": system, "scorer": scorer, **means}

    def mean_run(self, system: str) -> trec.Run:
        """A system's mean-pooled run (fusion reads it): the whole one where it was kept, else as written."""
        return self.mean_runs.get(system) or trec.read_run(self.folder / f"{system}.mean.run")

    def per_query_of(self, system: str, scorer: str, measure: str = "AP") -> pd.Series:
        path = self.folder / f"{system}.{scorer}.perquery.tsv"
        return pd.read_csv(path, sep="\t", dtype={"query": str}).set_index("query")[measure]

    def forget(self, system: str) -> None:
        """Delete a system's run files (its per-query measures stay): study points are many."""
        for path in self.folder.glob(f"{system}.*.run"):
            path.unlink()

    def per_query(self) -> pd.DataFrame:
        """Every saved run's per-query measures, long form: query, system, scorer, seed (a
        student's training seed; empty for the others), measures."""
        frames = []
        for path in sorted(self.folder.glob("*.perquery.tsv")):
            name, scorer = path.name.removesuffix(".perquery.tsv").rsplit(".", 1)
            system, seed = split_seed(name)
            frame = pd.read_csv(path, sep="\t", dtype={"query": str})
            frame.insert(1, "system", system)
            frame.insert(2, "scorer", scorer)
            frame.insert(3, "seed", float("nan") if seed is None else seed)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def english_documents(task: RetrievalTask) -> dict[str, str]:
    """The English text of each test document, for the ceiling and the oracle. A verse the English
    Bible numbers differently (the Chichewa Bible has 3 John 1:15 and Revelation 12:18) keeps its
    own text, so every system ranks the same pool."""
    from otclir.data.bible import parse_verse_id, read_language

    verses = read_language("en")
    return {d: verses.get(parse_verse_id(d), text) for d, text in task.docs.items()}


def add_gap_share(frame: pd.DataFrame, measure: str = "AP") -> pd.DataFrame:
    """Each system's share of the gap from the zero-shot student to the ceiling, per task, language
    and scorer (systems scored otherwise, BM25 for instance, against the mean-pooled gap)."""
    frame = frame.copy()
    shares = []
    plain = frame[frame.seed.isna()] if "seed" in frame else frame
    for _, row in frame.iterrows():
        scorer = row["scorer"] if row["scorer"] in SCORERS else "mean"
        same = (plain.language == row["language"]) & (plain.scorer == scorer)
        if "task" in frame:
            same &= plain.task == row["task"]
        ref = plain[same].set_index("system")[measure]
        if ZERO_SHOT in ref and CEILING in ref and ref[CEILING] != ref[ZERO_SHOT]:
            shares.append((row[measure] - ref[ZERO_SHOT]) / (ref[CEILING] - ref[ZERO_SHOT]))
        else:
            shares.append(float("nan"))
    frame[f"gap_share_{measure}"] = shares
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
