"""Opening untrusted zip archives (an `.xlsx` is one) without being blown up by them.

`check_zip` opens the archive with `zipfile` and streams every member through in chunks,
counting the decompressed bytes it *actually produces* (the sizes in the headers are the
attacker's to choose and are never trusted). It refuses, with `ZipRefused`:

- a member or the whole archive that unpacks past its cap (`too large when unpacked`);
- a member whose ratio decompressed / compressed passes `max_ratio` once it has produced
  more than `ratio_grace_bytes` (a decompression bomb gives itself away within a few MB);
- more than `max_members` members, or member names that are absolute or climb out with
  `..` (never extracted anywhere, but no honest workbook has them);
- encrypted members, unsupported compression, CRC errors, truncated or damaged archives:
  "This file is damaged (…): save it again and upload the new copy".

`copy_member` extracts one member to an open file under the same counting. Nothing here
reads more than `CHUNK` bytes of decompressed data into memory at a time.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Final

__all__ = ["CHUNK", "ZipLimits", "ZipRefused", "check_zip", "copy_member", "open_zip"]

CHUNK: Final = 64 * 1024
_MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """The caps one archive must stay within (see docs/uploads.md for the settings)."""

    max_members: int = 1000
    max_member_bytes: int = 2048 * _MB
    max_total_bytes: int = 4096 * _MB
    max_ratio: int = 100
    ratio_grace_bytes: int = 8 * _MB


class ZipRefused(Exception):
    """An archive that is refused; `str()` is the message for the person who uploaded it.
    `damaged` tells a broken file from one that is only too large."""

    def __init__(self, message: str, *, damaged: bool) -> None:
        super().__init__(message)
        self.message = message
        self.damaged = damaged


def _damaged(what: str) -> ZipRefused:
    return ZipRefused(
        f"This file is damaged ({what}): save it again and upload the new copy.", damaged=True
    )


def _mb(n: int) -> str:
    return f"{n // _MB:,} MB" if n % _MB == 0 else f"{n:,} bytes"


def _too_large(name: str, what: str) -> ZipRefused:
    return ZipRefused(
        f"This file is too large when unpacked: {name} {what}. Split the audit into smaller "
        "workbooks, or ask your administrator about the import limits.",
        damaged=False,
    )


@contextmanager
def open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """The archive opened for reading; damaged archives raise `ZipRefused`."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise _damaged(f"not a readable zip archive: {exc}") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise _damaged(f"not a readable zip archive: {exc}") from None
    with archive:
        yield archive


def _check_names(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ZipRefused(
            f"This file holds {len(infos):,} parts; a workbook has far fewer (at most "
            f"{limits.max_members:,} are accepted). Save it again as a plain workbook.",
            damaged=False,
        )
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise _damaged(f"a part is named {name[:80]!r}, outside the archive")
        if name in seen:
            raise _damaged(f"two parts are named {name[:80]!r}")
        seen.add(name)
        if info.flag_bits & 0x1:
            raise _damaged(f"{name[:80]} is encrypted; save it without a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _damaged(
                f"{name[:80]} uses a compression method ({info.compress_type}) that is not accepted"
            )
    return infos


def _stream(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ZipLimits,
    total_before: int,
    out: IO[bytes] | None,
) -> int:
    """Decompresses one member, counting what it produces; returns its size."""
    name = info.filename[:80]
    produced = 0
    # The packed size is the header's word, bounded by the bytes the archive really has.
    compressed = max(min(info.compress_size, _archive_size(archive)), 1)
    try:
        with archive.open(info) as member:
            while True:
                chunk = member.read(CHUNK)
                if not chunk:
                    break
                produced += len(chunk)
                if produced > limits.max_member_bytes:
                    raise _too_large(name, f"passes {_mb(limits.max_member_bytes)}")
                if total_before + produced > limits.max_total_bytes:
                    raise _too_large("the whole file", f"passes {_mb(limits.max_total_bytes)}")
                if produced > limits.ratio_grace_bytes and produced > limits.max_ratio * _consumed(
                    member, compressed
                ):
                    raise _too_large(
                        name,
                        f"unpacks to more than {limits.max_ratio} times its packed size "
                        "(a decompression bomb)",
                    )
                if out is not None:
                    out.write(chunk)
    except ZipRefused:
        raise
    except zipfile.BadZipFile as exc:
        message = str(exc)
        if "CRC" in message:
            raise _damaged(f"{name} fails its checksum") from None
        raise _damaged(f"{name}: {message}") from None
    except RuntimeError as exc:  # encrypted members, when the flag bit lied
        raise _damaged(f"{name}: {exc}") from None
    except NotImplementedError as exc:
        raise _damaged(f"{name}: {exc}") from None
    except (zlib.error, EOFError, ValueError) as exc:
        raise _damaged(f"{name} is cut short or corrupt: {exc}") from None
    except OSError as exc:
        raise _damaged(f"{name} cannot be read: {exc}") from None
    return produced


def _consumed(member: IO[bytes], compressed: int) -> int:
    """The packed bytes of a member read so far: the ratio is that of what has been
    unpacked against what it came from, so a bomb is caught within its first few MB.
    (`ZipExtFile` counts what is left; without that count, the member's packed size.)"""
    left = getattr(member, "_compress_left", None)
    if not isinstance(left, int):
        return compressed
    return max(compressed - left, 1)


def _archive_size(archive: zipfile.ZipFile) -> int:
    handle = archive.fp
    if handle is None:
        return 0
    position = handle.tell()
    size = handle.seek(0, 2)
    handle.seek(position)
    return size


def check_zip(path: Path, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Streams every member of the archive at `path` through the caps; returns the
    members (directories included) when the archive passes, raises `ZipRefused` if not."""
    with open_zip(path) as archive:
        infos = _check_names(archive, limits)
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            total += _stream(archive, info, limits, total, None)
        return infos


def copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], limits: ZipLimits
) -> int:
    """Writes one member to `out` under the caps (a member alone against the total cap);
    returns the bytes written."""
    _check_names_one(info)
    return _stream(archive, info, limits, 0, out)


def _check_names_one(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise _damaged(f"{info.filename[:80]} is encrypted; save it without a password")
