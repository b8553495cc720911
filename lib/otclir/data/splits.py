"""Book-level train/dev/test splits, committed in ``data/splits.json``."""
from __future__ import annotations

import json
from functools import lru_cache

from otclir.paths import data_dir

SPLITS = ("train", "dev", "test")


@lru_cache(maxsize=1)
def book_splits() -> dict[str, tuple[int, ...]]:
    path = data_dir() / "splits.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    splits = {name: tuple(int(b) for b in raw[name]) for name in SPLITS}
    seen: dict[int, str] = {}
    for name, books in splits.items():
        for book in books:
            if book in seen:
                raise ValueError(f"{path}: book {book} is in both '{seen[book]}' and '{name}'")
            seen[book] = name
    missing = sorted(set(range(1, 67)) - set(seen))
    if missing:
        raise ValueError(f"{path}: books {missing} are in no split")
    return splits


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; splits are {', '.join(SPLITS)}")
    return split


def split_of_book(book: int) -> str:
    for name, books in book_splits().items():
        if book in books:
            return name
    raise ValueError(f"book {book} is outside 1-66")


def split_of_verse(vid: str) -> str:
    return split_of_book(int(vid[:2]))


def books_of(split: str) -> tuple[int, ...]:
    return book_splits()[check_split(split)]
