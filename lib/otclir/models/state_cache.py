"""States of frozen models on fixed texts, computed once per process and shared by its runs.

The teacher is frozen and a bitext is fixed, so the teacher's token states of that bitext are the
same for every configuration of a study; so are the outputs of a student's frozen lower layers
(in training, in dev checks and in evaluation: every student that froze those layers continues
from the base model's states) and the dev tasks' encodings. :func:`frozen_states` remembers the
last few under keys that name the weights, texts, layers and settings; :func:`lower_states`
is that for the lower layers of a list of texts.
"""
from __future__ import annotations

import hashlib

_CACHE: dict = {}
_CACHE_SIZE = 32


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


def lower_states(base, texts, kind: str | None, layer: int, batch_size: int = 64, show_progress: bool | None = False):
    """The states after ``layer`` of ``texts`` under the base encoder ``base`` (computed once per
    process): what every student sharing those layers continues from."""
    texts = list(texts)
    key = ("lower", base.spec.path, base.spec.delta, base.max_length, kind, layer, texts_key(texts))
    return frozen_states(key, lambda: base.lower_states(texts, kind, layer, batch_size, show_progress))


def encode_sharing(encoder, texts, kind: str | None, base=None, batch_size: int = 64):
    """Mean-pooled vectors of ``texts``; a distilled student with frozen layers runs only its own
    layers, from the base model's states of its frozen ones (``base``, loaded when not given),
    which are computed once per process. The same vectors as encoding from scratch, to float
    tolerance (a test checks it)."""
    frozen = encoder.shared_layers if encoder.spec.delta else 0
    if not frozen:
        return encoder.encode(list(texts), kind=kind, batch_size=batch_size)
    if base is None:
        from otclir.models.encoder import Encoder

        base = frozen_states(("base-encoder", encoder.spec.path, encoder.max_length),
                             lambda: Encoder(encoder.spec.path, device=str(encoder.device), max_length=encoder.max_length))
    return encoder.encode(None, kind=kind, batch_size=batch_size, lower=lower_states(base, texts, kind, frozen, batch_size))
