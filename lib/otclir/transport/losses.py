"""Distillation losses on token representations (model-agnostic: tensors and masks in, loss out)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from otclir import checks
from otclir.transport.ot import TransportResult, scale_cost, sinkhorn


def cosine_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity between every token of x (B, n, H) and of y (B, m, H): values in [0, 2].

    >>> import torch
    >>> cosine_cost(torch.eye(2).unsqueeze(0), torch.eye(2).unsqueeze(0))
    tensor([[[0., 1.],
             [1., 0.]]])
    """
    checks.tensor(x, "x", 3)
    checks.tensor(y, "y", 3)
    return 1.0 - F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).transpose(1, 2)


def squared_euclidean_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance between every token of x (B, n, H) and of y (B, m, H).

    >>> import torch
    >>> squared_euclidean_cost(torch.eye(2).unsqueeze(0), torch.eye(2).unsqueeze(0)).round().tolist()
    [[[0.0, 2.0], [2.0, 0.0]]]
    """
    checks.tensor(x, "x", 3)
    checks.tensor(y, "y", 3)
    return torch.cdist(x, y).pow(2)


COSTS = {"cosine": cosine_cost, "sqeuclidean": squared_euclidean_cost}


def optical_loss(
    teacher_tokens: torch.Tensor,
    teacher_mask: torch.Tensor,
    student_tokens: torch.Tensor,
    student_mask: torch.Tensor,
    epsilon: float = 0.05,
    max_iter: int = 50,
    detach_plan: bool = True,
    cost: str = "cosine",
    teacher_weights: torch.Tensor | None = None,
    student_weights: torch.Tensor | None = None,
    cost_scale: str = "none",
    plan_tokens: tuple[torch.Tensor, torch.Tensor] | None = None,
    plan: torch.Tensor | None = None,
) -> tuple[torch.Tensor, TransportResult]:
    """OPTICAL's loss: the Frobenius inner product of the entropic transport plan between teacher
    tokens (English side) and student tokens (its translation) with their cost matrix, averaged
    over the batch.

    Masks say which tokens take part (see :meth:`otclir.models.encoder.Encoder.content_mask`). The plan
    is solved on the cost rescaled by ``cost_scale`` (see :func:`otclir.transport.ot.scale_cost`), so that
    ``epsilon`` is relative to the cost's spread. ``plan_tokens`` (teacher, student token states of
    another layer, same shapes but for the last axis) computes the plan from those instead: a
    middle layer aligns words better than the last one, whose cost the loss still weighs. With
    ``detach_plan`` the plan is a fixed soft alignment and the gradient flows through the cost
    only; otherwise also through the unrolled Sinkhorn iterations (of the plan's own cost).
    ``plan`` (B, n, m) is a plan given from elsewhere (zero outside the masks): the loss weighs it
    and nothing is solved.

    Shapes: tokens (B, n, H) and (B, m, H), masks (B, n) and (B, m); returns the batch mean and
    the :class:`~otclir.transport.ot.TransportResult`. Reference: Huang, Yu and Allan (2023),
    OPTICAL, WSDM.

    >>> import torch
    >>> teacher = torch.eye(3).unsqueeze(0)
    >>> student = torch.eye(3)[[1, 2, 0]].unsqueeze(0)   # the teacher's tokens, reordered
    >>> mask = torch.ones(1, 3, dtype=torch.bool)
    >>> loss, result = optical_loss(teacher, mask, student, mask, epsilon=0.01, max_iter=200)
    >>> round(float(loss), 4), result.plan[0].argmax(1).tolist()
    (0.0, [2, 0, 1])
    """
    checks.tensor(teacher_tokens, "teacher_tokens", 3)
    checks.tensor(student_tokens, "student_tokens", 3)
    checks.tensor(teacher_mask, "teacher_mask", 2, floating=False)
    checks.tensor(student_mask, "student_mask", 2, floating=False)
    checks.number(epsilon, "epsilon", 0, low_open=True)
    checks.whole(max_iter, "max_iter", 1)
    checks.one_of(cost, "cost", tuple(COSTS))
    checks.tensor(plan, "plan", 3, low=0, optional=True)
    if cost not in COSTS:
        raise ValueError(f"unknown cost '{cost}'; costs: {', '.join(COSTS)}")
    matrix = COSTS[cost](teacher_tokens, student_tokens)
    if plan is not None:  # a plan from elsewhere (a word aligner): nothing to solve
        plan = plan.to(matrix.dtype)
        result = TransportResult(plan, torch.zeros(len(plan), device=plan.device), torch.zeros(len(plan), dtype=torch.long),
                                 plan.new_zeros(plan.shape[:2]), plan.new_zeros((len(plan), plan.shape[2])))
        return (plan * matrix).sum(dim=(1, 2)).mean(), result
    plan_matrix = matrix if plan_tokens is None else COSTS[cost](*plan_tokens)
    if detach_plan:
        plan_matrix = plan_matrix.detach()
    plan_matrix = scale_cost(plan_matrix, teacher_mask, student_mask, cost_scale)
    result = sinkhorn(plan_matrix, teacher_mask, student_mask, epsilon=epsilon, max_iter=max_iter,
                      a=teacher_weights, b=student_weights)
    plan = result.plan.detach() if detach_plan else result.plan
    per_item = (plan * matrix).sum(dim=(1, 2))
    return per_item.mean(), result


def info_nce(anchors: torch.Tensor, candidates: torch.Tensor, labels: torch.Tensor, temperature: float,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each anchor's cosine scores over all candidates (L2-normalised inside), its
    positive at ``labels``; ``mask`` (anchors x candidates, True = leave out) removes false negatives.

    >>> import torch
    >>> anchors = torch.eye(2)
    >>> round(float(info_nce(anchors, anchors, torch.tensor([0, 1]), temperature=0.05)), 6)
    0.0
    """
    checks.tensor(anchors, "anchors", 2)
    checks.tensor(candidates, "candidates", 2)
    checks.tensor(labels, "labels", 1, floating=False)
    checks.number(temperature, "temperature", 0, low_open=True)
    scores = F.normalize(anchors, dim=-1) @ F.normalize(candidates, dim=-1).T / temperature
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return F.cross_entropy(scores, labels)


def alignment_and_uniformity(student: torch.Tensor, teacher: torch.Tensor) -> dict[str, float]:
    """Collapse diagnostics of a batch of sentence vectors (Wang and Isola 2020): alignment is the
    mean cosine of each student vector with its teacher vector (1 = on target); uniformity is
    log mean exp(-2 |s_i - s_j|^2) over pairs of normalised student vectors (0 = all equal, lower =
    more spread). A student that drifts toward the teacher's mean direction raises uniformity.

    >>> import torch
    >>> {k: round(v, 4) for k, v in alignment_and_uniformity(torch.eye(2), torch.eye(2)).items()}
    {'alignment': 1.0, 'uniformity': -4.0}
    """
    checks.tensor(student, "student", 2)
    checks.tensor(teacher, "teacher", 2)
    with torch.no_grad():
        s, t = F.normalize(student.float(), dim=-1), F.normalize(teacher.float(), dim=-1)
        alignment = float((s * t).sum(-1).mean())
        n = len(s)
        if n < 2:
            return {"alignment": alignment, "uniformity": 0.0}
        distance = torch.cdist(s, s).pow(2)
        off = ~torch.eye(n, dtype=torch.bool, device=s.device)
        uniformity = float(torch.log(torch.exp(-2 * distance[off]).mean()))
    return {"alignment": alignment, "uniformity": uniformity}
