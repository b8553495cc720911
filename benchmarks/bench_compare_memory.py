"""Peak memory and time of `otclir compare` as the number of queries grows: synthetic qrels (two
relevant documents a query) and two runs of depth 10, compared with the paired randomisation test
and bootstrap intervals, each size in its own process. Peak memory per query at the largest size
says what a million queries would need; the bootstrap's resamples are drawn 1,000 at a time over
every query (8 bytes x 1,000 x queries per block), which is what grows fastest.

    python benchmarks/bench_compare_memory.py [--queries 10000 30000 100000] [--permutations 1000]
"""
from __future__ import annotations

import argparse
import gzip
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_files(folder: Path, queries: int, depth: int = 10, seed: int = 0) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    qrels, base, system = [], [], []
    for q in range(queries):
        relevant = rng.choice(50, size=2, replace=False)
        qrels += [f"q{q} 0 d{q}-{d} 1\n" for d in relevant]
        for lines, shift in ((base, 0.0), (system, 0.3)):
            scores = rng.random(50) + shift * np.isin(np.arange(50), relevant)
            top = np.argsort(-scores, kind="stable")[:depth]
            lines += [f"q{q} Q0 d{q}-{d} {rank} {float(scores[d])!r} run\n" for rank, d in enumerate(top, start=1)]
    paths = folder / "qrels.txt", folder / "base.run.gz", folder / "system.run.gz"
    paths[0].write_text("".join(qrels))
    for path, lines in zip(paths[1:], (base, system)):
        with gzip.open(path, "wt") as out:
            out.write("".join(lines))
    return paths


def measure(queries: int, permutations: int) -> tuple[float, float]:
    """Seconds and peak resident MB of one `otclir compare` in a child process."""
    with tempfile.TemporaryDirectory() as folder:
        # the files are written by a child of their own: a child's peak memory on Linux counts the
        # memory of the process it was forked from, so this process stays small
        qrels, base, system = Path(folder) / "qrels.txt", Path(folder) / "base.run.gz", Path(folder) / "system.run.gz"
        subprocess.run([sys.executable, __file__, "--write", folder, str(queries)], check=True)
        script = ("import resource, sys\nfrom otclir import cli\n"
                  f"code = cli.main(['compare', {str(qrels)!r}, {str(system)!r}, '--baseline', {str(base)!r}, "
                  f"'--measures', 'AP', 'nDCG@10', '--permutations', '{permutations}'])\n"
                  "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)\n")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"otclir compare failed at {queries} queries:\n{done.stderr[-2000:]}")
        peak_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kb / 1024


def main():
    if sys.argv[1:2] == ["--write"]:
        write_files(Path(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--permutations", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}; two runs of depth 10, measures AP and "
          f"nDCG@10, {args.permutations} permutations, 10,000 bootstrap resamples")
    print(f"{'queries':>9s} {'seconds':>8s} {'peak MB':>8s} {'MB per 1k queries':>18s}")
    rows = []
    for queries in sorted(args.queries):
        seconds, peak = measure(queries, args.permutations)
        rows.append((queries, peak))
        print(f"{queries:>9d} {seconds:>8.1f} {peak:>8.0f} {1000 * peak / queries:>18.2f}", flush=True)
    if len(rows) > 1:
        (n0, m0), (n1, m1) = rows[-2], rows[-1]
        slope = (m1 - m0) / (n1 - n0)
        print(f"growth between the two largest sizes: {1000 * slope:.2f} MB per 1k queries; a million queries "
              f"would need about {m1 + slope * (1_000_000 - n1):,.0f} MB (target: under 2,048 MB)")


if __name__ == "__main__":
    main()
