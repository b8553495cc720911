"""A Debian package unpacks on every Python 3.11 (tarfile's data filter arrived in 3.11.4), and a
member that would land outside the target or is not a plain file is refused either way."""
import io
import tarfile

import pytest

from otclir.data import debian
from otclir.errors import OtclirError


def deb(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A minimal .deb: an ar archive holding debian-binary and data.tar.gz with ``members``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o4755
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    out = b"!<arch>\n"
    for name, body in (("debian-binary", b"2.0\n"), ("data.tar.gz", raw.getvalue())):
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode() + body
        out += b"\n" if len(body) % 2 else b""
    return out


@pytest.fixture(params=["with the data filter", "without it (Python before 3.11.4)"])
def python(request, monkeypatch):
    if request.param.startswith("without"):
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_package_unpacks_its_files_inside_the_target(tmp_path, python):
    debian.extract_data(deb({"./usr/share/x/module.dat": b"abc", "./usr/share/x/keys": b"k"}), tmp_path / "root")
    assert (tmp_path / "root" / "usr" / "share" / "x" / "module.dat").read_bytes() == b"abc"
    assert not (tmp_path / "root" / "usr" / "share" / "x" / "keys").stat().st_mode & 0o4000  # no set-id bit


def test_a_member_outside_the_target_is_refused(tmp_path, python):
    with pytest.raises((OtclirError, tarfile.FilterError) if hasattr(tarfile, "FilterError") else OtclirError):
        debian.extract_data(deb({"../escaped": b"x"}), tmp_path / "root")
    assert not (tmp_path / "escaped").exists()


def test_what_is_not_a_debian_package_is_named(tmp_path):
    with pytest.raises(OtclirError, match="not a Debian package"):
        debian.extract_data(b"PK\x03\x04 a zip", tmp_path)
