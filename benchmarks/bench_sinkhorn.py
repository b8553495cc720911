"""Batched masked log-domain Sinkhorn (otclir.transport.ot.sinkhorn) against POT, in one run.

B = 64 problems, lengths drawn from 8 to 64 on each side, costs in [0, 2], epsilon 0.05, the same
number of iterations for every solver. Prints the wall time per batch, the ratios, and the largest
plan difference from the per-item POT reference.

    python benchmarks/bench_sinkhorn.py [--iters 100] [--repeats 5] [--dtype float32]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import ot
import ot.batch as ot_batch
import torch

from otclir.transport.ot import pad_costs, sinkhorn


def best_of(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dtype = getattr(torch, args.dtype)
    rng = np.random.default_rng(args.seed)
    shapes = rng.integers(8, 65, size=(args.batch, 2))
    costs = [torch.from_numpy(rng.uniform(0, 2, size=(n, m))).to(dtype) for n, m in shapes]
    batch, x_mask, y_mask = pad_costs(costs)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, POT {ot.__version__}, torch {torch.__version__}")
    print(f"B={args.batch}, lengths 8-64 (padded to {tuple(batch.shape[1:])}), epsilon={args.epsilon}, "
          f"{args.iters} iterations, {args.dtype}, best of {args.repeats}")

    def pot_loop():
        plans = []
        for c in costs:
            n, m = c.shape
            plans.append(ot.sinkhorn(np.full(n, 1 / n), np.full(m, 1 / m), c.double().numpy(), args.epsilon,
                                     method="sinkhorn_log", numItermax=args.iters, stopThr=0, warn=False))
        return plans

    t_loop, reference = best_of(pot_loop, max(1, args.repeats // 2))

    def diff(plans):
        return max(float(np.abs(np.asarray(plans[i])[: c.shape[0], : c.shape[1]] - reference[i]).max())
                   for i, c in enumerate(costs))

    # POT's batched solver needs one size: pad, with zero mass on padding (its documented input).
    a = x_mask.to(dtype) / x_mask.sum(1, keepdim=True)
    b = y_mask.to(dtype) / y_mask.sum(1, keepdim=True)
    rows = {}
    def pot_batch():
        return ot_batch.solve_batch(batch, reg=args.epsilon, a=a, b=b, max_iter=args.iters, tol=0,
                                    method="log_sinkhorn", grad="detach").plan

    t_batch, plans = best_of(pot_batch, args.repeats)
    rows["POT batched (log_sinkhorn, padded)"] = (t_batch, diff([p.double().numpy() for p in plans]))

    def ours():
        return sinkhorn(batch, x_mask, y_mask, epsilon=args.epsilon, max_iter=args.iters).plan

    t_ours, plans = best_of(ours, args.repeats)
    rows["otclir.transport.ot.sinkhorn (masked)"] = (t_ours, diff([p.double().numpy() for p in plans]))

    print(f"\n{'solver':40s} {'ms/batch':>10s} {'loop/this':>10s} {'max |plan diff|':>16s}")
    print(f"{'POT sinkhorn_log, loop over items':40s} {1000 * t_loop:10.2f} {1.0:10.1f} {0.0:16.2e}")
    for name, (t, d) in rows.items():
        print(f"{name:40s} {1000 * t:10.2f} {t_loop / t:10.1f} {d:16.2e}")
    print(f"\nours vs POT batched: {t_batch / t_ours:.2f}x faster")


if __name__ == "__main__":
    main()
