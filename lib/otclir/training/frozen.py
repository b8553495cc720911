"""States of frozen models on fixed texts, computed once per process and shared by its runs.

The teacher is frozen and a bitext is fixed, so the teacher's token states of that bitext are the
same for every configuration of a study; so are the outputs of a student's frozen lower layers
and the dev task's encodings. :func:`frozen_states` remembers the last few under keys that name
the weights, texts, layers and settings.
"""
from __future__ import annotations

import hashlib

_CACHE: dict = {}
_CACHE_SIZE = 6


def frozen_states(key: tuple, compute):
    """``compute()``, remembered under ``key`` for the next runs in this process."""
    if key not in _CACHE:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compute()
    return _CACHE[key]


def texts_key(texts) -> str:
    """A digest of a list of texts, for cache keys."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()
