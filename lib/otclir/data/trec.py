"""TREC files: qrels ``qid 0 docid rel``, runs ``qid Q0 docid rank score tag``, and id<TAB>text files."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

from otclir import checks
from otclir.errors import TrecFormatError

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


BOM = "\ufeff"


def check_regular_file(path) -> None:
    """A pipe, socket or device would block or never end: only regular files are read."""
    path = Path(path)
    if path.exists() and not path.is_dir() and not path.is_file():
        raise TrecFormatError(f"{path} is not a regular file (a pipe or a device?); give a file on disk")


def _text_lines(path):
    """Lines of a UTF-8 text file (gzip-compressed when its name ends in ``.gz``), a byte-order
    mark at its start dropped (editors on Windows write one)."""
    import gzip

    check_regular_file(path)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            yield lineno, line.removeprefix(BOM) if lineno == 1 else line


def _lines(path):
    try:
        for lineno, line in _text_lines(path):
            if line.strip():
                yield lineno, line.split()
    except FileNotFoundError:
        raise TrecFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TrecFormatError(f"{path} is a folder; give the TREC file inside it") from None
    except UnicodeDecodeError as err:
        raise TrecFormatError(f"{path}: not UTF-8 text (byte {err.start}); TREC files are plain UTF-8 text") from None
    except PermissionError:
        raise TrecFormatError(f"{path} cannot be read (permission denied); make it readable or give another file") from None
    except (EOFError, OSError) as err:  # a damaged gzip file
        raise TrecFormatError(f"{path} cannot be read ({type(err).__name__}: {err}); give a whole, plain or gzip text "
                              "file") from None


def _records(path, kind: str, layout: str):
    """Lines of a TREC file with exactly the fields of ``layout``."""
    count = len(layout.split())
    for lineno, fields in _lines(path):
        if len(fields) != count:
            raise TrecFormatError(
                f"{path}:{lineno}: a {kind} line has {count} fields '{layout}', found {len(fields)}: {' '.join(fields)!r}")
        yield lineno, fields


def read_qrels(path: os.PathLike | str) -> Qrels:
    qrels: Qrels = {}
    for lineno, fields in _records(path, "qrels", "qid 0 docid relevance"):
        qid, _, docid, rel = fields
        try:
            value = int(rel)
        except ValueError:
            raise TrecFormatError(f"{path}:{lineno}: relevance must be an integer, found {rel!r}") from None
        if docid in qrels.get(qid, {}) and qrels[qid][docid] != value:
            raise TrecFormatError(f"{path}:{lineno}: query {qid} judges document {docid} a second time, differently "
                                  f"({qrels[qid][docid]} then {value}); keep one line per pair")
        qrels.setdefault(qid, {})[docid] = value
    return qrels


def write_qrels(path: os.PathLike | str, qrels: Mapping[str, Mapping[str, int]]) -> Path:
    """Judgments as TREC qrels lines, read back equal by :func:`read_qrels`.

    >>> import tempfile, pathlib
    >>> path = write_qrels(pathlib.Path(tempfile.mkdtemp()) / 'qrels.txt', {'q1': {'d1': 1}})
    >>> read_qrels(path)
    {'q1': {'d1': 1}}
    """
    checks.path(path)
    checks.judgments(qrels)
    checks.trec_ids(qrels, "qrels")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for qid in sorted(qrels):
            for docid in sorted(qrels[qid]):
                out.write(f"{qid} 0 {docid} {int(qrels[qid][docid])}\n")
    return path


def read_run(path: os.PathLike | str) -> Run:
    run: Run = {}
    for lineno, fields in _records(path, "run", "qid Q0 docid rank score tag"):
        qid, _, docid, rank, score, _tag = fields
        try:
            int(rank)
            value = float(score)
        except ValueError:
            raise TrecFormatError(
                f"{path}:{lineno}: rank must be an integer and score a number, found {rank!r} and {score!r}"
            ) from None
        if not math.isfinite(value):
            raise TrecFormatError(f"{path}:{lineno}: score {score!r} is not a finite number; measures would depend "
                                  f"on how it sorts")
        if docid in run.get(qid, {}):
            raise TrecFormatError(f"{path}:{lineno}: query {qid} ranks document {docid} twice; a run lists each "
                                  f"(query, document) pair once")
        run.setdefault(qid, {})[docid] = value
    return run


class UngroupedRunError(TrecFormatError):
    """A run whose lines of one query are not together: it can be read whole, not in blocks."""


def read_run_blocks(path: os.PathLike | str, queries: int = 10_000):
    """A run read as :func:`read_run` reads it, yielded ``queries`` queries at a time in file order,
    so that a run of a million queries is never held whole. The file must list each query's lines
    together (as every TREC tool writes them); a query found again after other queries is refused
    with the fix.

    >>> import tempfile, pathlib
    >>> path = write_run(pathlib.Path(tempfile.mkdtemp()) / 'a.run', {'q1': {'d1': 0.5}, 'q2': {'d2': 0.9}}, tag='x')
    >>> list(read_run_blocks(path, queries=1))
    [{'q1': {'d1': 0.5}}, {'q2': {'d2': 0.9}}]
    """
    checks.whole(queries, "queries", 1)
    block: Run = {}
    closed: set[str] = set()
    current = None
    for lineno, (qid, _, docid, rank, score, _tag) in _records(path, "run", "qid Q0 docid rank score tag"):
        if qid != current:
            if qid in closed or qid in block:
                raise UngroupedRunError(f"{path}:{lineno}: query {qid} appears again after other queries; list each "
                                      f"query's lines together (sort -s -k1,1 {Path(path).name}) or read it whole")
            if current is not None:
                closed.add(current)
            if len(block) >= queries:
                yield block
                block = {}
            current = qid
        # the checks read_run makes, with its messages (read_run becomes a reading of these blocks
        # when the stored parts that reach it are next recomputed)
        try:
            int(rank)
            value = float(score)
        except ValueError:
            raise TrecFormatError(f"{path}:{lineno}: rank must be an integer and score a number, found {rank!r} and "
                                  f"{score!r}") from None
        if not math.isfinite(value):
            raise TrecFormatError(f"{path}:{lineno}: score {score!r} is not a finite number; measures would depend "
                                  f"on how it sorts")
        scores = block.setdefault(qid, {})
        if docid in scores:
            raise TrecFormatError(f"{path}:{lineno}: query {qid} ranks document {docid} twice; a run lists each "
                                  f"(query, document) pair once")
        scores[docid] = value
    if block:
        yield block


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Documents in the order trec_eval (and so ir_measures) ranks them: by descending score, ties
    by descending document id (two stable sorts).

    >>> ranked({'d1': 0.5, 'd2': 0.9, 'd3': 0.5})
    [('d2', 0.9), ('d3', 0.5), ('d1', 0.5)]
    """
    checks.scores(scores)
    by_id = sorted(scores.items(), key=lambda item: item[0], reverse=True)
    return sorted(by_id, key=lambda item: -item[1])


def write_run(path: os.PathLike | str, run: Mapping[str, Mapping[str, float]], tag: str) -> Path:
    """Ranks in the order evaluation reads them (:func:`ranked`), scores written exactly (the
    shortest text that reads back as the same number), so a file scores as the run it came from.
    Ids with white space and scores that are not finite are refused (:func:`read_run` would).

    >>> import tempfile, pathlib
    >>> path = write_run(pathlib.Path(tempfile.mkdtemp()) / 'a.run', {'q1': {'d1': 0.5, 'd2': 0.9}}, tag='bm25')
    >>> path.read_text().splitlines()
    ['q1 Q0 d2 1 0.9 bm25', 'q1 Q0 d1 2 0.5 bm25']
    >>> read_run(path)
    {'q1': {'d2': 0.9, 'd1': 0.5}}
    """
    checks.path(path)
    checks.run_scores(run)
    checks.trec_ids(run, "run")
    checks.text(tag, "run tag", forbidden=" \t\n\r\f\v")
    if any(ch.isspace() for ch in tag) or not tag:
        raise ValueError(f"run tag must be one word without spaces, got {tag!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for qid in sorted(run):
            for rank, (docid, score) in enumerate(ranked(run[qid]), start=1):
                out.write(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")
    return path


def read_tsv(path: os.PathLike | str) -> dict[str, str]:
    """``id<TAB>text`` lines (topics, documents)."""
    table: dict[str, str] = {}
    for lineno, line in _text_lines(path):
        line = line.rstrip("\n")
        if not line:
            continue
        key, sep, text = line.partition("\t")
        if not sep:
            raise TrecFormatError(f"{path}:{lineno}: expected 'id<TAB>text', found no tab")
        table[key] = text
    return table


def write_tsv(path: os.PathLike | str, table: Mapping[str, str], keys: Sequence[str] | None = None) -> Path:
    """``id<TAB>text`` lines, read back by :func:`read_tsv`. Each text is written in normal form
    (runs of white space as one space: tabs and newlines would break the format), so a text reads
    back equal when it is in that form; a key with white space is refused.

    >>> import tempfile, pathlib
    >>> path = write_tsv(pathlib.Path(tempfile.mkdtemp()) / 'topics.tsv', {'q1': 'In the beginning'})
    >>> read_tsv(path)
    {'q1': 'In the beginning'}
    """
    checks.path(path)
    checks.keys_without_space(table if keys is None else keys, "the table's keys")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for key in keys if keys is not None else sorted(table):
            text = " ".join(str(table[key]).split())  # tabs and newlines would break the format
            out.write(f"{key}\t{text}\n")
    return path
