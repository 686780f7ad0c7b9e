"""Deterministic tar writing, and fast reading back of what it wrote.

A shard's bytes depend only on its members' names and bytes.

Every member gets the same metadata (integer mtime 0, uid/gid 0, empty uname/gname, mode
0o644, regular file). An integer mtime matters: a float one makes ``tarfile`` emit a PAX
header per member (half the speed, ~12 KB more per sample, PERF-NOTES.md).
Headers are built directly, which is several times faster than ``tarfile.addfile`` and
byte-identical to what it writes for these members (ustar with POSIX magic; names longer
than 100 bytes fall back to ``tarfile``'s PAX encoding).

:func:`read_members` reads such a tar back for ``tol verify``: ``tarfile`` parses each
header in pure Python (~20 µs a member, 13 members a sample), which costs more than
everything else verify does; this reads the few fields these archives use (~2 µs) and
refuses anything else. Consumers (webdataset, HF datasets) read the shards with their own
readers, which the tests run.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 512
MTIME = 0
MODE = 0o644


def member_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = MTIME
    info.mode = MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def slow_header(name: str, size: int) -> bytes:
    """The header ``tarfile`` writes for a member (the reference for :func:`header`)."""
    return member_info(name, size).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


_TEMPLATE = bytearray(BLOCK)
_TEMPLATE[100:108] = b"%07o\0" % MODE
_TEMPLATE[108:116] = b"0000000\0"  # uid
_TEMPLATE[116:124] = b"0000000\0"  # gid
_TEMPLATE[136:148] = b"%011o\0" % MTIME
_TEMPLATE[148:156] = b" " * 8  # checksum is computed with spaces here
_TEMPLATE[156:157] = tarfile.REGTYPE
_TEMPLATE[257:265] = tarfile.POSIX_MAGIC


def header(name: str, size: int) -> bytes:
    """The tar header of one member, as ``tarfile`` writes it, ~10× faster."""
    raw = name.encode("utf-8")
    if len(raw) > 100 or not name.isascii() or size >= 8**11:
        return slow_header(name, size)
    h = bytearray(_TEMPLATE)
    h[0 : len(raw)] = raw
    h[124:136] = b"%011o\0" % size
    h[148:155] = b"%06o\0" % sum(h)
    return bytes(h)


class TarWriter:
    """Append members to a binary stream as a tar archive, hashing everything written."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def _write(self, data: bytes) -> None:
        self._fh.write(data)
        self.sha256.update(data)
        self.bytes += len(data)

    def add(self, name: str, data: bytes) -> None:
        self._write(header(name, len(data)))
        self._write(data)
        pad = -len(data) % BLOCK
        if pad:
            self._write(b"\0" * pad)

    def close(self) -> None:
        """Two zero blocks end the archive; pad to tarfile's 10 KiB record like it does."""
        self._write(b"\0" * (2 * BLOCK))
        rest = -self.bytes % tarfile.RECORDSIZE
        if rest:
            self._write(b"\0" * rest)


class TarFormatError(ValueError):
    """The bytes are not a tar archive as :class:`TarWriter` writes them."""


def _field_int(raw: bytes) -> int:
    return int(raw.rstrip(b"\0 ").strip() or b"0", 8)


def _pax_path(data: bytes) -> str | None:
    """The ``path`` record of a PAX extended header ("<len> path=<name>\n" records)."""
    for line in data.split(b"\n"):
        _, _, record = line.partition(b" ")
        key, _, value = record.partition(b"=")
        if key == b"path":
            return value.decode("utf-8", "surrogateescape")
    return None


def read_members(fh: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every member of a tar that :class:`TarWriter` wrote, in order.

    Raises TarFormatError at a header with a bad checksum, a member type other than a
    regular file (or the PAX header of a long name), or data cut short.
    """
    long_name: str | None = None
    while True:
        h = fh.read(BLOCK)
        if len(h) < BLOCK:
            raise TarFormatError("the archive ends without its end-of-archive blocks")
        if h == _ZERO_BLOCK:
            return
        if _field_int(h[148:156]) != sum(h) - sum(h[148:156]) + 8 * 32:
            raise TarFormatError(f"a header with a bad checksum at offset {fh.tell() - BLOCK}")
        size = _field_int(h[124:136])
        data = fh.read(size)
        if len(data) < size:
            raise TarFormatError("a member's data ends early")
        pad = -size % BLOCK
        if pad and len(fh.read(pad)) < pad:
            raise TarFormatError("a member's padding ends early")
        kind = h[156:157]
        if kind == tarfile.XHDTYPE:
            long_name = _pax_path(data)
            continue
        if kind not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise TarFormatError(f"a member of type {kind!r}, not a regular file")
        name = long_name or h[0:100].rstrip(b"\0").decode("utf-8", "surrogateescape")
        long_name = None
        yield name, data


_ZERO_BLOCK = bytes(BLOCK)
