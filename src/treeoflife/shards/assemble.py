"""Phase B of writing: assemble one shard from phase-A work files, by offset.

The task carries each sample's key, the location and digest of its JPEG, and its JSON
record; texts are made here by :mod:`treeoflife.shards.records`. The tar goes to a
temporary name, is fsynced and renamed into place; the result carries its sha256, sample
count and size for the driver to record. A JPEG whose bytes no longer match phase A's
digest (a damaged work file) fails the shard and names the unit to redo.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from treeoflife import atomic
from treeoflife.shards.records import sample_members
from treeoflife.shards.tario import TarWriter


@dataclass(frozen=True)
class Sample:
    key: str
    work: str
    unit: str
    offset: int
    size: int
    sha256: str
    record: dict[str, Any]


@dataclass(frozen=True)
class ShardTask:
    split: str
    shard: int
    path: str  # absolute final path
    caption: str
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class ShardResult:
    split: str
    shard: int
    samples: int
    bytes: int
    sha256: str | None
    bad_units: tuple[str, ...] = ()


def assemble_shard(task: ShardTask) -> ShardResult:
    final = Path(task.path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fds: dict[str, int] = {}
    bad: set[str] = set()
    tmp = atomic.temp_path(final)
    try:
        with atomic.removed_on_failure(tmp), open(tmp, "wb", buffering=1 << 20) as fh:
            tar = TarWriter(fh)
            for s in task.samples:
                fd = fds.get(s.work)
                if fd is None:
                    try:
                        fd = fds[s.work] = os.open(s.work, os.O_RDONLY)
                    except OSError:
                        bad.add(s.unit)
                        continue
                jpeg = os.pread(fd, s.size, s.offset)
                if len(jpeg) != s.size or hashlib.sha256(jpeg).hexdigest() != s.sha256:
                    bad.add(s.unit)
                    continue
                if bad:
                    continue
                for name, data in sample_members(s.key, jpeg, s.record, task.caption):
                    tar.add(name, data)
            tar.close()
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fd in fds.values():
            os.close(fd)
    if bad:
        tmp.unlink(missing_ok=True)
        return ShardResult(task.split, task.shard, 0, 0, None, tuple(sorted(bad)))
    atomic.publish(tmp, final)
    return ShardResult(task.split, task.shard, len(task.samples), tar.bytes, tar.sha256.hexdigest())
