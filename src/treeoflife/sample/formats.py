"""Byte-deterministic writers: tar.gz archives, CSV/TSV tables, JSON."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

TAR_MTIME = 1_600_000_000  # every tar member's mtime (2020-09-13), fixed forever


def tar_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    """An uncompressed ustar archive of ``(name, data)`` in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = TAR_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with header mtime 0 and no file name, so the bytes depend on ``data`` only."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def member_offsets(members: Sequence[tuple[str, bytes]]) -> list[tuple[int, int]]:
    """(data start, data end) of each member inside :func:`tar_bytes` of ``members``."""
    out, pos = [], 0
    for _, data in members:
        start = pos + 512
        out.append((start, start + len(data)))
        pos = start + (len(data) + 511) // 512 * 512
    return out


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_table(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ","
) -> None:
    buf = io.StringIO()
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n", quoting=quoting)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    write_bytes(path, buf.getvalue().encode("utf-8"))


def write_json(path: Path, obj: object, indent: int | None = 1) -> None:
    write_bytes(path, (json.dumps(obj, indent=indent, ensure_ascii=False) + "\n").encode("utf-8"))


def write_jsonl(path: Path, objs: Iterable[object]) -> None:
    text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)
    write_bytes(path, text.encode("utf-8"))
