"""Where the project keeps committed data, derived data, outputs and caches.

The root is the checkout holding ``pyproject.toml`` (found from this file for an
editable install, else from the working directory); ``OTCLIR_HOME`` overrides it.
``OTCLIR_OUTPUTS`` and ``OTCLIR_CACHE`` move the git-ignored folders.
"""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("OTCLIR_HOME")
    if env:
        return Path(env).resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "pyproject.toml").is_file() and (candidate / "lib" / "otclir").is_dir():
                return candidate
    return Path.cwd().resolve()


def data_dir() -> Path:
    """Committed, small data: language table, splits, manifests."""
    return project_root() / "data"


def figures_dir() -> Path:
    path = project_root() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def outputs_dir(*parts: str) -> Path:
    """Git-ignored outputs (executed notebooks, derived data, runs, metrics)."""
    base = Path(os.environ.get("OTCLIR_OUTPUTS", project_root() / "outputs"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """Git-ignored cache for rebuilt model checkpoints."""
    base = Path(os.environ.get("OTCLIR_CACHE", project_root() / ".cache" / "otclir"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def relative_to_root(path: os.PathLike | str) -> str:
    """A path as shown to users and stored in outputs: relative to the project root."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return str(path)
