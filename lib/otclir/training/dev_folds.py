"""Dev checks that also score each fold of the dev books apart, so that a dev signal can be chosen
by how well its value on one fold predicts retrieval on the other (dev and train splits only).

The dev queries are split by their book (the dev books in canonical order, alternating between
folds); every fold ranks the whole dev pool. The bitext signals are split by the book of each
document verse. A fold's signals are logged as ``<signal>@fold<k>`` beside the whole set's. Each
retrieval signal also logs its standard error over the dev queries (``_se``) and its change since
the first check (``_change``, per query) with that change's paired standard error
(``_change_se``): the noise a dev movement is read against. With ``patience``, a run stops once
that many checks in a row found nothing better, but never before it has seen every pair once.
"""
from __future__ import annotations

import numpy as np

from otclir.training.distillation import Distiller

FOLDS = 2


def fold_of_books(books) -> dict[int, int]:
    """Each book's fold: the books in canonical order, alternating.

    >>> fold_of_books([44, 40, 41, 42, 43])
    {40: 0, 41: 1, 42: 0, 43: 1, 44: 0}
    """
    return {book: number % FOLDS for number, book in enumerate(sorted(set(books)))}


class FoldedDevDistiller(Distiller):
    """The distiller of the answers' students: its dev checks also log every signal per fold of
    the dev books, each retrieval signal's standard error over the dev queries, and its change
    since the first check with that change's paired standard error (is a dev movement more than
    the dev set's noise?)."""

    dev_reference = None  # per-query dev values at the first check: {measure: {query: value}}

    def checkpoint_state(self) -> dict:
        return {**super().checkpoint_state(), "dev_reference": self.dev_reference}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.dev_reference = state.get("dev_reference", self.dev_reference)

    def _evaluate_and_track(self, record: dict) -> bool:
        stop = super()._evaluate_and_track(record)
        cfg = self.config
        return stop and self.step * cfg.batch_size * cfg.grad_accum >= self.train_size()  # one epoch at least

    def document_vectors(self, docs: list[str], lower) -> np.ndarray:
        """The student's unit vectors of the dev documents, in the space the teacher's queries are
        in (from the frozen layers' states ``lower`` where the student has frozen layers)."""
        if lower is not None:
            return self.student.encode_tokens(None, "passage", lower=lower).pooled
        return self.student.encode(docs, kind="passage")

    def evaluate_dev(self) -> dict[str, float]:
        # The whole set's signals as Distiller.evaluate_dev computes them (evaluate is the mean of
        # per_query), from one encoding of the pool; that method is kept unchanged so the stored
        # students' keys stay as they are.
        from otclir.data.bible import parse_verse_id
        from otclir.retrieval.dense import DEV_MEASURES, bitext_signals, dense_retrieve
        from otclir.retrieval.measures import per_query

        task, queries, doc_english, docs, lower = self.dev_data()
        doc_vectors = self.document_vectors(docs, lower)
        query_ids, doc_ids = list(task.queries), list(task.docs)
        run = dense_retrieve(queries, doc_vectors, query_ids, doc_ids, k=1000, exclude=task.exclude)
        rows = per_query(task.qrels, run, DEV_MEASURES)
        out = {f"dev_{m}": float(v) for m, v in rows.mean().items()}
        out.update({f"dev_bitext_{k}": v for k, v in bitext_signals(doc_vectors, doc_english).items()})
        if self.dev_reference is None:
            self.dev_reference = {m: rows[m].to_dict() for m in rows.columns}
        root = np.sqrt(len(rows))
        for m in rows.columns:
            change = rows[m] - rows.index.map(self.dev_reference[m]).to_numpy(dtype=float)
            out.update({f"dev_{m}_se": float(rows[m].std(ddof=1) / root), f"dev_{m}_change": float(change.mean()),
                        f"dev_{m}_change_se": float(change.std(ddof=1) / root)})
        folds = fold_of_books([parse_verse_id(q)[0] for q in query_ids] + [parse_verse_id(d)[0] for d in doc_ids])
        book_fold = np.array([folds[parse_verse_id(q)[0]] for q in rows.index])
        doc_fold = np.array([folds[parse_verse_id(d)[0]] for d in doc_ids])
        for fold in range(FOLDS):
            if (book_fold == fold).any():
                out.update({f"dev_{m}@fold{fold}": float(v) for m, v in rows[book_fold == fold].mean().items()})
            if (doc_fold == fold).sum() >= 2:
                signals = bitext_signals(doc_vectors[doc_fold == fold], doc_english[doc_fold == fold])
                out.update({f"dev_bitext_{k}@fold{fold}": v for k, v in signals.items()})
        if self.gold_aer is not None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["plan_aer"] = self.gold_aer(self.teacher, self.student)
        return out
