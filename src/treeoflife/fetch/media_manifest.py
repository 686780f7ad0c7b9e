"""The EOL media manifest: chunked CSVs in a tarball, combined into one CSV plus a log.

EOL publishes ``media_manifest.tgz`` holding ``media_manifest_1.csv`` …
``media_manifest_N.csv``, each with its own header. The reference script sorted them by
number and wrote one JSON log (start time, MD5 of the archive and of the combined CSV,
columns, row count); it also repeated every chunk's header inside the CSV. Here chunks
are combined in numeric order (2 before 10) with exactly one header, every chunk's
header is checked against the first, rows are counted as CSV records (quoted newlines
included), and the CSV and the log are written temp + rename.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from treeoflife.fetch.http import FetchError
from treeoflife.fetch.unpack import DEFAULT_LIMITS, Limits, UnsafeArchive, member_path

CHUNK_NAME = re.compile(r"(\d+)\D*\.csv$", re.IGNORECASE)


def chunk_number(name: str) -> int | None:
    """The chunk number of a member (``media_manifest_12.csv`` -> 12), None if not a chunk."""
    m = CHUNK_NAME.search(PurePosixPath(name).name)
    return int(m.group(1)) if m else None


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _chunks(
    archive: Path, tf: tarfile.TarFile, limits: Limits
) -> list[tuple[int, tarfile.TarInfo]]:
    found = []
    total = 0
    for info in tf.getmembers():
        if not info.isfile():
            continue
        member_path(info.name, archive)  # refuses unsafe names even though nothing is extracted
        n = chunk_number(info.name)
        if n is None:
            continue
        total += info.size
        found.append((n, info))
    if total > limits.max_total or total / max(1, archive.stat().st_size) > limits.max_ratio:
        raise UnsafeArchive(
            f"{archive.name} is refused: its CSV chunks would unpack to {total} "
            "bytes (a decompression bomb?)"
        )
    numbers = [n for n, _ in found]
    if len(set(numbers)) != len(numbers):
        raise FetchError(f"{archive.name} has two chunks with the same number; cannot order them")
    if not found:
        raise FetchError(f"{archive.name} holds no numbered CSV chunks (media_manifest_<N>.csv)")
    return sorted(found, key=lambda item: item[0])


def _lines(raw: io.BufferedIOBase, sink: list[str | None], out: io.TextIOBase) -> Iterator[str]:
    """Yield a chunk's lines to the csv reader, writing each to ``out`` unless muted."""
    for line in io.TextIOWrapper(raw, encoding="utf-8", newline=""):
        if not line.endswith(("\n", "\r")):
            line += "\n"
        if sink[0] is None:
            out.write(line)
        yield line


def combine(archive: Path, out_csv: Path, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Write the chunks of ``archive`` as one CSV at ``out_csv``; return columns and row count."""
    tmp = out_csv.with_name(out_csv.name + ".tmp")
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    header: list[str] | None = None
    rows = 0
    try:
        with tarfile.open(archive, "r:*") as tf, tmp.open("w", encoding="utf-8", newline="") as out:
            for n, info in _chunks(archive, tf, limits):
                raw = tf.extractfile(info)
                if raw is None:
                    continue
                mute: list[str | None] = ["mute" if header is not None else None]
                reader = csv.reader(_lines(raw, mute, out))
                first = next(reader, None)
                if first is None:
                    continue  # an empty chunk
                if header is None:
                    header = first
                elif first != header:
                    raise FetchError(
                        f"{archive.name}: chunk {n} ({info.name}) has header {first}, "
                        f"not {header} like the first chunk"
                    )
                mute[0] = None
                rows += sum(1 for _ in reader)
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, csv.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{archive.name} could not be combined into a CSV: {exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if header is None:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{archive.name} holds only empty CSV chunks")
    os.replace(tmp, out_csv)
    return {"columns": header, "rows": rows}


def write_log(
    log_path: Path,
    *,
    start_time: str,
    archive_md5: str,
    out_csv: Path,
    url: str,
    columns: list[str],
    rows: int,
) -> dict[str, Any]:
    """The reference's JSON log (same keys), plus where the archive came from."""
    log = {
        "download_start_time": start_time,
        "temp_tgz_md5": archive_md5,
        "manifest_csv_md5": md5_file(out_csv),
        "manifest_csv_filepath": str(out_csv.resolve()),
        "column_names": columns,
        "total_entries_in_media_manifest": rows,
        "source_url": url,
    }
    tmp = log_path.with_name(log_path.name + ".tmp")
    tmp.write_text(json.dumps(log, indent=4), encoding="utf-8")
    os.replace(tmp, log_path)
    return log


def log_path_for(out_csv: Path) -> Path:
    """``media_manifest.csv`` -> ``media_manifest_log.json`` (the reference's naming)."""
    return out_csv.with_name(out_csv.stem + "_log.json")
