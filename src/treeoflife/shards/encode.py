"""Phase A of writing: encode every planned image of one source unit, once.

Source images sit in ``.tar.gz`` archives that can only be read front to back, while a
shuffled shard needs images from everywhere. So each unit (one archive, or one folder's
loose files in batches) is streamed once by one worker, every planned image in it is
decoded → resized → encoded once (an image in train and train_small is encoded once),
and the small JPEGs are appended to an uncompressed work file (temp + fsync + rename).
Phase B then assembles any shard by ``pread`` from work files. The worker never touches
the database: the driver records the returned offsets, digests and rejects.

Units are fixed runs of at most ``ARCHIVE_BATCH`` / ``LOOSE_BATCH`` planned images (so unit
ids and work files never depend on the number of workers). A task is a *chain* of
consecutive units of one archive (:func:`encode_chain`): the archive is streamed once for
the whole chain, up to the chain's last wanted member. How many chains an archive is cut
into is the driver's choice (more when there are fewer archives than workers); it changes
only which process encodes a unit, never a byte of output. Reading (gzip inflate) runs in
a prefetch thread, overlapping the decode: both release the GIL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife import atomic
from treeoflife.images import ImageSpec, process_image
from treeoflife.sources.base import ArchiveError, read_file, read_members

LOOSE_BATCH = 256  # loose files per unit
ARCHIVE_BATCH = 256  # planned images of one archive per unit (a chain of units streams it once)
PREFETCH = 4  # source images read ahead of the decoder (1-2 suffice to overlap)


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
    return _read_members(task.root, task.container, [m for _, m in task.members])


def _read_members(root_: str, container: str | None, members: list[str]):
    root = Path(root_)
    if container is None:
        for member in members:
            try:
                yield member, read_file(root, member)
            except OSError:
                yield member, None
        return
    wanted = set(members)
    found: set[str] = set()
    try:
        for name, data in read_members(root, container, wanted):
            found.add(name)
            yield name, data
    except ArchiveError as exc:
        for m in sorted(wanted - found):
            yield m, exc
        return
    for m in sorted(wanted - found):
        yield m, None


_END = object()


def _prefetch(items: Iterator, depth: int = PREFETCH) -> Iterator:
    """Run ``items`` in a thread, ``depth`` ahead of the consumer (inflate releases the GIL,
    so reading overlaps decoding). Exceptions are re-raised in the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for x in items:
                if not put((x, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer
            put((_END, exc))

    t = threading.Thread(target=produce, name="tol-prefetch", daemon=True)
    t.start()
    try:
        while True:
            x, exc = q.get()
            if exc is not None:
                raise exc
            if x is _END:
                return
            yield x
    finally:
        stop.set()
        t.join()


class _WorkFile:
    """One unit's work file being written (temp name until published)."""

    def __init__(self, task: UnitTask):
        self.task = task
        self.left = len(task.members)
        self.final = Path(task.work)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = atomic.temp_path(self.final)
        self.fh = open(self.tmp, "wb")  # noqa: SIM115 - closed by finish()
        self.outcomes: list[ImageOutcome] = []

    def add(self, tid: str, member: str, data) -> None:
        self.left -= 1
        if data is None:
            o = ImageOutcome(
                tid, None, None, None, None, ("image_missing", "not found in the source")
            )
        elif isinstance(data, ArchiveError):
            o = ImageOutcome(tid, None, None, None, None, (data.reason, data.detail))
        else:
            enc = process_image(data, member, self.task.spec)
            if enc.jpeg is None:
                o = ImageOutcome(tid, None, None, None, enc.source_size, enc.reject, enc.notes)
            else:
                offset = self.fh.tell()
                self.fh.write(enc.jpeg)
                digest = hashlib.sha256(enc.jpeg).hexdigest()
                o = ImageOutcome(
                    tid, offset, len(enc.jpeg), digest, enc.source_size, None, enc.notes
                )
        self.outcomes.append(o)

    def finish(self) -> UnitResult:
        fh = self.fh
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
        fh.close()
        atomic.publish(self.tmp, self.final)
        return UnitResult(self.task.unit, self.task.work, size, tuple(self.outcomes))

    def abandon(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def encode_chain(tasks: tuple[UnitTask, ...]) -> list[UnitResult]:
    """Encode consecutive units of one source container, streaming it once.

    Every unit's work file is written exactly as :func:`encode_unit` would write it alone
    (images in source order) and published as soon as its last image is in.
    """
    if not tasks:
        return []
    container = tasks[0].container
    if any(t.container != container or t.root != tasks[0].root for t in tasks):
        raise ValueError("a chain is units of one container")
    where: dict[str, tuple[str, int]] = {}
    members: list[str] = []
    for i, t in enumerate(tasks):
        for tid, m in t.members:
            where[m] = (tid, i)
            members.append(m)
    files: dict[int, _WorkFile] = {}
    results: dict[int, UnitResult] = {}
    reader = _prefetch(_read_members(tasks[0].root, container, members))
    try:
        for member, data in reader:
            tid, i = where[member]
            wf = files.get(i)
            if wf is None:
                wf = files[i] = _WorkFile(tasks[i])
            wf.add(tid, member, data)
            if wf.left == 0:
                results[i] = wf.finish()
                del files[i]
        for i, t in enumerate(tasks):  # not complete (e.g. a member listed twice): publish as is
            if i not in results:
                results[i] = (files.pop(i, None) or _WorkFile(t)).finish()
    finally:
        with contextlib.suppress(Exception):
            reader.close()  # stops the read-ahead thread now, also on an error
        for wf in files.values():
            wf.abandon()
    return [results[i] for i in range(len(tasks))]


def encode_unit(task: UnitTask) -> UnitResult:
    """Encode one unit into its work file; pure apart from writing that file."""
    return encode_chain((task,))[0]
