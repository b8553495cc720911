"""Guards on what the library's public functions are given.

Each guard refuses a bad argument with an :class:`~otclir.errors.InputError` naming the argument,
the value and the fix, and otherwise does nothing: it returns ``None`` and changes nothing it is
given. That is what lets a guard be added to a function whose results are stored without staling
them: the code key (:mod:`otclir.experiments.code_reach`) leaves a statement that only calls a
guard out of its digest, since a guard can stop a computation but never change its value.
Guards therefore take values, not expressions with effects, and never convert (call them as
statements: ``checks.whole(n_resamples, "n_resamples", minimum=1)``).

>>> whole(3, "n")
>>> whole(-1, "n")
Traceback (most recent call last):
...
otclir.errors.InputError: n must be a whole number of at least 0, got -1
"""
from __future__ import annotations

import math
import os
import numbers
from collections.abc import Mapping

import numpy as np

from otclir.errors import InputError

_PREVIEW = 60


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def whole(value, name: str, minimum: int | None = 0, maximum: int | None = None, *, optional: bool = False) -> None:
    """A whole number (Python or numpy integer, not a bool) within [minimum, maximum]; ``None``
    passes when ``optional``."""
    if value is None and optional:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number, got {_shown(value)} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be a whole number of at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be a whole number of at most {maximum}, got {value}")


def number(value, name: str, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> None:
    """A finite real number (numpy scalars accepted) within the given bounds (closed unless ``*_open``);
    ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    if not _is_real(value) or not math.isfinite(float(value)):
        raise InputError(f"{name} must be a finite number, got {_shown(value)} ({type(value).__name__})")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")


def level(value, name: str = "level") -> None:
    """A probability strictly between 0 and 1 (a confidence level, a significance level, a power)."""
    number(value, name, 0, 1, low_open=True, high_open=True)


def one_of(value, name: str, choices) -> None:
    """One of ``choices`` (compared by equality; the message lists them)."""
    choices = tuple(choices)
    try:
        known = value in choices
    except TypeError:  # unhashable or incomparable values
        known = False
    if not known:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}; got {_shown(value)}")


def text(value, name: str, forbidden: str = "", allow_empty: bool = False) -> None:
    """A string, not empty unless allowed, without any character of ``forbidden``."""
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, got {_shown(value)} ({type(value).__name__})")
    if not value and not allow_empty:
        raise InputError(f"{name} must not be empty")
    bad = sorted({c for c in value if c in forbidden})
    if bad:
        raise InputError(f"{name} {_shown(value)} holds {', '.join(map(repr, bad))}, which the file format it is "
                         "written to uses as a separator; remove or replace it")


def _as_array(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise InputError(f"{name} must be numbers, got text {_shown(values)}")
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:
        raise InputError(f"{name} must be an array of numbers, got {_shown(values)} ({error})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise InputError(f"{name} must hold numbers, got values of type {array.dtype} (first {_shown(array.flat[0]) if array.size else 'none'}); "
                         "convert them first, for example with pandas.to_numeric")
    return array


def array(values, name: str, ndim: int | tuple[int, ...] | None = None, min_size: int = 1,
          finite: bool = True, low: float | None = None, high: float | None = None) -> None:
    """Numbers (a list, numpy array, pandas object or torch tensor) of the given dimensions, with at
    least ``min_size`` entries, all finite unless ``finite=False``, within [low, high] if given."""
    values = _as_array(values, name)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and values.ndim not in dims:
        raise InputError(f"{name} must have {' or '.join(map(str, dims))} dimension(s), got shape {values.shape}")
    if values.size < min_size:
        raise InputError(f"{name} must hold at least {min_size} value(s), got {values.size}")
    if finite and values.size and np.issubdtype(values.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(values.ravel()))
        if bad.size:
            raise InputError(f"{bad.size} of {values.size} values of {name} are not finite numbers (first at flat "
                             f"position {int(bad[0])}: {values.ravel()[bad[0]]}); find where they came from")
    if low is not None and values.size and values.min() < low:
        raise InputError(f"{name} must be >= {low}, got a value of {values.min()}")
    if high is not None and values.size and values.max() > high:
        raise InputError(f"{name} must be <= {high}, got a value of {values.max()}")


def verse_id(value, name: str = "verse id") -> None:
    """A Bible verse id BBCCCVVV: book 01-66, chapter and verse from 1."""
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise InputError(f"malformed {name} {_shown(value)}: expected 8 digits BBCCCVVV")
    book, chapter, verse = int(value[:2]), int(value[2:5]), int(value[5:])
    if not 1 <= book <= 66 or chapter < 1 or verse < 1:
        raise InputError(f"{name} {value!r} names book {book}, chapter {chapter}, verse {verse}: books run from 01 "
                         "to 66, chapters and verses from 1")


def path(value, name: str = "path") -> None:
    """A file system path: text or a ``pathlib.Path`` (``os.PathLike``)."""
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        raise InputError(f"{name} must be a file path (text or pathlib.Path), got {_shown(value)}")


def scores(value, name: str = "scores") -> None:
    """One query's scores: {document id: finite number}, text ids."""
    run_scores({"query": value} if isinstance(value, Mapping) else value, name)


def groups(values, name: str) -> None:
    """A non-empty sequence of 1-d arrays of numbers (their lengths may differ)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise InputError(f"{name} must be a non-empty list of lists of numbers, got {_shown(values)}")
    for i, group in enumerate(values):
        array(group, f"{name}[{i}]", ndim=1, min_size=0)


def frame(value, name: str, min_columns: int = 1) -> None:
    """A pandas DataFrame with at least ``min_columns`` columns."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame (queries x systems), got {type(value).__name__}")
    if value.shape[1] < min_columns:
        raise InputError(f"{name} must have at least {min_columns} column(s), got {value.shape[1]}")


def named_frames(value, name: str) -> None:
    """A non-empty dict of names (text) to DataFrames, like {measure: queries x systems}."""
    if not isinstance(value, Mapping) or not value:
        raise InputError(f"{name} must be a non-empty dict {{measure: DataFrame of queries x systems}}, got "
                         f"{_shown(value)}")
    for key, table in value.items():
        text(key, f"a key of {name}")
        frame(table, f"{name}[{key!r}]")


def function(value, name: str) -> None:
    """Something callable."""
    if not callable(value):
        raise InputError(f"{name} must be a function, got {_shown(value)}")


def plain_name(value, what: str) -> None:
    """A name that becomes one file or folder inside a project folder: text, no path separator,
    no leading dot (so no ``..``), no NUL."""
    if not isinstance(value, str) or not value or "/" in value or "\\" in value or value.startswith(".") \
            or "\0" in value:
        raise InputError(f"{what} must be a plain name (no '/', '\\\\' or leading '.'), got {_shown(value)}: it "
                         "becomes a file or folder name inside the project's folders")


def _id_table(table, name: str, entry: str) -> None:
    """{query id: {document id: ``entry``}} with text ids at both levels."""
    if not isinstance(table, Mapping):
        raise InputError(f"{name} must be a dict {{query id: {{document id: {entry}}}}}, got {type(table).__name__}")
    for qid, row in table.items():
        if not isinstance(qid, str):
            raise InputError(f"{name} has query id {qid!r} of type {type(qid).__name__}: ids are text in TREC files "
                             "and runs; convert them with str()")
        if not isinstance(row, Mapping):
            raise InputError(f"{name}[{qid!r}] must be a dict {{document id: {entry}}}, got {type(row).__name__}")
        doc = next((d for d in row if not isinstance(d, str)), None)
        if doc is not None:
            raise InputError(f"{name}[{qid!r}] has document id {doc!r} of type {type(doc).__name__}: ids are "
                             "text; convert them with str()")


def run_scores(run, name: str = "run") -> None:
    """A run held in memory: {query id: {document id: score}} with text ids and finite scores (a NaN
    would be ranked first by a sort, an infinite score tie every other)."""
    _id_table(run, name, "score")
    for qid, scores in run.items():
        try:
            values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        except (TypeError, ValueError):
            values = None
        if values is None or not np.isfinite(values).all() or any(isinstance(s, (bool, np.bool_))
                                                                   for s in scores.values()):
            doc, score = next((d, s) for d, s in scores.items()
                              if not _is_real(s) or not math.isfinite(float(s)))
            raise InputError(f"{name}[{qid!r}][{doc!r}] is {_shown(score)}: scores must be finite numbers (a NaN "
                             "would be ranked first); find where it came from")


def trec_ids(table, name: str) -> None:
    """Query and document ids a TREC file can hold: text without white space (a space splits a field)."""
    for qid, docs in table.items():
        for value, kind in ((qid, "query id"), *((d, "document id") for d in docs)):
            if not isinstance(value, str) or not value or any(c.isspace() for c in value):
                raise InputError(f"{name} has {kind} {_shown(value)}: TREC files split fields at white space, so ids "
                                 "are text without spaces (replace them, for example with '_')")


def keys_without_space(keys, name: str) -> None:
    """Keys of an ``id<TAB>text`` file: text without white space."""
    for key in keys:
        if not isinstance(key, str) or not key or any(c.isspace() for c in key):
            raise InputError(f"{name} holds {_shown(key)}: a key is text without white space (it is read back up "
                             "to the first tab)")


def judgments(qrels, name: str = "qrels") -> None:
    """Relevance judgments held in memory: {query id: {document id: whole-number grade}}, text ids."""
    _id_table(qrels, name, "grade")
    for qid, grades in qrels.items():
        for doc, grade in grades.items():
            if isinstance(grade, (bool, np.bool_)) or not isinstance(grade, numbers.Integral):
                raise InputError(f"{name}[{qid!r}][{doc!r}] is {_shown(grade)}: grades are whole numbers")



def tensor(value, name: str, ndim: int | tuple[int, ...] | None = None, *, floating: bool = True,
           finite: bool = True, low: float | None = None, optional: bool = False) -> None:
    """A torch tensor of the given dimensions, of a floating dtype unless ``floating=False``, all
    finite, all >= ``low`` if given; ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    import torch

    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch tensor, got {type(value).__name__}; convert it with torch.as_tensor")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and value.dim() not in dims:
        raise InputError(f"{name} must have {' or '.join(map(str, dims))} dimension(s), got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got {value.dtype}; convert it with .float()")
    if finite and value.is_floating_point() and value.numel() and not bool(torch.isfinite(value.detach()).all()):
        raise InputError(f"{name} holds values that are not finite numbers (NaN or infinite): a plan or loss from "
                         "them would be NaN or all zero; find where they came from")
    if low is not None and value.numel() and bool((value.detach() < low).any()):
        raise InputError(f"{name} must be >= {low}, got a value of {float(value.detach().min())}")


def tensors(values, name: str, ndim: int | tuple[int, ...] | None = None) -> None:
    """A non-empty list of tensors, each as :func:`tensor` checks it."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise InputError(f"{name} must be a non-empty list of tensors, got {_shown(values)}")
    for i, value in enumerate(values):
        tensor(value, f"{name}[{i}]", ndim)


_STARTED_WITH: dict = {}  # entry -> the code key this process first computed with


def code_unchanged(entry: str) -> None:
    """Refuses to go on when the code ``entry`` reaches has changed on disk since this process
    first called this for it. A computation whose worker processes persist across parts (the
    hybrid grids) would otherwise compute later parts with a mix of the code it loaded at start and
    modules it imports later; stopping keeps every finished part, and the restarted run computes
    the rest with one code."""
    from otclir.experiments.code_reach import CodeIndex, code_key

    now = code_key(entry, index=CodeIndex())
    first = _STARTED_WITH.setdefault(entry, now)
    if now.fingerprint != first.fingerprint:
        changed = now.changes(first.record())
        raise InputError(f"the code this process computes {entry} with changed on disk since it started "
                         f"({len(changed)} change(s): {', '.join(changed[:3])}); stop it and start it again, its "
                         "finished parts are kept")
