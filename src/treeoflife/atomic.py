"""Crash-safe files: write under a unique temporary name, fsync, rename into place.

Every output of a build (shards, work files, catalogs, reports, the dataset card) is
written through here.

A reader (or a resumed build) sees either no file or a complete one. Temporary names carry
the writer's pid, so a worker orphaned by a killed build cannot collide with the resumed
build's writer; both would produce identical bytes anyway. ``remove_strays`` deletes
temporaries left by a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

from treeoflife.shards.layout import TMP_SUFFIX


def temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}{TMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Rename a complete, fsynced temporary into place, durably."""
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_bytes(final: Path, data: bytes) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    publish(tmp, final)


def write_text(final: Path, text: str) -> None:
    write_bytes(final, text.encode("utf-8"))


def remove_strays(folder: Path) -> int:
    """Delete temporaries a crashed run left in ``folder`` (not recursive); how many."""
    if not folder.is_dir():
        return 0
    n = 0
    for p in folder.glob(f".*{TMP_SUFFIX}"):
        p.unlink(missing_ok=True)
        n += 1
    return n
