"""Dev checks that also score each fold of the dev books apart, so that a dev signal can be chosen
by how well its value on one fold predicts retrieval on the other (dev and train splits only).

The dev queries are split by their book (the dev books in canonical order, alternating between
folds); every fold ranks the whole dev pool. The bitext signals are split by the book of each
document verse. A fold's signals are logged as ``<signal>@fold<k>`` beside the whole set's.
"""
from __future__ import annotations

import dataclasses

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
    """The distiller of the answers' students: its dev checks log every signal per fold too."""

    def evaluate_dev(self) -> dict[str, float]:
        # The whole set's signals as Distiller.evaluate_dev computes them, from one encoding of the
        # pool (that method is kept unchanged so the stored students' keys stay as they are).
        from otclir.data.bible import parse_verse_id
        from otclir.retrieval.dense import bitext_signals, dev_scores

        task, queries, doc_english, docs, lower = self.dev_data()
        if lower is not None:
            doc_vectors = self.student.encode_tokens(None, "passage", lower=lower).pooled
        else:
            doc_vectors = self.student.encode(docs, kind="passage")
        out = dev_scores(task, queries, doc_vectors)
        out.update({f"dev_bitext_{k}": v for k, v in bitext_signals(doc_vectors, doc_english).items()})
        query_ids, doc_ids = list(task.queries), list(task.docs)
        folds = fold_of_books([parse_verse_id(q)[0] for q in query_ids] + [parse_verse_id(d)[0] for d in doc_ids])
        for fold in range(FOLDS):
            rows = [i for i, q in enumerate(query_ids) if folds[parse_verse_id(q)[0]] == fold]
            docs_in = np.array([folds[parse_verse_id(d)[0]] == fold for d in doc_ids])
            if rows:
                kept = [query_ids[i] for i in rows]
                part = dataclasses.replace(task, queries={q: task.queries[q] for q in kept},
                                           qrels={q: task.qrels[q] for q in kept if q in task.qrels},
                                           exclude={q: v for q, v in (task.exclude or {}).items() if q in set(kept)})
                out.update({f"{k}@fold{fold}": v for k, v in dev_scores(part, queries[rows], doc_vectors).items()})
            if docs_in.sum() >= 2:
                signals = bitext_signals(doc_vectors[docs_in], doc_english[docs_in])
                out.update({f"dev_bitext_{k}@fold{fold}": v for k, v in signals.items()})
        if self.gold_aer is not None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["plan_aer"] = self.gold_aer(self.teacher, self.student)
        return out
