"""One distillation step (the ``ot`` objective) before and after the speed work, at the same batch,
measured in the same run, with the ratio (target: at most 0.6).

- reference: the step as it was: the teacher reads the English side every step, the student runs
  all its layers (word embeddings frozen), batches are drawn without regard to length, and the plan
  comes from the last layer's raw cost;
- current: the teacher's states of the fixed bitext are computed once, the lowest
  ``frozen_layers`` layers too (a step runs only the layers above), batches group verses of
  similar length; measured for each plan source, at 64 tokens (the previous cut) and at 128
  (whole verses: one side of a pair is longer than 128 tokens in at most 0.15% of pairs).

Each part of both steps is timed; the first steps warm up and are not counted. The one-off cost
of caching the states is printed too (it is paid once per run, not per step).

    python benchmarks/bench_train_step.py [--steps 20] [--language sw] [--batch-size 16]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from otclir.training.configs import DistillConfig
from otclir.training.distillation import Distiller
from otclir.training.samplers import EpochSampler
from otclir.transport.losses import optical_loss


def reference_step(trainer: Distiller, rows: list[int], parts: dict, clock) -> None:
    cfg = trainer.config
    pairs = [trainer.pairs[i] for i in rows]
    t0 = clock()
    t_batch = trainer.teacher.tokenize([p[0] for p in pairs], kind="passage")
    with torch.no_grad():
        t_hidden = trainer.teacher.model(input_ids=t_batch["input_ids"], attention_mask=t_batch["attention_mask"]).last_hidden_state
    t1 = clock()
    s_batch = trainer.student.tokenize([p[1] for p in pairs], kind="passage")
    s_hidden = trainer.module(input_ids=s_batch["input_ids"], attention_mask=s_batch["attention_mask"]).last_hidden_state
    t2 = clock()
    loss, _ = optical_loss(t_hidden, trainer.content_mask(trainer.teacher, t_batch["input_ids"], t_batch["attention_mask"]),
                           s_hidden, trainer.content_mask(trainer.student, s_batch["input_ids"], s_batch["attention_mask"]),
                           epsilon=0.05, max_iter=cfg.sinkhorn_iters)
    t3 = clock()
    loss.backward()
    t4 = clock()
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    t5 = clock()
    for key, dt in zip(("teacher forward", "student forward", "loss (incl. Sinkhorn)", "backward", "optimiser"),
                       (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
        parts[key] = parts.get(key, 0.0) + dt


def current_step(trainer: Distiller, rows: list[int], parts: dict, clock) -> None:
    t0 = clock()
    out = trainer.losses(rows)  # cached states in, upper layers forward, the loss
    t1 = clock()
    out["loss"].backward()
    t2 = clock()
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    t3 = clock()
    for key, dt in zip(("forward and loss", "backward", "optimiser"), (t1 - t0, t2 - t1, t3 - t2)):
        parts[key] = parts.get(key, 0.0) + dt


def measure(trainer: Distiller, step, steps: int, warmup: int) -> dict:
    parts: dict = {}
    clock = time.perf_counter
    for i in range(steps + warmup):
        rows = trainer.sampler.next_batch()
        step(trainer, rows, parts if i >= warmup else {}, clock)
    return {k: v / steps for k, v in parts.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--language", default="sw")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=2000)
    args = parser.parse_args()
    common = dict(language=args.language, objective="ot", batch_size=args.batch_size, train_pairs=args.pairs, eval_every=0)
    reference_config = DistillConfig(**common, frozen_layers=0, plan="adaptive", cost_scale="none", epsilon=0.05,
                                     bucket_batches=False, max_length=64)
    scratch = tempfile.TemporaryDirectory(prefix="otclir-bench-")
    reference = Distiller(reference_config, scratch.name, progress=False)
    reference.sampler = EpochSampler(len(reference.pairs), args.batch_size, reference_config.seed)
    rows = {"reference (64 tokens)": measure(reference, reference_step, args.steps, args.warmup)}
    del reference

    setups = {}
    for label, extra in (("fixed plan, 64 tokens (the previous default)", {"plan": "fixed", "plan_layer": 8, "max_length": 64}),
                         ("fixed plan, 128 tokens", {"plan": "fixed", "plan_layer": 8, "max_length": 128}),
                         ("adaptive plan, 128 tokens (the default)", {"max_length": 128}),
                         ("statistical plan, 128 tokens", {"plan": "statistical", "max_length": 128})):
        started = time.perf_counter()
        trainer = Distiller(DistillConfig(**common, **extra), scratch.name, progress=False)
        setups[label] = time.perf_counter() - started
        rows[label] = measure(trainer, current_step, args.steps, args.warmup)
        del trainer

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"batch {args.batch_size}, {args.pairs} {args.language} pairs, {args.steps} timed steps after {args.warmup} warm-up steps")
    for name, parts in rows.items():
        print(f"{name}:")
        for key, value in parts.items():
            print(f"  {key:22s} {1000 * value:8.1f} ms")
        print(f"  {'step':22s} {1000 * sum(parts.values()):8.1f} ms" + (f"   (set-up {setups[name]:.1f} s, once per run)"
                                                                       if name in setups else ""))
    step = {name: sum(parts.values()) for name, parts in rows.items()}
    names = list(step)
    print(f"previous default / reference step time: {step[names[1]] / step[names[0]]:.2f} (target at most 0.6)")
    print(f"whole verses (128 tokens) / 64 tokens, fixed plan: {step[names[2]] / step[names[1]]:.2f}")
    print(f"adaptive / fixed plan at 128 tokens: {step[names[3]] / step[names[2]]:.2f}; "
          f"statistical / fixed: {step[names[4]] / step[names[2]]:.2f}")


if __name__ == "__main__":
    main()
