"""Encoding throughput of otclir's Encoder against sentence-transformers' ``encode``, same model,
same 2,000 verses, same batch size, in one run; prints verses per second and the ratio.

    python benchmarks/bench_encoding.py [--verses 2000] [--batch-size 64] [--models minilm-teacher e5-small-student]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from otclir.data.bible import read_version
from otclir.models.encoder import Encoder
from otclir.models.registry import resolve

TEXTS = {"minilm-teacher": "4", "e5-small-student": "f"}  # WEB and Tagalog 1905, public domain


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verses", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", nargs="+", default=["minilm-teacher", "e5-small-student"])
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"{'model':18s} {'ours v/s':>9s} {'ST v/s':>9s} {'ours/ST':>8s} {'min cosine':>11s}")
    for model in args.models:
        verses = read_version(TEXTS.get(model, "4"))
        texts = [verses[k] for k in sorted(verses)[: args.verses]]
        ours = Encoder(model)
        theirs = SentenceTransformer(resolve(model).path, device="cpu")
        theirs.max_seq_length = ours.max_length
        prefixed = ours.prepare(texts, "passage")  # the same strings for both
        ours.encode(texts[:64], kind="passage")
        theirs.encode(prefixed[:64])  # warm-up
        t_ours, a = timed(lambda: ours.encode(texts, kind="passage", batch_size=args.batch_size, show_progress=False))
        t_st, b = timed(lambda: theirs.encode(prefixed, batch_size=args.batch_size, normalize_embeddings=True))
        cosine = float(np.min((a * b).sum(1)))
        print(f"{model:18s} {len(texts) / t_ours:9.1f} {len(texts) / t_st:9.1f} {t_st / t_ours:8.2f} {cosine:11.5f}")


if __name__ == "__main__":
    main()
