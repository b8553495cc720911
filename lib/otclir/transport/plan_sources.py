"""Where the transport plan of the distillation loss comes from (the ``plan`` setting).

- ``adaptive`` (OPTICAL): solved at every step on the student's current states against the
  teacher's at the same depth. At the last layer (the default) the plan is solved on the cost the
  loss weighs, so the detached plan gives the exact gradient of the entropic transport cost (the
  envelope theorem: at the optimum the plan's own derivative contributes nothing); a plan layer
  above the frozen ones but below the last is allowed, without that guarantee.
- ``fixed``: solved once per verse pair on frozen states (by default the top frozen layer's), so
  it never changes during training: a fixed soft alignment regressed through the cost.
- ``statistical``: the control with a better aligner: fast_align-style IBM Model 2 (Model 1 with
  the diagonal prior), trained on the training bitext alone, its links from words to subword
  tokens, scaled to a transport plan between the content tokens. Fixed too.

:func:`statistical_plans` builds the statistical plans of a bitext; :class:`GoldPlanAER` scores
any plan source on the manual Greek-English gold alignments of notebook 02, the diagnostic the
trainer logs at every dev check.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import torch

PLANS = ("adaptive", "fixed", "statistical")
STATISTICAL_TENSION = 4.0  # fast_align's diagonal tension: the best aligner on the gold (notebook 02)
STATISTICAL_LINKS = "forward"  # its best link extraction there (AER .40 on the Greek-English gold)
STATISTICAL_ITERATIONS = 5
FLOOR = 1e-3  # mass every token pair keeps before scaling, so unlinked tokens still have a partner
_PUNCTUATION = re.compile(r"^\W+|\W+$")


def aligner_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Whitespace words of a text as the statistical aligner reads them (lower case, edge
    punctuation stripped) with each word's character span in the text."""
    words, spans = [], []
    for match in re.finditer(r"\S+", text):
        word = _PUNCTUATION.sub("", match.group().lower()) or match.group().lower()
        words.append(word)
        spans.append(match.span())
    return words, spans


def token_words(tokenizer, prepared: str, offset: int, spans, max_length: int) -> np.ndarray:
    """For each token of ``prepared`` (a text with its prefix, tokenised as the encoder does), the
    index of the word whose span (in the text after ``offset`` characters of prefix) holds its
    first character; -1 for special tokens and the prefix."""
    encoded = tokenizer(prepared, truncation=True, max_length=max_length, return_offsets_mapping=True)
    starts = np.array([s for s, _ in spans]) + offset
    ends = np.array([e for _, e in spans]) + offset
    out = np.full(len(encoded["input_ids"]), -1, dtype=np.int64)
    for i, (start, end) in enumerate(encoded["offset_mapping"]):
        if end <= start:
            continue
        hit = np.flatnonzero((starts <= start) & (start < ends))
        if hit.size == 0:  # a piece starting on the space before a word (sentencepiece's "▁")
            hit = np.flatnonzero((starts <= end - 1) & (end - 1 < ends))
        if hit.size:
            out[i] = int(hit[0])
    return out, encoded["input_ids"]


def scale_to_plan(scores: torch.Tensor, row_mask: torch.Tensor, col_mask: torch.Tensor,
                  iterations: int = 200) -> torch.Tensor:
    """The transport plan nearest to a non-negative score matrix in relative entropy: the scores
    scaled by rows and columns (Sinkhorn's matrix scaling) to uniform marginals over the real
    rows and columns; zero elsewhere."""
    pair = row_mask[:, None] & col_mask[None, :]
    matrix = torch.where(pair, scores.double() + FLOOR, torch.zeros((), dtype=torch.float64))
    a = row_mask.double() / row_mask.sum()
    b = col_mask.double() / col_mask.sum()
    u = torch.ones_like(a)
    for _ in range(iterations):
        v = torch.where(col_mask, b / (matrix.T @ u).clamp_min(1e-300), torch.zeros_like(b))
        u = torch.where(row_mask, a / (matrix @ v).clamp_min(1e-300), torch.zeros_like(a))
    return (u[:, None] * matrix * v[None, :]).float()


def train_aligner(pairs: list[tuple[str, str]]):
    """Both directions of the fast_align-style aligner on (English, target) pairs."""
    from otclir.transport import statistical_alignment

    words = [(aligner_words(en)[0], aligner_words(tgt)[0]) for en, tgt in pairs]
    forward = statistical_alignment.train(words, STATISTICAL_ITERATIONS, STATISTICAL_TENSION)
    backward = statistical_alignment.train([(t, s) for s, t in words], STATISTICAL_ITERATIONS, STATISTICAL_TENSION)
    return forward, backward


def statistical_plans(pairs: list[tuple[str, str]], teacher, student, teacher_ids, student_ids,
                      teacher_mask, student_mask) -> list[torch.Tensor]:
    """One plan per pair over all its teacher x student tokens (zero outside the content tokens
    given by the masks): the aligner's word links, every piece of a linked word linked, scaled
    to uniform marginals. ``*_ids`` are the tokens the trainer's cached states were computed
    from; the texts are tokenised again to find each token's word and must give the same ids."""
    from otclir.errors import OtclirError
    from otclir.transport import statistical_alignment

    forward, backward = train_aligner(pairs)
    plans = []
    for k, (english, target) in enumerate(pairs):
        en_words, en_spans = aligner_words(english)
        tg_words, tg_spans = aligner_words(target)
        links = statistical_alignment.symmetric_links(forward, backward, en_words, tg_words, STATISTICAL_LINKS)
        sides = []
        for encoder, text, spans, ids in ((teacher, english, en_spans, teacher_ids[k]), (student, target, tg_spans, student_ids[k])):
            prepared = encoder.prepare([text], "passage")[0]
            words, encoded = token_words(encoder.tokenizer, prepared, len(prepared) - len(text), spans, encoder.max_length)
            if list(encoded) != [int(i) for i in ids]:
                raise OtclirError("the statistical plan's tokens differ from the cached states' tokens; the encoder and "
                                  "the cache must use the same tokenizer and max_length")
            sides.append(words)
        t_words, s_words = sides
        scores = torch.zeros(len(t_words), len(s_words), dtype=torch.float64)
        for i, j in links:
            scores[torch.from_numpy(t_words == i)[:, None] & torch.from_numpy(s_words == j)[None, :]] = 1.0
        plans.append(scale_to_plan(scores, teacher_mask[k], student_mask[k]))
    return plans


# ------------------------------------------------------------------ the gold-alignment diagnostic
GOLD_VERSES = 40
GOLD_TESTAMENT = "nt"


@lru_cache(maxsize=1)
def _statistical_gold_aer() -> float:
    """The statistical source's AER on the gold verses: its aligner trained on the testament's
    verse pairs (as notebook 02 does), a constant of training."""
    from otclir.transport import alignment

    quality = alignment.statistical_quality(GOLD_TESTAMENT, alignment.sample_gold(GOLD_TESTAMENT, GOLD_VERSES, 0))
    part = quality[(quality.system == "fast_align-style Model 2") & (quality.method == STATISTICAL_LINKS)]
    return float(part.aer.iloc[0])


class GoldPlanAER:
    """AER of a plan source on a fixed sample of notebook 02's Greek-English gold verses: the
    frozen teacher reads the English words, the student (as it is now) the Greek words, the plan
    is solved as the trainer solves it (layer, cost scale, epsilon), links are each plan's best
    extraction. Constant for the fixed and the statistical sources; moves with an adaptive plan."""

    def __init__(self, plan: str, layer: int | None, epsilon: float, cost_scale: str, max_iter: int):
        from otclir.transport import alignment

        self.plan, self.layer, self.epsilon = plan, layer, epsilon
        self.cost_scale, self.max_iter = cost_scale, max_iter
        self.verses = alignment.sample_gold(GOLD_TESTAMENT, GOLD_VERSES, 0)
        self._teacher = None
        self._constant = None

    def __call__(self, teacher, student) -> float:
        if self.plan == "statistical":
            return _statistical_gold_aer()
        if self.plan == "fixed" and self._constant is not None:
            return self._constant
        value = self._aer(teacher, student)
        if self.plan == "fixed":
            self._constant = value
        return value

    def _aer(self, teacher, student) -> float:
        from otclir.models.encoder import eval_mode
        from otclir.transport import alignment
        from otclir.transport.losses import cosine_cost
        from otclir.transport.ot import scale_cost, sinkhorn

        if self._teacher is None:
            with eval_mode(teacher.model):
                self._teacher = teacher.embed_words([v.target for v in self.verses], layer=self.layer)
        with eval_mode(student.model):
            greek = student.embed_words([v.source for v in self.verses], layer=self.layer)
        words = []
        for (xs, xw), (ys, yw), verse in zip(greek, self._teacher, self.verses):
            cost = cosine_cost(xs.unsqueeze(0).double(), ys.unsqueeze(0).double())[0]
            plan = sinkhorn(scale_cost(cost, method=self.cost_scale), epsilon=self.epsilon, max_iter=self.max_iter).plan
            words.append(alignment.word_matrix(plan[0], xw, yw, len(verse.source), len(verse.target)))
        gold = [v.links for v in self.verses]
        return min(alignment.score([alignment.extract(w, m) for w in words], gold)["aer"] for m in alignment.METHODS)
