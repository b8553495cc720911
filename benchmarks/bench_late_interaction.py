"""Late-interaction (MaxSim) scoring throughput on the full test pool, against the naive all-pairs
einsum and against mean-pooled scoring, measured in the same run; and what candidate generation
costs in quality (the AP of each against exact MaxSim, and the share of relevant documents the
candidates miss).

The untrained e5-small student encodes the English queries and the target-language documents once
(token vectors kept as float16 with offsets; their memory is printed); every scorer then ranks
the same encodings. The naive einsum pads every text to the longest and is timed on a sample of
queries (``--naive-queries``), its throughput extrapolated per query.

    python benchmarks/bench_late_interaction.py [--language sw] [--depths 200 500] [--naive-queries 100]
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from otclir.data.tasks import crossref_task
from otclir.models.encoder import Encoder
from otclir.retrieval import late_interaction as li
from otclir.retrieval.dense import dense_retrieve
from otclir.retrieval.measures import evaluate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", default="sw")
    parser.add_argument("--depths", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--naive-queries", type=int, default=100)
    args = parser.parse_args()
    task = crossref_task(args.language, "test")
    query_ids, doc_ids = list(task.queries), list(task.docs)
    encoder = Encoder("e5-small-student")
    started = time.perf_counter()
    queries = encoder.encode_tokens([task.queries[q] for q in query_ids], kind="query", show_progress=False)
    docs = encoder.encode_tokens([task.docs[d] for d in doc_ids], kind="passage", show_progress=False)
    encoding = time.perf_counter() - started
    n_q = len(query_ids)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"pool: {n_q} queries x {len(doc_ids)} documents (en-{args.language}); {len(docs.tokens)} document token "
          f"vectors, {docs.token_bytes / 2**20:.1f} MB as float16 with offsets; encoding {encoding:.0f} s (not counted below)")

    rows = []

    def timed(name, function):
        start = time.perf_counter()
        run = function()
        seconds = time.perf_counter() - start
        rows.append((name, seconds, evaluate(task.qrels, run, ["AP"])["AP"] if run is not None else None))
        return run

    mean = timed("mean pooling (one vector per text)",
                 lambda: dense_retrieve(queries.pooled, docs.pooled, query_ids, doc_ids, exclude=task.exclude))
    exact = timed("MaxSim exact (length buckets)",
                  lambda: li.maxsim_retrieve(queries, docs, query_ids, doc_ids, exclude=task.exclude))
    for depth in args.depths:
        timed(f"MaxSim rescoring mean top {depth}",
              lambda depth=depth: li.maxsim_retrieve(queries, docs, query_ids, doc_ids, exclude=task.exclude,
                                                     candidates=mean, rerank_depth=depth))
    sample = queries.subset(range(min(args.naive_queries, n_q)))
    start = time.perf_counter()
    li.naive_maxsim(sample, docs)
    naive_per_query = (time.perf_counter() - start) / len(sample)
    print(f"{'scorer':40s} {'seconds':>8s} {'queries/s':>10s} {'x naive':>8s} {'AP':>7s}")
    print(f"{'MaxSim naive all-pairs einsum (sampled)':40s} {naive_per_query * n_q:8.1f} {1 / naive_per_query:10.1f} "
          f"{1.0:8.2f} {'':>7s}")
    for name, seconds, ap in rows:
        print(f"{name:40s} {seconds:8.1f} {n_q / seconds:10.1f} {naive_per_query * n_q / seconds:8.2f} {ap:7.4f}")
    exact_ap = rows[1][2]
    for depth, (_, _, ap) in zip(args.depths, rows[2:]):
        lost = li.candidate_recall(task.qrels, {q: dict(list(r.items())[:depth]) for q, r in mean.items()}, exact)
        print(f"top {depth} candidates: AP {ap - exact_ap:+.4f} against exact; relevant documents of the exact top 1000 "
              f"they miss {lost['relevant_missed']:.1%}, of the exact top 10 {lost['relevant_missed@10']:.1%}")


if __name__ == "__main__":
    main()
