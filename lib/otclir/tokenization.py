"""Subword statistics: fertility (pieces per word), words split into several pieces, unknown pieces.

These are the tokenizer bias behind the low-resource gap: a language the vocabulary covers
poorly is cut into many pieces or mapped to the unknown piece.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from .models import resolve


@lru_cache(maxsize=8)
def load_tokenizer(model: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve(model).path)


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
