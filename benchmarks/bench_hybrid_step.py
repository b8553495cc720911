"""Hybrid-batch training and one grid configuration end to end, before and after the fast path,
at the same batch, measured in the same run, with the ratios (targets: a configuration at most
0.25 of today's).

- reference: every layer trained and run at every step, batches drawn without regard to length,
  the teacher reading each batch's English again, every dev check and the evaluation encoding
  each text through all twelve layers;
- fast path: the lowest ``frozen_layers`` layers keep the base weights; their states (and the
  frozen teacher's) are computed once per text and process, so later steps, dev checks and the
  evaluation of every configuration run only the upper layers; batches group pairs of similar
  length. The one-off cost of the shared states is printed apart (a grid pays it once).

    python benchmarks/bench_hybrid_step.py [--steps 12] [--pool-queries 300] [--pool-docs 600]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from otclir.experiments.ablation import AblationGrid, run_point
from otclir.models import state_cache
from otclir.training.configs import ContrastiveConfig
from otclir.training.trainer import train

LANGUAGES = ["en", "sw", "tl", "ny", "fa", "fr"]


def timed_steps(config: ContrastiveConfig, folder: Path) -> list[float]:
    import json

    train(config, folder, progress=False)
    return [r["step_seconds"] for r in map(json.loads, (folder / "log.jsonl").read_text().splitlines()) if "step_seconds" in r]


def configuration(args, frozen: int, name: str) -> float:
    training = dict(languages=LANGUAGES, steps=args.steps, batch_size=16, lr=2e-5, max_length=64, eval_every=args.steps // 2,
                    dev_queries=50, dev_docs=200, ot_queries=True, checkpoint_every=args.steps)
    if frozen:
        training.update(frozen_layers=frozen, bucket_batches=True)
    grid = AblationGrid(name=name, alphas=[0.5], ot_weights=[0.1], budgets=[2000], seeds=[0], training=training,
                        evaluation={"max_queries": args.pool_queries, "max_docs": args.pool_docs, "depth": None,
                                    "run_depth": 10, "settings": ["monolingual", "cross-lingual", "multilingual", "bitext"]},
                        baseline=False)
    started = time.perf_counter()
    run_point(grid, grid.points()[0], log=lambda line: None, progress=False)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--pool-queries", type=int, default=300)
    parser.add_argument("--pool-docs", type=int, default=600)
    args = parser.parse_args()
    import os

    scratch = tempfile.TemporaryDirectory(prefix="otclir-bench-")
    os.environ["OTCLIR_OUTPUTS"] = scratch.name
    common = dict(languages=LANGUAGES, alpha=0.5, train_pairs=2000, steps=args.steps, batch_size=16, max_length=64,
                  eval_every=0, seed=0, ot_weight=0.1, ot_queries=True, checkpoint_every=args.steps)
    reference = timed_steps(ContrastiveConfig(**common), Path(scratch.name) / "reference")
    fast = ContrastiveConfig(**common, frozen_layers=8, bucket_batches=True)
    cold = timed_steps(fast, Path(scratch.name) / "cold")
    warm = timed_steps(ContrastiveConfig(**{**common, "alpha": 1.0}, frozen_layers=8, bucket_batches=True),
                       Path(scratch.name) / "warm")  # another configuration of the grid: the texts' states are known

    state_cache._CACHE.clear()
    today = configuration(args, 0, "bench-reference")
    first = configuration(args, 8, "bench-fast")  # pays for the shared states of its texts and the pool
    second = configuration(args, 8, "bench-fast-again")  # the next configuration of the grid reuses them

    def median(values):
        return sorted(values)[len(values) // 2]

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"hybrid step, batch 16 (16 queries, 32 passages), six languages, lambda 0.1 on queries and passages, "
          f"{args.steps} steps:")
    print(f"  reference (every layer)               {1000 * median(reference):8.1f} ms (median)")
    print(f"  fast path, first configuration        {1000 * median(cold):8.1f} ms (computes each new text's frozen states)")
    print(f"  fast path, a later configuration      {1000 * median(warm):8.1f} ms")
    print(f"  hybrid step ratio (later / reference): {median(warm) / median(reference):.2f}; "
          f"first / reference: {median(cold) / median(reference):.2f}")
    print(f"one grid configuration end to end ({args.steps} steps, 2 dev checks, a {args.pool_queries}-query, "
          f"{args.pool_docs}-verse pool in six languages and four settings):")
    print(f"  reference {today:.1f} s; fast path first {first:.1f} s, a later one {second:.1f} s")
    print(f"  configuration ratio (later / reference): {second / today:.2f} (target at most 0.25); "
          f"first / reference: {first / today:.2f}")


if __name__ == "__main__":
    main()
