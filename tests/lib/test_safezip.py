"""The zip guard counts what every member really unpacks to, whatever its headers say."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from auditcoach.lib.safezip import ZipLimits, ZipRefused, check_zip, copy_member, open_zip

MB = 1024 * 1024


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _refused(path: Path, limits: ZipLimits | None = None) -> ZipRefused:
    with pytest.raises(ZipRefused) as caught:
        check_zip(path, limits or ZipLimits())
    return caught.value


def test_an_honest_archive_passes_and_lists_its_members(tmp_path: Path) -> None:
    path = _zip(tmp_path / "ok.zip", {"a.csv": b"x" * 1000, "dir/b.csv": b"y"})
    assert [i.filename for i in check_zip(path, ZipLimits())] == ["a.csv", "dir/b.csv"]


def test_the_ratio_is_counted_as_bytes_are_produced(tmp_path: Path) -> None:
    # 40 MB of zeros packs to ~40 kB (ratio ~1000): refused once past the 8 MB grace.
    path = _zip(tmp_path / "bomb.zip", {"zeros.csv": b"\0" * (40 * MB)})
    refused = _refused(path)
    assert not refused.damaged
    assert "unpacks to more than 100 times its packed size" in refused.message
    # Below the grace nothing is judged by its ratio: 4 MB of zeros passes.
    check_zip(_zip(tmp_path / "small.zip", {"zeros.csv": b"\0" * (4 * MB)}), ZipLimits())


def test_lying_headers_do_not_help(tmp_path: Path) -> None:
    # The member claims 10 bytes unpacked in both headers; it yields 20 MB.
    path = _zip(tmp_path / "liar.zip", {"a.csv": b"\0" * (20 * MB)})
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 10)
    struct.pack_into("<I", data, central + 24, 10)
    path.write_bytes(bytes(data))
    # zipfile stops at the claimed size and the checksum then fails: damaged, never 20 MB.
    refused = _refused(path, ZipLimits(max_member_bytes=5 * MB, max_ratio=10**6))
    assert refused.damaged
    assert refused.message == (
        "This file is damaged (a.csv fails its checksum): save it again and upload the new copy."
    )


def test_member_and_total_caps(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MB that barely compresses
    path = _zip(tmp_path / "two.zip", {"a": data, "b": data, "c": data})
    assert _refused(path, ZipLimits(max_member_bytes=MB // 2)).message.startswith(
        "This file is too large when unpacked: a passes 524,288 bytes."
    )
    assert "the whole file passes" in _refused(path, ZipLimits(max_total_bytes=2 * MB)).message
    check_zip(path, ZipLimits(max_member_bytes=MB, max_total_bytes=3 * MB))


def test_too_many_members(tmp_path: Path) -> None:
    path = _zip(tmp_path / "many.zip", {f"{i}.txt": b"" for i in range(11)})
    refused = _refused(path, ZipLimits(max_members=10))
    assert refused.message.startswith("This file holds 11 parts")


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/x.csv"])
def test_names_outside_the_archive_are_damaged(tmp_path: Path, name: str) -> None:
    path = _zip(tmp_path / "trav.zip", {"ok.csv": b"x"})
    data = path.read_bytes().replace(b"ok.csv", name.encode()[:6].ljust(6, b"_"))
    if len(name) == 6:
        path.write_bytes(data)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            info = zipfile.ZipInfo("placeholder")
            zf.writestr(info, b"x")
        raw = buf.getvalue().replace(b"placeholder", name.encode()[:11].ljust(11, b"_"))
        path.write_bytes(raw)
    refused = _refused(path)
    assert refused.damaged
    assert "outside the archive" in refused.message


def test_crc_errors_truncation_and_encryption_are_damaged(tmp_path: Path) -> None:
    path = _zip(tmp_path / "s.zip", {"a.csv": b"hello world " * 100}, zipfile.ZIP_STORED)
    good = path.read_bytes()
    path.write_bytes(good.replace(b"hello", b"jello", 1))
    assert "fails its checksum" in _refused(path).message
    path.write_bytes(good[: len(good) // 2])
    refused = _refused(path)
    assert refused.damaged
    assert refused.message.startswith("This file is damaged (not a readable zip archive")
    data = bytearray(good)
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.index(sig)
        data[i + offset] |= 1
    path.write_bytes(bytes(data))
    assert "is encrypted" in _refused(path).message


def test_other_compression_methods_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "b.zip", {"a.csv": b"x" * 100}, zipfile.ZIP_BZIP2)
    assert "compression method (12)" in _refused(path).message


def test_copy_member_counts_too(tmp_path: Path) -> None:
    path = _zip(tmp_path / "z.zip", {"a.csv": b"\0" * (20 * MB)})
    out = io.BytesIO()
    with open_zip(path) as zf, pytest.raises(ZipRefused):
        copy_member(zf, zf.infolist()[0], out, ZipLimits())
    assert out.tell() <= 9 * MB  # stopped soon after the grace, never 20 MB
    small = _zip(tmp_path / "s.zip", {"a.csv": b"abc"})
    out = io.BytesIO()
    with open_zip(small) as zf:
        assert copy_member(zf, zf.infolist()[0], out, ZipLimits()) == 3
    assert out.getvalue() == b"abc"
