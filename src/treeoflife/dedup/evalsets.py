"""The images of ``[dedup] eval_sets``: benchmark and test sets no training image may match.

An eval set is a folder of images (searched recursively; ``.tar``/``.tar.gz`` inside it,
such as webdataset shards, are read too), or one image archive. Each file is one task:
a loose image, or an archive whose image members are hashed in one streamed read. The
hash is the image pass's own (:func:`treeoflife.images.process_image` with the build's
``[images]`` settings), so an eval image and its copy among the sources hash alike.
Results are cached in the build database by file signature (size, mtime, path): a file
is hashed again only when it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from treeoflife.images import ImageSpec, process_image
from treeoflife.sources.base import ArchiveError, iter_tar

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
LOOSE_BATCH = 256  # loose images per task


@dataclass(frozen=True)
class EvalFile:
    eval_set: str  # the entry of [dedup] eval_sets it belongs to, as configured
    path: str  # absolute
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class EvalTask:
    seq: int
    files: tuple[EvalFile, ...]  # loose images, or one archive
    spec: ImageSpec


@dataclass(frozen=True)
class EvalResult:
    seq: int
    files: tuple[EvalFile, ...]
    # (file, member or None for a loose image, perceptual hash or None, sha256)
    images: tuple[tuple[str, str | None, int | None, str], ...]
    problems: tuple[str, ...]  # unreadable archives, one line each


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def list_files(eval_set: str, root: Path) -> Iterator[EvalFile]:
    """The image files and archives of one eval set, in a fixed (sorted) order."""
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in paths:
        if is_archive(p.name) or is_image(p.name):
            st = p.stat()
            yield EvalFile(eval_set, str(p), st.st_size, st.st_mtime_ns)


def tasks(files: list[EvalFile], spec: ImageSpec) -> Iterator[EvalTask]:
    """One task per archive, one per batch of loose images."""
    seq, batch = 0, []
    for f in files:
        if is_archive(f.path):
            yield EvalTask(seq, (f,), spec)
            seq += 1
            continue
        batch.append(f)
        if len(batch) >= LOOSE_BATCH:
            yield EvalTask(seq, tuple(batch), spec)
            seq, batch = seq + 1, []
    if batch:
        yield EvalTask(seq, tuple(batch), spec)


def _hash(data: bytes, name: str, spec: ImageSpec) -> int | None:
    return process_image(data, name, spec).phash if data else None


def hash_task(task: EvalTask) -> EvalResult:
    """Hash every image of a task's files (a worker's job: reads files, touches no database)."""
    images: list[tuple[str, str | None, int | None, str]] = []
    problems: list[str] = []
    for f in task.files:
        if not is_archive(f.path):
            try:
                data = Path(f.path).read_bytes()
            except OSError as exc:
                problems.append(f"{f.path}: {exc.strerror or exc}")
                continue
            sha = hashlib.sha256(data).hexdigest()
            images.append((f.path, None, _hash(data, f.path, task.spec), sha))
            continue
        try:
            for info, data in iter_tar(Path(f.path), read=True):
                if is_image(info.name) and data is not None:
                    sha = hashlib.sha256(data).hexdigest()
                    images.append((f.path, info.name, _hash(data, info.name, task.spec), sha))
        except ArchiveError as exc:
            problems.append(f"{f.path}: {exc.reason}: {exc.detail}")
    return EvalResult(task.seq, task.files, tuple(images), tuple(problems))


def shown_path(f: EvalFile, root: Path, member: str | None = None) -> str:
    """How reports name an eval image: its eval set as configured, then the path inside it
    (``#member`` for an archive member), so the name does not depend on the machine."""
    inside = "" if root.is_file() else "/" + Path(f.path).relative_to(root).as_posix()
    return f"{f.eval_set.rstrip('/')}{inside}" + (f"#{member}" if member is not None else "")
