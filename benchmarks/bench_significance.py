"""Paired randomisation test: otclir.evaluation.stats against ranx's Fisher test and scipy's permutation_test,
in one run. 1,000 queries, 10 systems each against one baseline, 10,000 permutations.

ranx is not a project dependency (it brings numba): `pip install ranx` to include it. Its first
call compiles; that call is timed separately and left out of the comparison.

    python benchmarks/bench_significance.py [--queries 1000] [--systems 10] [--permutations 10000]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from scipy import stats as sps

from otclir.evaluation.stats import randomization_test


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--permutations", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    baseline = rng.beta(2, 5, args.queries)
    systems = [np.clip(baseline + rng.normal(0.005 * i, 0.1, args.queries), 0, 1) for i in range(args.systems)]
    print(f"machine: {platform.machine()}; {args.queries} queries, {args.systems} systems against a baseline, "
          f"{args.permutations} permutations")

    def ours():
        return [randomization_test(s, baseline, args.permutations, seed=0) for s in systems]

    def scipy_test():
        return [sps.permutation_test((s, baseline), lambda a, b, axis: np.mean(a - b, axis=axis),
                                     permutation_type="samples", n_resamples=args.permutations,
                                     vectorized=True, random_state=0).pvalue for s in systems]

    timings = {}
    for name, fn in (("otclir.evaluation.stats.randomization_test", ours), ("scipy.stats.permutation_test", scipy_test)):
        start = time.perf_counter()
        p = fn()
        timings[name] = (time.perf_counter() - start, p)
    try:
        from ranx.statistical_tests import fisher_randomization_test

        start = time.perf_counter()
        fisher_randomization_test(systems[0], baseline, 10, 0.05, 0)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        p = [fisher_randomization_test(s, baseline, args.permutations, 0.05, 0)[0] for s in systems]
        timings["ranx fisher_randomization_test"] = (time.perf_counter() - start, p)
        print(f"(ranx compile on first call: {compile_s:.1f} s, not counted)")
    except ImportError:
        print("ranx is not installed (pip install ranx): its row is left out")
    ours_s = timings["otclir.evaluation.stats.randomization_test"][0]
    print(f"\n{'implementation':34s} {'seconds':>8s} {'this/ours':>10s}  p-values of the first 3 systems")
    for name, (seconds, p) in timings.items():
        print(f"{name:34s} {seconds:8.2f} {seconds / ours_s:10.2f}  {', '.join(f'{v:.4f}' for v in p[:3])}")


if __name__ == "__main__":
    main()
