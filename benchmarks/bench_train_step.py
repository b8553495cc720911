"""One distillation step on the default configuration, broken down: teacher forward, student
forward, OT solve (cost matrix and Sinkhorn), loss backward, optimiser. Prints each part's time
and the OT share of the step.

    python benchmarks/bench_train_step.py [--steps 10] [--language sw] [--batch-size 16]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from otclir.losses import cosine_cost
from otclir.ot import sinkhorn
from otclir.training import DistillConfig, Distiller


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--language", default="sw")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    config = DistillConfig(language=args.language, batch_size=args.batch_size, eval_every=0)
    d = Distiller(config, tempfile.mkdtemp())
    parts = {k: 0.0 for k in ("teacher forward", "student forward", "OT solve", "backward", "optimiser")}
    clock = time.perf_counter
    for step in range(args.steps + 1):  # the first step warms up and is not counted
        pairs = [d.pairs[i] for i in d.sampler.next_batch()]
        t0 = clock()
        t_batch = d.teacher.tokenize([p[0] for p in pairs], kind="passage")
        with torch.no_grad():
            t_hidden = d.teacher.model(**{k: t_batch[k] for k in ("input_ids", "attention_mask")}).last_hidden_state
        t1 = clock()
        s_batch = d.student.tokenize([p[1] for p in pairs], kind="passage")
        s_hidden = d.module(**{k: s_batch[k] for k in ("input_ids", "attention_mask")}).last_hidden_state
        t2 = clock()
        cost = cosine_cost(t_hidden, s_hidden)
        plan = sinkhorn(cost.detach(), d._content(d.teacher, t_batch), d._content(d.student, s_batch),
                        epsilon=config.epsilon, max_iter=config.sinkhorn_iters).plan
        t3 = clock()
        (plan * cost).sum((1, 2)).mean().backward()
        t4 = clock()
        d.optimizer.step()
        d.optimizer.zero_grad(set_to_none=True)
        t5 = clock()
        if step:
            for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[key] += dt / args.steps
    total = sum(parts.values())
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"default configuration: batch {config.batch_size}, max length {config.max_length}, epsilon {config.epsilon}, "
          f"{config.sinkhorn_iters} Sinkhorn iterations, word embeddings frozen, {args.steps} steps")
    for key, value in parts.items():
        print(f"{key:16s} {1000 * value:8.1f} ms  {100 * value / total:5.1f}%")
    print(f"{'step':16s} {1000 * total:8.1f} ms")
    print(f"OT share of the step: {100 * parts['OT solve'] / total:.1f}% (target under 10%)")


if __name__ == "__main__":
    main()
