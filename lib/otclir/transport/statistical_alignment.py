"""Statistical word alignment learnt by EM from sentence pairs alone: IBM Model 1 (Brown et al.
1993) and, with ``diagonal_tension`` > 0, the reparametrised Model 2 of fast_align (Dyer, Chahuneau
and Smith 2013), whose alignment prior favours links near the diagonal.

It gives the dictionary behind the BM25 baseline (English query words translated by the table
learnt on the same train-split bitext the students see, for any language) and the classical
aligner that the transport plans of notebook 02 are compared with.

EM runs over the word co-occurrences of all pairs at once with NumPy (no Python loop over words):
about 30 bytes per co-occurring (source position, target position) entry, so the 23,145 train
verses of one language take a few hundred MB and about a second per iteration. There is no
sampling anywhere, so results are deterministic (unlike Gibbs-sampling aligners such as eflomal).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from otclir.errors import OtclirError

NULL = "<null>"
LINK_METHODS = ("intersection", "union", "forward", "backward")


@dataclass
class TranslationModel:
    """t(target word | source word) over the word pairs seen together, sorted by source id."""

    source_vocab: list[str]  # index 0 is the NULL word
    target_vocab: list[str]
    pair_source: np.ndarray  # (K,) source word id of each co-occurring word pair
    pair_target: np.ndarray  # (K,) target word id
    prob: np.ndarray  # (K,) t(target | source)
    diagonal_tension: float = 0.0  # 0: IBM Model 1 (uniform alignment prior)
    null_prob: float = 0.08  # prior of a link to NULL under the diagonal prior

    def translations(self, word: str, top: int = 3, min_prob: float = 0.05) -> list[tuple[str, float]]:
        """The most probable target words of a source word with their t(target | word), best first."""
        index = self._source_index().get(word)
        if index is None or index == 0:
            return []
        start, stop = np.searchsorted(self.pair_source, [index, index + 1])
        probs, targets = self.prob[start:stop], self.pair_target[start:stop]
        order = np.lexsort((targets, -probs))[:top]  # ties by target id: reproducible
        return [(self.target_vocab[targets[i]], float(probs[i])) for i in order if probs[i] >= min_prob]

    def table(self, top: int = 3, min_prob: float = 0.05) -> dict[str, list[tuple[str, float]]]:
        """Every source word with at least one translation above ``min_prob``."""
        table = {}
        for word in self.source_vocab[1:]:
            found = self.translations(word, top, min_prob)
            if found:
                table[word] = found
        return table

    def link_scores(self, source: Sequence[str], target: Sequence[str]) -> np.ndarray:
        """Posterior-proportional score of linking source word i to target word j, (len(source),
        len(target)); zero where the NULL word explains target word j better."""
        lookup = self._pair_lookup()
        s_ids = [self._source_index().get(w) for w in source]
        t_ids = [self._target_index().get(w) for w in target]
        m, n = len(source), len(target)
        scores = np.zeros((m, n))
        for i, si in enumerate(s_ids):
            if si is None:
                continue
            for j, tj in enumerate(t_ids):
                scores[i, j] = lookup.get((si, tj), 0.0)
        null = np.array([lookup.get((0, tj), 0.0) for tj in t_ids])
        prior, null_prior = alignment_prior(m, n, self.diagonal_tension, self.null_prob)
        scores = scores * prior
        scores[scores <= (null * null_prior)[None, :]] = 0.0
        return scores

    def align(self, source: Sequence[str], target: Sequence[str]) -> set[tuple[int, int]]:
        """Viterbi links: each target word to its best source word unless NULL is better."""
        scores = self.link_scores(source, target)
        return {(int(scores[:, j].argmax()), j) for j in range(len(target)) if scores[:, j].max() > 0}

    def _source_index(self) -> dict[str, int]:
        if not hasattr(self, "_s_index"):
            self._s_index = {w: i for i, w in enumerate(self.source_vocab)}
        return self._s_index

    def _target_index(self) -> dict[str, int]:
        if not hasattr(self, "_t_index"):
            self._t_index = {w: i for i, w in enumerate(self.target_vocab)}
        return self._t_index

    def _pair_lookup(self) -> dict[tuple[int, int], float]:
        if not hasattr(self, "_lookup"):
            self._lookup = dict(zip(zip(self.pair_source.tolist(), self.pair_target.tolist()), self.prob.tolist()))
        return self._lookup


def alignment_prior(m: int, n: int, tension: float, null_prob: float) -> tuple[np.ndarray, float]:
    """p(target word j links source word i) for a pair of lengths (m, n), and the NULL link's prior.
    Uniform (IBM Model 1) at tension 0; else fast_align's exp(-tension |i/m - j/n|), normalised per j."""
    if tension == 0:
        uniform = 1.0 / (m + 1)
        return np.full((m, n), uniform), uniform
    i = (np.arange(m)[:, None] + 1) / m
    j = (np.arange(n)[None, :] + 1) / n
    weights = np.exp(-tension * np.abs(i - j))
    return (1 - null_prob) * weights / weights.sum(0, keepdims=True), null_prob


def train(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], iterations: int = 5,
          diagonal_tension: float = 0.0, null_prob: float = 0.08) -> TranslationModel:
    """EM for t(target | source) over tokenised (source words, target words) pairs; each source
    sentence also holds the NULL word. Starts from the uniform table."""
    if iterations < 1:
        raise OtclirError(f"iterations must be at least 1, got {iterations}")
    if diagonal_tension < 0 or not 0 < null_prob < 1:
        raise OtclirError(f"diagonal_tension must be >= 0 and null_prob in (0, 1), got {diagonal_tension}, {null_prob}")
    pairs = [(list(s), list(t)) for s, t in pairs if len(t)]
    if not pairs:
        raise OtclirError("word alignment needs at least one sentence pair with target words")
    source_vocab = [NULL] + sorted({w for s, _ in pairs for w in s} - {NULL})
    target_vocab = sorted({w for _, t in pairs for w in t})
    s_index = {w: i for i, w in enumerate(source_vocab)}
    t_index = {w: i for i, w in enumerate(target_vocab)}
    n_t = len(target_vocab)

    # One entry per (sentence, source position incl. NULL, target position): its word-pair key,
    # its target slot (the sentence's target position) and its alignment prior.
    keys, slots, priors = [], [], []
    slot = 0
    for source, target in pairs:
        m, n = len(source), len(target)
        s_ids = np.array([0] + [s_index[w] for w in source], dtype=np.int64)
        t_ids = np.array([t_index[w] for w in target], dtype=np.int64)
        prior, null_prior = alignment_prior(m, n, diagonal_tension, null_prob)
        keys.append((s_ids[:, None] * n_t + t_ids[None, :]).ravel())
        slots.append(np.broadcast_to(np.arange(slot, slot + n), (m + 1, n)).ravel())
        priors.append(np.vstack([np.full((1, n), null_prior), prior]).ravel())
        slot += n
    keys, slots, priors = np.concatenate(keys), np.concatenate(slots), np.concatenate(priors)
    unique, entry_pair = np.unique(keys, return_inverse=True)  # sorted by source id, then target id
    pair_source, pair_target = unique // n_t, unique % n_t

    per_source = np.bincount(pair_source, minlength=len(source_vocab)).astype(np.float64)
    prob = 1.0 / per_source[pair_source]
    for _ in range(iterations):
        weight = prob[entry_pair] * priors
        total = np.bincount(slots, weights=weight, minlength=slot)
        counts = np.bincount(entry_pair, weights=weight / total[slots], minlength=len(unique))
        norm = np.bincount(pair_source, weights=counts, minlength=len(source_vocab))
        prob = counts / norm[pair_source]
    return TranslationModel(source_vocab, target_vocab, pair_source, pair_target, prob, diagonal_tension, null_prob)


def symmetric_links(forward: TranslationModel, backward: TranslationModel, source: Sequence[str],
                    target: Sequence[str], method: str = "intersection") -> set[tuple[int, int]]:
    """(source index, target index) links of two directional models (``forward`` explains target
    words by source words, ``backward`` the reverse), combined by ``method``."""
    if method not in LINK_METHODS:
        raise OtclirError(f"unknown method '{method}'; methods: {', '.join(LINK_METHODS)}")
    one = forward.align(source, target) if method != "backward" else set()
    other = {(i, j) for j, i in backward.align(target, source)} if method != "forward" else set()
    if method == "intersection":
        return one & other
    return one | other
