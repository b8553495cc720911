"""The batched log-domain Sinkhorn solver against POT, its stability and its gradient."""
import numpy as np
import ot
import pytest
import torch

from otclir.transport.ot import exact_transport, pad_costs, sinkhorn


def _problems(shapes, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(n, m, generator=gen, dtype=torch.float64).mul(2).to(dtype) for n, m in shapes]


SHAPES = [(5, 7), (1, 1), (30, 3), (12, 12), (64, 8), (2, 50)]


def _pot(cost, epsilon, iters, a=None, b=None):
    n, m = cost.shape
    a = np.full(n, 1 / n) if a is None else a / a.sum()
    b = np.full(m, 1 / m) if b is None else b / b.sum()
    return ot.sinkhorn(a, b, cost.double().numpy(), epsilon, method="sinkhorn_log", numItermax=iters,
                       stopThr=0, warn=False)


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-6), (torch.float32, 1e-4)])
def test_padded_batch_matches_pot_on_each_unpadded_problem(dtype, atol):
    costs = _problems(SHAPES, dtype=dtype)
    batch, x_mask, y_mask = pad_costs(costs)
    result = sinkhorn(batch, x_mask, y_mask, epsilon=0.05, max_iter=300)
    for i, cost in enumerate(costs):
        n, m = cost.shape
        ours = result.plan[i, :n, :m].double().numpy()
        assert np.abs(ours - _pot(cost, 0.05, 300)).max() < atol
        assert result.plan[i, n:].abs().sum() == 0 and result.plan[i, :, m:].abs().sum() == 0
    assert result.plan.dtype == dtype


def test_marginal_weights_are_respected():
    costs = _problems([(6, 4), (3, 9)], seed=1)
    batch, x_mask, y_mask = pad_costs(costs)
    gen = torch.Generator().manual_seed(2)
    a = torch.rand(x_mask.shape, generator=gen, dtype=torch.float64) + 0.1
    b = torch.rand(y_mask.shape, generator=gen, dtype=torch.float64) + 0.1
    result = sinkhorn(batch, x_mask, y_mask, epsilon=0.1, max_iter=500, a=a, b=b)
    for i, cost in enumerate(costs):
        n, m = cost.shape
        expected = _pot(cost, 0.1, 500, a[i, :n].numpy(), b[i, :m].numpy())
        assert np.abs(result.plan[i, :n, :m].numpy() - expected).max() < 1e-6
        np.testing.assert_allclose(result.plan[i, :n].sum(1).numpy(), (a[i, :n] / a[i, :n].sum()).numpy(), atol=1e-9)


@pytest.mark.parametrize("epsilon", [1e-3, 1e-2])
def test_small_epsilon_stays_finite_in_float32(epsilon):
    costs = _problems([(1, 1), (64, 2), (3, 64), (40, 40)], seed=3, dtype=torch.float32)
    batch, x_mask, y_mask = pad_costs(costs)
    result = sinkhorn(batch, x_mask, y_mask, epsilon=epsilon, max_iter=200)
    assert torch.isfinite(result.plan).all()
    assert torch.isfinite(result.marginal_error).all()
    assert torch.allclose(result.plan.sum((1, 2)), torch.ones(4), atol=1e-3)
    assert result.plan[0, 0, 0].item() == pytest.approx(1.0)


def test_tolerance_stops_items_separately_and_reports_their_error():
    costs = _problems([(4, 4), (50, 50)], seed=4)
    batch, x_mask, y_mask = pad_costs(costs)
    result = sinkhorn(batch, x_mask, y_mask, epsilon=0.1, max_iter=1000, tol=1e-8, check_every=5)
    assert (result.marginal_error < 1e-8).all()
    assert result.iterations.min() < result.iterations.max() <= 1000  # each item stops on its own
    with pytest.warns(RuntimeWarning, match="after 3 iterations at epsilon 0.02"):  # a capped run says so
        capped = sinkhorn(batch, x_mask, y_mask, epsilon=0.02, max_iter=3)
    assert (capped.iterations == 3).all() and (capped.marginal_error > 1e-8).any()


def test_gradient_through_unrolled_iterations():
    gen = torch.Generator().manual_seed(5)
    cost = torch.rand(2, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    x_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    y_mask = torch.tensor([[1, 1, 1], [1, 0, 1]], dtype=torch.bool)

    def loss(c):
        return (sinkhorn(c, x_mask, y_mask, epsilon=0.2, max_iter=20).plan * c).sum()

    assert torch.autograd.gradcheck(loss, (cost,), eps=1e-6, atol=1e-5)


def test_exact_transport_matches_pot_emd_and_ignores_padding():
    costs = _problems([(5, 5), (3, 6)], seed=6)
    batch, x_mask, y_mask = pad_costs(costs)
    plans = exact_transport(batch, x_mask, y_mask)
    for i, cost in enumerate(costs):
        n, m = cost.shape
        expected = ot.emd(np.full(n, 1 / n), np.full(m, 1 / m), cost.numpy())
        np.testing.assert_allclose(plans[i, :n, :m].numpy(), expected, atol=1e-12)
    assert plans[1, 3:].abs().sum() == 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        sinkhorn(torch.rand(3, 3), epsilon=0)
    with pytest.raises(ValueError, match="at least one unmasked"):
        sinkhorn(torch.rand(1, 3, 3), torch.zeros(1, 3, dtype=torch.bool), None)
    with pytest.raises(ValueError, match="masks must have shapes"):
        sinkhorn(torch.rand(2, 3, 3), torch.ones(2, 4, dtype=torch.bool), None)


def test_stabilised_iterations_follow_the_log_domain_reference(monkeypatch):
    from otclir.transport import ot as solver

    costs = _problems([(9, 17), (33, 5), (20, 20)], seed=7)
    batch, x_mask, y_mask = pad_costs(costs)
    fast = sinkhorn(batch, x_mask, y_mask, epsilon=0.005, max_iter=150)  # absorbs many times
    monkeypatch.setattr(solver, "_sinkhorn_stabilised", lambda *args: None)
    reference = sinkhorn(batch, x_mask, y_mask, epsilon=0.005, max_iter=150)
    assert torch.allclose(fast.plan, reference.plan, atol=1e-10)
    assert torch.equal(fast.iterations, reference.iterations)


def test_std_scaling_sets_epsilon_relative_to_the_spread_and_ignores_padding():
    from otclir.transport.ot import scale_cost

    costs = _problems([(4, 6), (3, 2)], seed=5)
    batch, x_mask, y_mask = pad_costs(costs)
    scaled = scale_cost(batch, x_mask, y_mask, "std")
    for i, cost in enumerate(costs):
        n, m = cost.shape
        real = scaled[i, :n, :m]
        assert real.mean().item() == pytest.approx(0, abs=1e-9)
        assert real.std(unbiased=False).item() == pytest.approx(1, rel=1e-9)
        assert scaled[i, n:].abs().sum() == 0 and scaled[i, :, m:].abs().sum() == 0
    # the same cost shifted and stretched gives the same scaled cost, hence the same plan
    stretched = scale_cost(3 * batch + 7, x_mask, y_mask, "std")
    assert torch.allclose(stretched, scaled, atol=1e-9)
    assert scale_cost(batch, x_mask, y_mask, "none") is batch
    with pytest.raises(ValueError, match="method must be one of 'none', 'std'; got 'max'"):
        scale_cost(batch, x_mask, y_mask, "max")


def test_plan_diagnostics_tell_a_blur_from_an_alignment():
    from otclir.transport.ot import plan_diagnostics

    uniform = torch.full((1, 4, 5), 1 / 20, dtype=torch.float64)
    assert plan_diagnostics(uniform) == pytest.approx({"plan_entropy": 1.0, "plan_argmax_mass": 0.2})
    permutation = torch.eye(4, dtype=torch.float64).unsqueeze(0) / 4
    assert plan_diagnostics(permutation) == pytest.approx({"plan_entropy": 0.0, "plan_argmax_mass": 1.0})
    padded = torch.zeros(1, 3, 3, dtype=torch.float64)
    padded[0, :2, :2] = 0.25
    mask = torch.tensor([[True, True, False]])
    assert plan_diagnostics(padded, mask, mask) == pytest.approx({"plan_entropy": 1.0, "plan_argmax_mass": 0.5})


def test_marginals_without_mass_are_refused():
    cost = torch.rand(1, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="sum to 0"):
        sinkhorn(cost, a=torch.zeros(1, 3, dtype=torch.float64))
