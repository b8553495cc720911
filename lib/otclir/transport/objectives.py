"""Distillation objectives as sums of registered terms.

A :class:`Term` is one loss: its name (as the training log writes it), the training setting
that weighs it, the states it needs, and its loss on one batch of :class:`TermStates`. An
objective is a tuple of term names (:data:`OBJECTIVES`). The distiller builds the states a
batch's terms need once and sums ``weight x loss`` over them; nothing else knows which terms an
objective has. To add an objective, add its entry here (and, for a new kind of loss, its term
with its weight setting in the training configuration).

- ``ot``: OPTICAL's loss, the transport plan between teacher and student tokens times their cost.
- ``sentence_mse``: the student's mean-pooled sentence vector regressed onto the teacher's
  (Reimers and Gurevych 2020).
- ``infonce``: each teacher sentence vector must pick its own translation's student vector out of
  the batch (temperature ``temperature``); alone it only keeps relative similarities and drifts
  from the teacher's space, so it is always paired with an anchor.

:func:`transports` is the one test of whether an objective has the transport term. Torch is
imported only when a loss is computed, so evaluation can read this module cheaply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

TRANSPORT_TERM = "ot"


@dataclass
class TermStates:
    """What the terms of one batch read: teacher and student token states of the last layer with
    the masks of the tokens that take part, unnormalised mean-pooled sentence vectors, and (for
    the transport term) the states the plan is solved on or a plan given from elsewhere."""

    teacher_tokens: Any
    teacher_mask: Any
    student_tokens: Any
    student_mask: Any
    teacher_sentences: Any
    student_sentences: Any
    plan_tokens: tuple | None = None  # (teacher, student) states the plan is solved on; None: the cost's own
    given_plan: Any = None  # a plan computed elsewhere (B, n, m); the transport term then solves nothing
    candidates: Any = None  # the student sentence vectors every anchor ranks (all ranks' under DDP)
    offset: int = 0  # where this rank's rows start among the candidates
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Term:
    name: str
    weight_setting: str  # the training setting that multiplies it
    needs: frozenset  # "plan_states": the plan's own layer; "candidates": other ranks' sentence vectors
    loss: Callable  # (TermStates, config) -> (loss tensor, diagnostics dict)


def _sentence_mse(states: TermStates, config):
    import torch

    return torch.nn.functional.mse_loss(states.student_sentences, states.teacher_sentences), {}


def _infonce(states: TermStates, config):
    import torch

    from otclir.transport.losses import info_nce

    candidates = states.student_sentences if states.candidates is None else states.candidates
    labels = torch.arange(len(states.teacher_sentences), device=states.teacher_sentences.device) + states.offset
    return info_nce(states.teacher_sentences, candidates, labels, config.temperature), {}


def _transport(states: TermStates, config):
    from otclir.transport.losses import optical_loss
    from otclir.transport.ot import plan_diagnostics

    loss, result = optical_loss(states.teacher_tokens, states.teacher_mask, states.student_tokens, states.student_mask,
                                epsilon=config.epsilon, max_iter=config.sinkhorn_iters, detach_plan=config.detach_plan,
                                cost_scale=config.cost_scale, plan_tokens=states.plan_tokens, plan=states.given_plan)
    diagnostics = plan_diagnostics(result.plan, states.teacher_mask, states.student_mask)
    diagnostics["ot_marginal_error"] = float(result.marginal_error.mean())
    states.extra["plan"] = result.plan.detach()
    return loss, diagnostics


# Terms are computed and summed in this order, whatever order an objective names them in.
TERMS = {term.name: term for term in (
    Term("sentence_mse", "mse_weight", frozenset(), _sentence_mse),
    Term("infonce", "contrastive_weight", frozenset({"candidates"}), _infonce),
    Term(TRANSPORT_TERM, "ot_weight", frozenset({"plan_states"}), _transport),
)}

OBJECTIVES = {
    "sentence_mse": ("sentence_mse",),
    "contrastive": ("infonce", "sentence_mse"),
    "ot": ("ot",),
    "ot+sentence_mse": ("ot", "sentence_mse"),
    "ot+contrastive": ("ot", "infonce"),
}


def terms_of(objective: str) -> tuple[Term, ...]:
    """The terms of an objective, in the registry's order.

    >>> [term.name for term in terms_of('ot+contrastive')]
    ['infonce', 'ot']
    """
    from otclir.errors import OtclirError

    if objective not in OBJECTIVES:
        raise OtclirError(f"unknown objective '{objective}'; objectives: {', '.join(OBJECTIVES)}")
    return tuple(term for name, term in TERMS.items() if name in OBJECTIVES[objective])


def transports(objective: str) -> bool:
    """Whether an objective has the transport term (its students are the OT students).

    >>> transports('ot'), transports('sentence_mse')
    (True, False)
    """
    return TRANSPORT_TERM in OBJECTIVES.get(objective, ())


def needs(objective: str, state: str) -> bool:
    """Whether a term of the objective reads ``state`` ("plan_states", "candidates").

    >>> needs('ot', 'plan_states'), needs('sentence_mse', 'plan_states')
    (True, False)
    """
    return any(state in term.needs for term in terms_of(objective))
