"""Distillation losses on token representations (model-agnostic: tensors and masks in, loss out)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .ot import TransportResult, sinkhorn


def cosine_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity between every token of x (B, n, H) and of y (B, m, H): values in [0, 2]."""
    return 1.0 - F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).transpose(1, 2)


def squared_euclidean_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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
) -> tuple[torch.Tensor, TransportResult]:
    """OPTICAL's loss: the Frobenius inner product of the entropic transport plan between teacher
    tokens (English side) and student tokens (its translation) with their cost matrix, averaged
    over the batch.

    Masks say which tokens take part (see :func:`otclir.tokenization.content_mask` for dropping
    special tokens and punctuation). With ``detach_plan`` the plan is a fixed soft alignment and the
    gradient flows through the cost only; otherwise also through the unrolled Sinkhorn iterations.
    """
    if cost not in COSTS:
        raise ValueError(f"unknown cost '{cost}'; costs: {', '.join(COSTS)}")
    matrix = COSTS[cost](teacher_tokens, student_tokens)
    result = sinkhorn(matrix.detach() if detach_plan else matrix, teacher_mask, student_mask,
                      epsilon=epsilon, max_iter=max_iter, a=teacher_weights, b=student_weights)
    plan = result.plan.detach() if detach_plan else result.plan
    per_item = (plan * matrix).sum(dim=(1, 2))
    return per_item.mean(), result
