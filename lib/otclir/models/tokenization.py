"""Subword statistics: fertility (pieces per word), words split into several pieces, unknown pieces.

These are the tokenizer bias behind the low-resource gap: a language the vocabulary covers
poorly is cut into many pieces or mapped to the unknown piece.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Sequence

import numpy as np

from otclir.models.registry import resolve


def load_tokenizer(model: str):
    from otclir.models.encoder import _tokenizer

    return _tokenizer(resolve(model).path)


def subword_stats(tokenizer, texts: Sequence[str]) -> dict:
    """Whitespace words, pieces, fertility, split-word rate and unknown-piece rate of ``texts``."""
    words = [t.split() for t in texts if t.split()]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    n_words = sum(len(w) for w in words)
    n_pieces = n_unk = n_split = 0
    for i, ids in enumerate(enc["input_ids"]):
        n_pieces += len(ids)
        n_unk += sum(1 for t in ids if t == unk)
        per_word: dict[int, int] = {}
        for w in enc.word_ids(i):
            if w is not None:
                per_word[w] = per_word.get(w, 0) + 1
        n_split += sum(1 for c in per_word.values() if c > 1)
    return {
        "words": n_words,
        "pieces": n_pieces,
        "fertility": n_pieces / n_words if n_words else float("nan"),
        "split_word_rate": n_split / n_words if n_words else float("nan"),
        "unk_rate": n_unk / n_pieces if n_pieces else float("nan"),
    }


def _is_punctuation_piece(piece: str) -> bool:
    core = piece.replace("\u2581", "").removeprefix("##")
    return bool(core) and all(unicodedata.category(ch).startswith("P") for ch in core)


@lru_cache(maxsize=8)
def _piece_tables(model: str) -> tuple[np.ndarray, np.ndarray]:
    tokenizer = load_tokenizer(model)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    special = np.zeros(len(pieces), dtype=bool)
    special[tokenizer.all_special_ids] = True
    punctuation = np.array([_is_punctuation_piece(p or "") for p in pieces], dtype=bool)
    return special, punctuation


def content_mask(model: str, input_ids, attention_mask, drop_special: bool = True, drop_punctuation: bool = False):
    """Which tokens take part in transport: real tokens, optionally without special tokens
    (``<s>``, ``</s>``, ``[CLS]``...) and pieces made only of punctuation."""
    import torch

    special, punctuation = _piece_tables(model)
    ids = input_ids.cpu().numpy()
    drop = np.zeros(ids.shape, dtype=bool)
    if drop_special:
        drop |= special[ids]
    if drop_punctuation:
        drop |= punctuation[ids]
    keep = attention_mask.bool() & torch.from_numpy(~drop).to(attention_mask.device)
    # an item left with nothing (a verse of only punctuation) keeps its real tokens
    empty = ~keep.any(1)
    return torch.where(empty.unsqueeze(1), attention_mask.bool(), keep)


def strip_marks(text: str) -> str:
    """Remove combining marks (Hebrew points and cantillation, Greek accents and breathings)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))
