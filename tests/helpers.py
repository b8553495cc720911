"""Helpers the tests share (fixtures live in conftest.py): training under torchrun, and small
collections in ir_datasets' plain-file layout built from the Bibles."""


def torchrun_checksums(module: str, settings: dict, folder, port: int) -> tuple[list[str], dict]:
    """Train ``settings`` with ``python -m <module>`` on 2 gloo processes under torchrun; returns
    each rank's parameter checksum and the run's result."""
    import json
    import subprocess
    import sys

    import yaml

    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    out = folder / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", str(port), "-m", module, "--config", str(config),
                             "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text())["parameter_checksum"] for r in (0, 1)]
    return ranks, json.loads((out / "result.json").read_text())


def bible_collection(root, name: str, languages, split: str = "test", queries: int = 20, docs: int = 150,
                     docpairs: bool = False, seed: int = 0):
    """A collection in ir_datasets' plain-file layout built from the Bibles, one folder per language
    (``<root>/<name>/<language>/``) with the same query and document ids in every language, as
    mMARCO has: queries are verses, relevant documents the verses they cross-reference."""
    import numpy as np

    from otclir.data.tasks import crossref_task, split_verses, subsample_documents

    task = subsample_documents(crossref_task(languages[0], split, max_queries=queries, seed=seed), docs, seed)
    texts = {code: split_verses(code, split) for code in languages}
    doc_ids = [d for d in task.docs if all(d in texts[c] for c in languages)]
    query_ids = [q for q in task.queries if all(q in texts[c] for c in languages)]
    rng = np.random.default_rng(seed)
    for code in languages:
        folder = root / name / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "docs.tsv").write_text("".join(f"{d}\t{texts[code][d]}\n" for d in doc_ids))
        (folder / "queries.tsv").write_text("".join(f"{q}\t{texts[code][q]}\n" for q in query_ids))
        (folder / "qrels.txt").write_text("".join(f"{q} 0 {d} 1\n" for q in query_ids for d in sorted(task.qrels[q])
                                                  if d in doc_ids))
        if docpairs:
            rows = []
            for q in query_ids:
                others = [d for d in doc_ids if d not in task.qrels[q] and d != q]
                for d in sorted(task.qrels[q]):
                    if d in doc_ids:
                        rows.append(f"{q}\t{d}\t{others[int(rng.integers(len(others)))]}\n")
            (folder / "docpairs.tsv").write_text("".join(rows))
    return root / name


# Stored parts whose code changed on purpose and that wait for their recompute, each with why; the
# test below fails when another part goes stale, or when one of these is current again (then drop it).
AWAITING_RECOMPUTE = {
    # the evaluation now measures language fairness at the top of the multilingual ranking and ranks
    # the pool through two training-free merges; a recompute adds those columns (the stored ones
    # are computed by unchanged arithmetic)
    "04_hybrid_batch_ablations": "fairness at the top and the merges",
    "04_hybrid_batch_ablations.larger_budget": "fairness at the top and the merges",
}
