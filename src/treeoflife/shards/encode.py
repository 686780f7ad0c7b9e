"""Phase A of writing: encode every planned image of one source unit, once.

Source images sit in ``.tar.gz`` archives that can only be read front to back, while a
shuffled shard needs images from everywhere. So each unit (one archive, or one folder's
loose files in batches) is streamed once by one worker, every planned image in it is
decoded → resized → encoded once (an image in train and train_small is encoded once),
and the small JPEGs are appended to an uncompressed work file (temp + fsync + rename).
Phase B then assembles any shard by ``pread`` from work files. The worker never touches
the database: the driver records the returned offsets, digests and rejects.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.images import ImageSpec, process_image
from treeoflife.shards import atomic
from treeoflife.sources.base import ArchiveError, read_file, read_members

LOOSE_BATCH = 1000  # loose files per unit
ARCHIVE_BATCH = 50_000  # an archive with more planned images is split (each part streams it)


@dataclass(frozen=True)
class UnitTask:
    unit: str
    root: str  # sources root
    container: str | None
    members: tuple[tuple[str, str], ...]  # (treeoflife_id, member), in member order
    spec: ImageSpec
    work: str  # absolute path of the work file


@dataclass(frozen=True)
class ImageOutcome:
    treeoflife_id: str
    offset: int | None
    size: int | None
    sha256: str | None
    source_size: tuple[int, int] | None
    reject: tuple[str, str] | None
    notes: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class UnitResult:
    unit: str
    work: str
    bytes: int
    outcomes: tuple[ImageOutcome, ...]


def unit_id(spec: ImageSpec, container: str | None, members: tuple[tuple[str, str], ...]) -> str:
    h = hashlib.sha256(repr((spec, container)).encode())
    for tid, member in members:
        h.update(f"\n{tid}\t{member}".encode())
    return h.hexdigest()


def _read(task: UnitTask):
    """(member, bytes | ArchiveError | None) for every planned member; None: not found."""
    root = Path(task.root)
    if task.container is None:
        for _, member in task.members:
            try:
                yield member, read_file(root, member)
            except OSError:
                yield member, None
        return
    wanted = {m for _, m in task.members}
    found: set[str] = set()
    try:
        for name, data in read_members(root, task.container, wanted):
            found.add(name)
            yield name, data
    except ArchiveError as exc:
        for m in sorted(wanted - found):
            yield m, exc
        return
    for m in sorted(wanted - found):
        yield m, None


def encode_unit(task: UnitTask) -> UnitResult:
    """Encode one unit into its work file; pure apart from writing that file."""
    ids = {m: tid for tid, m in task.members}
    final = Path(task.work)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_path(final)
    outcomes: list[ImageOutcome] = []
    with open(tmp, "wb") as fh:
        for member, data in _read(task):
            tid = ids[member]
            if data is None:
                outcomes.append(
                    ImageOutcome(
                        tid, None, None, None, None, ("image_missing", "not found in the source")
                    )
                )
                continue
            if isinstance(data, ArchiveError):
                outcomes.append(
                    ImageOutcome(tid, None, None, None, None, (data.reason, data.detail))
                )
                continue
            enc = process_image(data, member, task.spec)
            if enc.jpeg is None:
                outcomes.append(
                    ImageOutcome(tid, None, None, None, enc.source_size, enc.reject, enc.notes)
                )
                continue
            offset = fh.tell()
            fh.write(enc.jpeg)
            digest = hashlib.sha256(enc.jpeg).hexdigest()
            outcomes.append(
                ImageOutcome(tid, offset, len(enc.jpeg), digest, enc.source_size, None, enc.notes)
            )
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
    atomic.publish(tmp, final)
    return UnitResult(task.unit, task.work, size, tuple(outcomes))
