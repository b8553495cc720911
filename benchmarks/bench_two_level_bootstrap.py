"""Two-level bootstrap (training seeds and queries) from counts (otclir.evaluation.seed_bootstrap)
against the direct gather of every drawn cell (otclir.evaluation.stats), in one run, on the shapes
notebook 05 reads: three seeds against one, the gap share of three seeds, 2,000 resamples.

    python benchmarks/bench_two_level_bootstrap.py [--queries 1500] [--seeds 3] [--resamples 2000] [--repeats 20]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from otclir.evaluation import seed_bootstrap, stats


def timed(fn, repeats: int):
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    zero = rng.beta(1, 12, args.queries)
    ceiling = np.clip(zero + rng.normal(0.05, 0.1, args.queries), 0, 1)
    system = np.clip(zero + rng.normal(0.01, 0.05, (args.seeds, args.queries)), 0, 1)
    print(f"machine: {platform.machine()}, numpy {np.__version__}; {args.seeds} seeds x {args.queries} queries, "
          f"{args.resamples} resamples, mean of {args.repeats} calls")
    print(f"{'function':22s} {'gather s':>9s} {'counts s':>9s} {'counts/gather':>14s} {'largest bound change':>21s}")
    for name in ("two_level_bootstrap", "two_level_gap_share"):
        arguments = (system, zero[None, :]) if name == "two_level_bootstrap" else (system, zero, ceiling)
        reference, fast = getattr(stats, name), getattr(seed_bootstrap, name)
        t_ref, out_ref = timed(lambda: reference(*arguments, args.resamples, 0), args.repeats)
        t_fast, out_fast = timed(lambda: fast(*arguments, args.resamples, 0), args.repeats)
        if isinstance(out_ref, dict):
            out_ref, out_fast = (np.array([o["diff_ci_low"], o["diff_ci_high"], o["p"]]) for o in (out_ref, out_fast))
        change = float(np.max(np.abs(np.asarray(out_ref) - np.asarray(out_fast))))
        print(f"{name:22s} {t_ref:9.4f} {t_fast:9.4f} {t_fast / t_ref:14.3f} {change:21.2e}")


if __name__ == "__main__":
    main()
