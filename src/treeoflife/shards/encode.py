"""The image pass: every source image read once, decoded once, encoded once.

A unit is what one worker reads in one go: a stripe of one archive (every member whose
block of ``STRIPE_BLOCK`` members falls to it; an archive is one stripe unless there are
too few archives to keep the workers busy), or a batch of at most ``LOOSE_BATCH`` loose
files of one folder. The worker streams the unit's bytes once and, per image, records what
every later stage needs from the pixels: the sha256 and size of the source bytes, the
source's width and height, its perceptual hash (from the pixels decoded for the JPEG), and
the small JPEG appended to the unit's work file (temp +
fsync + rename), or a reject reason. Archive members are returned by name: which of them
are images of which taxon is the source adapter's call, made by the driver.

The worker never touches the database. Work files make shards cheap to assemble in any
order (``.tar.gz`` sources can only be read front to back); a unit whose work file is gone
(deleted after verify, or damaged) is simply run again: its output bytes are the same.
Reading (gzip inflate) runs in a thread of its own (:func:`treeoflife.ahead.ahead`),
overlapping the decode: both release the GIL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife import atomic
from treeoflife.ahead import ahead
from treeoflife.images import CODEC_VERSION, ImageSpec, process_image
from treeoflife.sources.base import ArchiveError, iter_members, read_file

LOOSE_BATCH = 256  # loose files per unit
STRIPE_BLOCK = 64  # consecutive archive members that go to the same stripe
PREFETCH = 4  # source images read ahead of the decoder (1-2 suffice to overlap)


@dataclass(frozen=True)
class UnitTask:
    seq: int  # results are applied in this order, whatever order they arrive in
    unit: str
    root: str  # sources root
    container: str | None
    members: tuple[tuple[str, str], ...] | None  # loose: (treeoflife_id, path); archive: None
    stripe: int  # archive: this unit reads the members of blocks stripe, stripe + stripes, …
    stripes: int
    spec: ImageSpec
    work: str  # absolute path of the work file


@dataclass(frozen=True)
class ImageOutcome:
    member: str
    treeoflife_id: str | None  # loose files: known; archive members: the driver identifies
    source_bytes: int
    source_sha256: str | None
    offset: int | None
    size: int | None
    sha256: str | None  # of the small JPEG
    source_size: tuple[int, int] | None
    reject: tuple[str, str] | None
    notes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # an archive member that is no image of its own (a link, a repeated name): recorded by
    # its name and never identified, so it cannot take the place of the image it repeats
    member_reject: tuple[str, str] | None = None
    pixel_std: float | None = None  # of the small decode (images.stats), for [filters]
    phash: int | None = None  # perceptual hash of the decoded pixels (treeoflife.dedup)


@dataclass(frozen=True)
class UnitResult:
    seq: int
    unit: str
    work: str
    bytes: int
    outcomes: tuple[ImageOutcome, ...]
    broken: tuple[str, str] | None = None  # (reason, detail) where an archive stops being readable


def unit_id(spec: ImageSpec, container: str | None, content: object) -> str:
    """Names a unit by everything its work file depends on: the image settings, where the
    bytes are, and what they are (a signature of the archive or of each file), and the
    version of the codec that turned them into small JPEGs."""
    return hashlib.sha256(repr((spec, container, content, CODEC_VERSION)).encode()).hexdigest()


def in_stripe(index: int, stripe: int, stripes: int) -> bool:
    return (index // STRIPE_BLOCK) % stripes == stripe


Item = tuple[str, str | None, bytes | None, tuple[str, str] | None]  # member, id, bytes, problem


def _loose(task: UnitTask) -> Iterator[Item]:
    root = Path(task.root)
    for tid, member in task.members or ():
        try:
            yield member, tid, read_file(root, member), None
        except OSError:
            yield member, tid, None, None


def _archive(task: UnitTask, broken: list) -> Iterator[Item]:
    try:
        members = iter_members(Path(task.root) / task.container, read=True)
        for index, (info, data, problem) in enumerate(members):
            if in_stripe(index, task.stripe, task.stripes):
                yield info.name, None, data or b"", problem
    except ArchiveError as exc:
        broken.append((exc.reason, exc.detail))


def _outcome(member: str, tid: str | None, data: bytes | None, spec: ImageSpec, fh) -> ImageOutcome:
    if data is None:
        return ImageOutcome(
            member,
            tid,
            0,
            None,
            None,
            None,
            None,
            None,
            ("image_missing", "not found in the source"),
        )
    source = (len(data), hashlib.sha256(data).hexdigest())
    if not data:
        return ImageOutcome(member, tid, *source, None, None, None, None, ("empty_file", ""))
    enc = process_image(data, member, spec)
    if enc.jpeg is None:
        return ImageOutcome(
            member, tid, *source, None, None, None, enc.source_size, enc.reject, enc.notes
        )
    offset = fh.tell()
    fh.write(enc.jpeg)
    digest = hashlib.sha256(enc.jpeg).hexdigest()
    return ImageOutcome(
        member,
        tid,
        *source,
        offset,
        len(enc.jpeg),
        digest,
        enc.source_size,
        None,
        enc.notes,
        pixel_std=enc.pixel_std,
        phash=enc.phash,
    )


def encode_unit(task: UnitTask) -> UnitResult:
    """Read, decode and encode every image of one unit into its work file; pure apart from
    writing that file."""
    final = Path(task.work)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_path(final)
    broken: list[tuple[str, str]] = []
    items = _archive(task, broken) if task.container is not None else _loose(task)
    reader = ahead(items, depth=PREFETCH)
    outcomes = []
    try:
        with atomic.removed_on_failure(tmp), open(tmp, "wb") as fh:
            for member, tid, data, problem in reader:
                if problem is not None:
                    outcomes.append(
                        ImageOutcome(member, tid, 0, *(None,) * 5, None, member_reject=problem)
                    )
                    continue
                outcomes.append(_outcome(member, tid, data, task.spec, fh))
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
    finally:
        with contextlib.suppress(Exception):
            reader.close()  # stops the read-ahead thread now, also on an error
    atomic.publish(tmp, final)
    return UnitResult(
        task.seq, task.unit, task.work, size, tuple(outcomes), broken[0] if broken else None
    )
