"""Entropic optimal transport for batches of problems of different sizes.

:func:`sinkhorn` solves B problems at once in the log domain. Padding never gets zero mass
(log 0 would poison the solver): padded rows and columns are masked out of every log-sum-exp
and out of the plan. Updates follow POT's ``sinkhorn_log`` (column potential first, then row),
so with the same iterations the plans agree with POT to rounding.

Gradient: autograd through the unrolled iterations. This is the exact derivative of the plan
actually computed, whether or not it has converged, at a memory cost that grows with the number
of iterations (small here: tens of iterations on 64 x 64 problems). Implicit differentiation at
the fixed point would be cheaper in memory but is only right at convergence. Callers that use the
plan as a fixed soft alignment (``detach``) need no solver gradient at all.

This module knows nothing of models or data.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from otclir import checks

NEG = -1e30  # finite stand-in for log 0: keeps log-sum-exp free of inf - inf
UNCONVERGED = 0.1  # a marginal error (L1, both marginals) above this after the last iteration is warned about


@dataclass
class TransportResult:
    plan: torch.Tensor  # (B, n, m); zero on padding
    marginal_error: torch.Tensor  # (B,) L1 error of both marginals after the last iteration
    iterations: torch.Tensor  # (B,) iterations each item ran before it met ``tol``
    log_u: torch.Tensor  # (B, n) row potentials divided by epsilon (NEG on padding)
    log_v: torch.Tensor  # (B, m)


def _masks(cost, x_mask, y_mask):
    b, n, m = cost.shape
    x_mask = torch.ones(b, n, dtype=torch.bool, device=cost.device) if x_mask is None else x_mask.bool()
    y_mask = torch.ones(b, m, dtype=torch.bool, device=cost.device) if y_mask is None else y_mask.bool()
    if x_mask.shape != (b, n) or y_mask.shape != (b, m):
        raise ValueError(f"masks must have shapes {(b, n)} and {(b, m)}, got {tuple(x_mask.shape)} and {tuple(y_mask.shape)}")
    if not (x_mask.any(1).all() and y_mask.any(1).all()):
        raise ValueError("every item needs at least one unmasked row and one unmasked column")
    return x_mask, y_mask


def _batched(matrix, x_mask, y_mask):
    """A single (n, m) problem as a batch of one, with its masks; the flag says to squeeze back."""
    if matrix.dim() != 2:
        return matrix, x_mask, y_mask, False
    return (matrix.unsqueeze(0), None if x_mask is None else x_mask.unsqueeze(0),
            None if y_mask is None else y_mask.unsqueeze(0), True)


def _log_marginal(weights, mask):
    """Log of marginal weights normalised over the unmasked entries; NEG on padding."""
    if weights is None:
        weights = mask.to(torch.float64)
    weights = torch.where(mask, weights.to(torch.float64), torch.zeros((), dtype=torch.float64, device=mask.device))
    if (weights < 0).any():
        raise ValueError("marginal weights must be non-negative")
    if (weights.sum(-1) <= 0).any():
        raise ValueError("an item's marginal weights sum to 0 over its real tokens; give some token positive mass")
    weights = weights / weights.sum(-1, keepdim=True)
    return torch.where(mask & (weights > 0), weights.clamp_min(1e-300).log(), torch.full_like(weights, NEG))


def sinkhorn(
    cost: torch.Tensor,
    x_mask: torch.Tensor | None = None,
    y_mask: torch.Tensor | None = None,
    epsilon: float = 0.05,
    max_iter: int = 100,
    tol: float = 0.0,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    check_every: int = 10,
) -> TransportResult:
    """Entropic transport plans of a batch of cost matrices (B, n, m) with per-item real sizes.

    ``x_mask``/``y_mask`` (B, n)/(B, m) mark real rows/columns; ``a``/``b`` are optional marginal
    weights (uniform over the real tokens by default; IDF weights, for example), normalised per item.
    Iterations stop for an item once its marginal error, checked every ``check_every`` iterations,
    is below ``tol`` (0 runs all ``max_iter``).

    The iterates are those of log-domain Sinkhorn. They are computed as scalings of a kernel that
    absorbs the log potentials whenever a scaling leaves a safe range (stabilised Sinkhorn): the
    same sequence in exact arithmetic, at the cost of matrix-vector products instead of a
    log-sum-exp per iteration. If a scaling still overflows, the batch is solved again fully in
    the log domain.

    Args:
        cost: (n, m) or (B, n, m), float32 or float64.
        x_mask, y_mask: (B, n), (B, m) booleans; None: every row or column is real.
        epsilon: entropic regularisation, in the cost's units (default 0.05; see :func:`scale_cost`).
        max_iter: iterations at most (default 100); tol: marginal error to stop at (default 0: never).
        a, b: (B, n), (B, m) non-negative marginal weights; None: uniform over the real tokens.

    Returns a :class:`TransportResult`: ``plan`` (B, n, m) with rows summing to ``a`` and columns
    to ``b`` (each item's plan sums to 1), ``cost`` (B,) the plan's transport cost, ``iterations``,
    and the log potentials. It equals POT's ``ot.sinkhorn_log`` to float precision (tests).

    Reference: Cuturi (2013), Sinkhorn distances; Schmitzer (2019), stabilised scaling algorithms.

    >>> import torch
    >>> cost = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> result = sinkhorn(cost, epsilon=0.05)
    >>> result.plan.round(decimals=3)
    tensor([[[0.5000, 0.0000],
             [0.0000, 0.5000]]])
    >>> float(result.plan.sum())
    1.0
    """
    checks.tensor(cost, "cost", (2, 3))
    checks.number(epsilon, "epsilon", 0, low_open=True)
    checks.whole(max_iter, "max_iter", 1)
    checks.number(tol, "tol", 0)
    checks.whole(check_every, "check_every", 1)
    checks.tensor(a, "a (the row marginal weights)", (1, 2), low=0, optional=True)
    checks.tensor(b, "b (the column marginal weights)", (1, 2), low=0, optional=True)
    if cost.dim() == 2:
        result = sinkhorn(cost.unsqueeze(0), None if x_mask is None else x_mask.unsqueeze(0),
                          None if y_mask is None else y_mask.unsqueeze(0), epsilon, max_iter, tol,
                          None if a is None else a.unsqueeze(0), None if b is None else b.unsqueeze(0), check_every)
        return result
    if cost.dim() != 3:
        raise ValueError(f"cost must be (n, m) or (B, n, m), got shape {tuple(cost.shape)}")
    if cost.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"cost must be float32 or float64 (the log domain needs the range), got {cost.dtype}; "
                         "convert it with cost.float()")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    x_mask, y_mask = _masks(cost, x_mask, y_mask)
    log_a = _log_marginal(a, x_mask).to(cost.dtype)
    log_b = _log_marginal(b, y_mask).to(cost.dtype)
    pair = x_mask.unsqueeze(2) & y_mask.unsqueeze(1)
    kernel = torch.where(pair, -cost / epsilon, torch.full_like(cost, NEG))  # log K, masked
    args = (kernel, pair, log_a, log_b, x_mask, y_mask, max_iter, tol, check_every)
    result = _sinkhorn_stabilised(*args)
    if result is None:
        result = _sinkhorn_log(*args)
    worst = float(result.marginal_error.max())
    if worst > UNCONVERGED:
        warnings.warn(f"Sinkhorn stopped with a marginal error of {worst:.3g} after {int(result.iterations.max())} "
                      f"iterations at epsilon {epsilon:g}: the plan is not yet a transport plan; raise max_iter or "
                      "epsilon (or scale the cost, see scale_cost)", RuntimeWarning, stacklevel=2)
    return result


def _sinkhorn_log(kernel, pair, log_a, log_b, x_mask, y_mask, max_iter, tol, check_every):
    """Reference iterations, as POT's sinkhorn_log: column potential first, then row."""
    log_u = torch.zeros_like(log_a)
    log_v = torch.zeros_like(log_b)
    active = torch.ones(kernel.shape[0], dtype=torch.bool, device=kernel.device)
    iterations = torch.zeros(kernel.shape[0], dtype=torch.long, device=kernel.device)
    for it in range(1, max_iter + 1):
        new_v = log_b - torch.logsumexp(kernel + log_u.unsqueeze(2), dim=1)
        new_u = log_a - torch.logsumexp(kernel + new_v.unsqueeze(1), dim=2)
        keep = active.unsqueeze(1)
        log_v = torch.where(keep, new_v, log_v)
        log_u = torch.where(keep, new_u, log_u)
        iterations = iterations + active.long()
        if tol > 0 and (it % check_every == 0 or it == max_iter):
            with torch.no_grad():
                error = _marginal_error(kernel, log_u, log_v, log_a, log_b, x_mask, y_mask)
                active = active & (error >= tol)
            if not active.any():
                break
    return _result(kernel, pair, log_u, log_v, log_a, log_b, x_mask, y_mask, iterations)


def _sinkhorn_stabilised(kernel, pair, log_a, log_b, x_mask, y_mask, max_iter, tol, check_every):
    """Log potentials (alpha, beta) absorbed into the kernel, scalings (u, v) in the plain domain.
    Padded scalings stay 0 (their kernel rows and columns are 0); ``pad_*`` adds 1 where a
    denominator or logarithm would otherwise see that 0."""
    limit = 200.0 if kernel.dtype == torch.float64 else 30.0  # |log scaling| before absorbing
    a, b = log_a.exp() * x_mask, log_b.exp() * y_mask
    pad_x, pad_y = (~x_mask).to(kernel.dtype), (~y_mask).to(kernel.dtype)
    # The first iteration in the log domain: every row of the absorbed kernel then has mass.
    beta = (log_b - torch.logsumexp(kernel, dim=1)) * y_mask
    alpha = (log_a - torch.logsumexp(kernel + beta.unsqueeze(1), dim=2)) * x_mask
    absorbed = (kernel + alpha.unsqueeze(2) + beta.unsqueeze(1)).exp()
    u, v = x_mask.to(kernel.dtype), y_mask.to(kernel.dtype)
    active = torch.ones(kernel.shape[0], dtype=torch.bool, device=kernel.device)
    iterations = torch.ones(kernel.shape[0], dtype=torch.long, device=kernel.device)
    for it in range(2, max_iter + 1):
        new_v = b / (torch.bmm(u.unsqueeze(1), absorbed).squeeze(1) + pad_y)
        new_u = a / (torch.bmm(absorbed, new_v.unsqueeze(2)).squeeze(2) + pad_x)
        if tol > 0:
            keep = active.unsqueeze(1)
            u, v = torch.where(keep, new_u, u), torch.where(keep, new_v, v)
        else:
            u, v = new_u, new_v
        iterations = iterations + active.long()
        with torch.no_grad():
            low, high = torch.aminmax(torch.cat([u + pad_x, v + pad_y], dim=1))
            low, high = low.item(), high.item()
        if not (0 < low and high < float("inf")):
            return None  # a scaling overflowed or underflowed: solve in the log domain
        if math.log(high) > limit or -math.log(low) > limit:
            alpha = alpha + (u + pad_x).log()
            beta = beta + (v + pad_y).log()
            absorbed = (kernel + alpha.unsqueeze(2) + beta.unsqueeze(1)).exp()
            u, v = x_mask.to(kernel.dtype), y_mask.to(kernel.dtype)
        if tol > 0 and (it % check_every == 0 or it == max_iter):
            with torch.no_grad():
                error = _marginal_error(kernel, alpha + (u + pad_x).log(), beta + (v + pad_y).log(),
                                        log_a, log_b, x_mask, y_mask)
                active = active & (error >= tol)
            if not active.any():
                break
    log_u = torch.where(x_mask, alpha + (u + pad_x).log(), torch.full_like(alpha, NEG))
    log_v = torch.where(y_mask, beta + (v + pad_y).log(), torch.full_like(beta, NEG))
    return _result(kernel, pair, log_u, log_v, log_a, log_b, x_mask, y_mask, iterations)


def _result(kernel, pair, log_u, log_v, log_a, log_b, x_mask, y_mask, iterations):
    log_plan = kernel + log_u.unsqueeze(2) + log_v.unsqueeze(1)
    plan = torch.where(pair, log_plan.exp(), torch.zeros_like(log_plan))
    with torch.no_grad():
        error = _marginal_error(kernel, log_u, log_v, log_a, log_b, x_mask, y_mask)
    if not torch.isfinite(plan).all():
        raise FloatingPointError("Sinkhorn produced non-finite plans; check the cost for inf or NaN")
    return TransportResult(plan, error, iterations, log_u, log_v)


def _marginal_error(kernel, log_u, log_v, log_a, log_b, x_mask, y_mask):
    log_plan = kernel + log_u.unsqueeze(2) + log_v.unsqueeze(1)
    plan = log_plan.exp()
    rows = (plan.sum(2) - log_a.exp() * x_mask).abs().sum(1)
    cols = (plan.sum(1) - log_b.exp() * y_mask).abs().sum(1)
    return rows + cols


COST_SCALES = ("none", "std")


def scale_cost(cost: torch.Tensor, x_mask: torch.Tensor | None = None, y_mask: torch.Tensor | None = None,
               method: str = "std") -> torch.Tensor:
    """Cost matrices rescaled per item so that one epsilon means one sharpness on any model and
    layer: ``std`` centres each item's real entries and divides them by their standard deviation
    (a constant shift leaves the plan unchanged; the division sets epsilon relative to the spread);
    ``none`` returns the cost as it is. Padding is ignored and left at 0.

    >>> import torch
    >>> scaled = scale_cost(torch.tensor([[1.0, 3.0], [3.0, 1.0]]))
    >>> scaled
    tensor([[-1.,  1.],
            [ 1., -1.]])
    """
    checks.tensor(cost, "cost", (2, 3))
    checks.one_of(method, "method", COST_SCALES)
    if method not in COST_SCALES:
        raise ValueError(f"unknown cost scale '{method}'; scales: {', '.join(COST_SCALES)}")
    if method == "none":
        return cost
    cost, x_mask, y_mask, squeeze = _batched(cost, x_mask, y_mask)
    x_mask, y_mask = _masks(cost, x_mask, y_mask)
    pair = (x_mask.unsqueeze(2) & y_mask.unsqueeze(1)).to(cost.dtype)
    count = pair.sum((1, 2), keepdim=True)
    mean = (cost * pair).sum((1, 2), keepdim=True) / count
    spread = (((cost - mean) ** 2) * pair).sum((1, 2), keepdim=True) / count
    scaled = (cost - mean) / spread.sqrt().clamp_min(1e-12) * pair
    return scaled[0] if squeeze else scaled


def plan_diagnostics(plan: torch.Tensor, x_mask: torch.Tensor | None = None, y_mask: torch.Tensor | None = None) -> dict[str, float]:
    """Whether a batch of plans is an alignment or a blur, averaged over real rows: the entropy of
    each row's conditional distribution as a share of its maximum (1 = uniform, 0 = one partner) and
    the share of each row's mass on its best column (1/m for the uniform plan).

    >>> import torch
    >>> plan_diagnostics(torch.eye(2) / 2)
    {'plan_entropy': 0.0, 'plan_argmax_mass': 1.0}
    >>> plan_diagnostics(torch.full((2, 2), 0.25))
    {'plan_entropy': 1.0, 'plan_argmax_mass': 0.5}
    """
    checks.tensor(plan, "plan", (2, 3), low=0)
    plan, x_mask, y_mask, _ = _batched(plan, x_mask, y_mask)
    x_mask, y_mask = _masks(plan, x_mask, y_mask)
    plan = plan.detach().double()
    rows = plan / plan.sum(2, keepdim=True).clamp_min(1e-300)
    entropy = -(rows * rows.clamp_min(1e-300).log()).sum(2)
    columns = y_mask.sum(1, keepdim=True).double()
    share = torch.where(columns > 1, entropy / columns.log().clamp_min(1e-12), torch.zeros_like(entropy))
    best = rows.max(2).values
    real = x_mask.double()
    return {"plan_entropy": float((share * real).sum() / real.sum()),
            "plan_argmax_mass": float((best * real).sum() / real.sum())}


def exact_transport(cost: torch.Tensor, x_mask=None, y_mask=None, a=None, b=None) -> torch.Tensor:
    """Unregularised plans from POT's network simplex (``ot.emd``), item by item, on the CPU.
    For small problems and tests; no gradient. Shapes as :func:`sinkhorn`'s; returns the plans.

    >>> import torch
    >>> exact_transport(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]])
    """
    import ot

    checks.tensor(cost, "cost", (2, 3))
    checks.tensor(a, "a (the row marginal weights)", (1, 2), low=0, optional=True)
    checks.tensor(b, "b (the column marginal weights)", (1, 2), low=0, optional=True)
    cost, x_mask, y_mask, squeeze = _batched(cost, x_mask, y_mask)
    x_mask, y_mask = _masks(cost, x_mask, y_mask)
    log_a, log_b = _log_marginal(a, x_mask), _log_marginal(b, y_mask)
    plans = torch.zeros_like(cost, dtype=torch.float64)
    for i in range(cost.shape[0]):
        rows, cols = x_mask[i].nonzero().squeeze(1), y_mask[i].nonzero().squeeze(1)
        m = cost[i][rows][:, cols].detach().cpu().double().numpy()
        wa = log_a[i, rows].exp().cpu().numpy()
        wb = log_b[i, cols].exp().cpu().numpy()
        plan = ot.emd(wa / wa.sum(), wb / wb.sum(), np.ascontiguousarray(m))
        plans[i, rows.unsqueeze(1), cols.unsqueeze(0)] = torch.from_numpy(plan).to(plans.device)
    plans = plans.to(cost.dtype)
    return plans[0] if squeeze else plans


def pad_costs(costs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack cost matrices of different shapes into (B, n_max, m_max) with row/column masks.

    >>> import torch
    >>> batch, x_mask, y_mask = pad_costs([torch.zeros(2, 3), torch.zeros(1, 2)])
    >>> tuple(batch.shape), x_mask.tolist(), y_mask.tolist()
    ((2, 2, 3), [[True, True], [True, False]], [[True, True, True], [True, True, False]])
    """
    checks.tensors(costs, "costs", 2)
    n = max(c.shape[0] for c in costs)
    m = max(c.shape[1] for c in costs)
    batch = costs[0].new_zeros((len(costs), n, m))
    x_mask = torch.zeros(len(costs), n, dtype=torch.bool)
    y_mask = torch.zeros(len(costs), m, dtype=torch.bool)
    for i, c in enumerate(costs):
        batch[i, : c.shape[0], : c.shape[1]] = c
        x_mask[i, : c.shape[0]] = True
        y_mask[i, : c.shape[1]] = True
    return batch, x_mask, y_mask
