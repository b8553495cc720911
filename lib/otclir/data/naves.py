"""Nave's Topical Bible (1896/1905, public domain), read from its SWORD zLD lexicon module.

The module is four files of little-endian 32-bit integers: ``.idx`` holds (offset, size) into
``.dat``, whose record is the key, CR LF and (block, entry); ``.zdx`` holds (offset, size) into
``.zdt``, whose blocks are zlib-compressed: a count, count x (offset, size), then NUL-terminated
entries. An entry is TEI/OSIS-like text whose references carry ``osisRef`` (``Ps.34.1-Ps.34.8``,
a whole chapter as ``1Chr.24``), KJV-versified like bible.db.

Repairs: a single-chapter book is sometimes tagged as its first verse with the real verses after
the tag (``<ref osisRef="2John.1.1">2Jo 1</ref>:6``); those verses are read from the text after
the tag. References outside the 66 books (``PrAzar``), past a chapter's last verse, or to no
chapter are dropped and counted.
"""
from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

OSIS_BOOKS = ("Gen Exod Lev Num Deut Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth Job Ps Prov Eccl Song "
              "Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag Zech Mal Matt Mark Luke John Acts "
              "Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas 1Pet 2Pet 1John 2John 3John "
              "Jude Rev").split()
BOOK_NUMBER = {name: i + 1 for i, name in enumerate(OSIS_BOOKS)}
SINGLE_CHAPTER = {"Obad", "Phlm", "2John", "3John", "Jude"}
MODULE = "usr/share/sword/modules/lexdict/zld/nave/nave"
REFERENCE = re.compile(r'<ref osisRef="([^"]+)">[^<]*</ref>([^<\n]{0,40})')
SEE = re.compile(r'<ref target="Nave:([^"]+)">')
POINT = re.compile(r"^([1-3]?[A-Za-z]+)\.(\d+)(?:\.(\d+))?$")
AFTER_TAG = re.compile(r"^\s*:\s*(\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)")


def read_module(root: Path) -> dict[str, str]:
    """Every entry of the module, key -> entry text."""
    base = Path(root) / MODULE
    idx, dat = base.with_suffix(".idx").read_bytes(), base.with_suffix(".dat").read_bytes()
    zdx, zdt = base.with_suffix(".zdx").read_bytes(), base.with_suffix(".zdt").read_bytes()
    blocks: dict[int, list[bytes]] = {}

    def block(number: int) -> list[bytes]:
        if number not in blocks:
            offset, size = struct.unpack_from("<II", zdx, number * 8)
            raw = zlib.decompress(zdt[offset:offset + size])
            (count,) = struct.unpack_from("<I", raw, 0)
            spans = [struct.unpack_from("<II", raw, 4 + 8 * i) for i in range(count)]
            blocks[number] = [raw[o:o + s].rstrip(b"\0") for o, s in spans]
        return blocks[number]

    entries = {}
    for i in range(len(idx) // 8):
        offset, size = struct.unpack_from("<II", idx, i * 8)
        record = dat[offset:offset + size]
        number, entry = struct.unpack("<II", record[-8:])  # the last 8 bytes: they may hold CR or LF bytes
        key = record[:-8].rstrip(b"\r\n").decode("utf-8")
        entries[key] = block(number)[entry].decode("utf-8")
    return entries


@dataclass
class Topic:
    key: str
    query: str  # the cleaned headword
    references: dict[str, int] = field(default_factory=dict)  # verse id -> verses in the shortest reference naming it
    see: list[str] = field(default_factory=list)  # "See X" links to other topics


@dataclass
class ParseCounts:
    references: int = 0
    repaired: int = 0  # single-chapter verses read from after the tag
    dropped: Counter = field(default_factory=Counter)  # why: outside the canon, past the chapter, malformed


def clean_headword(key: str) -> str:
    """A topic key as a query: lower case; ``X, Y`` read as ``Y X`` (``AGE, OLD`` -> ``old age``)
    unless ``Y`` starts with a preposition (``ALLOY, OF METALS`` -> ``alloy of metals``);
    brackets and hyphens become spaces (``ASS (DONKEY)`` -> ``ass donkey``)."""
    text = key.lower()
    if text.count(",") == 1:
        head, tail = (part.strip() for part in text.split(","))
        first = tail.split()[0] if tail.split() else ""
        text = f"{head} {tail}" if first in {"of", "in", "for", "to", "on", "at", "by", "with", "from", "and", "or"} else f"{tail} {head}"
    text = re.sub(r"[^a-z0-9' ]", " ", text)
    return " ".join(text.replace(",", " ").split())


def _verse_numbers(text: str) -> list[tuple[int, int]]:
    """(verse, span) of ``5-8,10``: each verse with the length of the part that names it."""
    numbers = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        span = list(range(int(low), int(high or low) + 1))
        numbers += [(v, len(span)) for v in span]
    return numbers


def expand(reference: str, after: str, chapter_lengths: dict, counts: ParseCounts) -> list[tuple[str, int]]:
    """The verse ids an ``osisRef`` names (one for a single verse, every verse of a range), each
    with the number of verses of the reference that names it."""
    start, _, end = reference.partition("-")
    first, last = POINT.match(start), POINT.match(end) if end else None
    if not first or (end and not last):
        counts.dropped["malformed"] += 1
        return []
    book = first.group(1)
    if book not in BOOK_NUMBER or (last and last.group(1) != book):
        counts.dropped["outside the 66 books or across books"] += 1
        return []
    number = BOOK_NUMBER[book]
    chapter = int(first.group(2))
    if book in SINGLE_CHAPTER and not end and first.group(3) == "1" and AFTER_TAG.match(after):
        counts.repaired += 1
        named = _verse_numbers(AFTER_TAG.match(after).group(1))
    else:
        if first.group(3) is None:  # a whole chapter
            verses = list(range(1, chapter_lengths.get((number, chapter), 0) + 1))
        elif last is None:
            verses = [int(first.group(3))]
        elif int(last.group(2)) != chapter or last.group(3) is None:
            counts.dropped["a range across chapters"] += 1
            return []
        else:
            verses = list(range(int(first.group(3)), int(last.group(3)) + 1))
        named = [(v, len(verses)) for v in verses]
    length = chapter_lengths.get((number, chapter), 0)
    if not named or max(v for v, _ in named) > length or min(v for v, _ in named) < 1:
        counts.dropped["past the chapter's last verse or no such chapter"] += 1
        return []
    return [(f"{number:02d}{chapter:03d}{v:03d}", span) for v, span in named]


def parse_topics(entries: dict[str, str], chapter_lengths: dict) -> tuple[list[Topic], ParseCounts]:
    counts = ParseCounts()
    topics = []
    for key, text in entries.items():
        topic = Topic(key, clean_headword(key), see=SEE.findall(text))
        for reference, after in REFERENCE.findall(text):
            counts.references += 1
            for verse, span in expand(reference, after, chapter_lengths, counts):
                topic.references[verse] = min(topic.references.get(verse, span), span)
        topics.append(topic)
    return topics, counts


@lru_cache(maxsize=1)
def kjv_chapter_lengths() -> dict[tuple[int, int], int]:
    """Verses per (book, chapter) in KJV versification (bible.db's King James Version)."""
    from otclir.data.bible import read_version

    lengths: dict[tuple[int, int], int] = {}
    for book, chapter, verse in read_version("k"):
        lengths[(book, chapter)] = max(lengths.get((book, chapter), 0), verse)
    return lengths


@lru_cache(maxsize=1)
def topics() -> tuple[tuple[Topic, ...], ParseCounts]:
    """Every topic of the installed module (``otclir setup`` fetches it) with the parse counts."""
    from otclir.data.debian import NAVES, require

    found, counts = parse_topics(read_module(require(NAVES)), kjv_chapter_lengths())
    return tuple(found), counts


@lru_cache(maxsize=1)
def capitalised_words() -> dict[str, float]:
    """Share of each word's occurrences in the KJV that are capitalised, the first word of a verse
    left out: near 1 for names (Onesimus), near 0 for common words (hospitality)."""
    from otclir.data.bible import read_version

    upper, total = Counter(), Counter()
    for text in read_version("k").values():
        for word in re.findall(r"[A-Za-z]+", text)[1:]:
            lower = word.lower()
            total[lower] += 1
            upper[lower] += word[0].isupper()
    return {w: upper[w] / n for w, n in total.items()}


def is_name(query: str) -> bool:
    """A topic about a person or place: every word of it that the KJV has is capitalised in nine of
    its occurrences of ten (``alpheus alphaeus``: the second spelling is not in the KJV)."""
    shares = capitalised_words()
    known = [w for w in query.split() if w in shares]
    return bool(known) and all(shares[w] >= 0.9 for w in known)
