"""Safe extraction of downloaded archives (zip, tar, gzip) into the source layout.

Archives come from the network, so every member name is checked before a byte is
written: no absolute paths, no ``..``, no links pointing out of the target, no devices;
the total uncompressed size and the compression ratio are bounded against bombs (and
counted while writing, since headers can lie). Members are extracted into a temporary
directory next to the target and only then moved into place, one ``os.replace`` each,
so a refused or broken archive leaves nothing half-extracted in the layout.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from treeoflife.config import FetchConfig
from treeoflife.fetch.http import FetchError

COPY_BLOCK = 1 << 20


class UnsafeArchive(FetchError):
    """An archive refused before extraction: traversal, an escaping link, or a bomb."""


@dataclass(frozen=True)
class Limits:
    """Bounds against decompression bombs; the reference files stay far below them."""

    max_total: int = FetchConfig.max_unpacked_bytes  # bytes uncompressed, whole archive
    max_ratio: float = FetchConfig.max_ratio  # uncompressed / compressed, whole archive
    max_members: int = 1_000_000


DEFAULT_LIMITS = Limits()


def member_path(name: str, archive: Path) -> PurePosixPath | None:
    """The safe relative path of a member name, None for the archive root, else refuse."""
    clean = name.replace("\\", "/")
    p = PurePosixPath(clean)
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnsafeArchive(f"{archive.name} is refused: member {name!r} has an absolute path")
    if ".." in p.parts:
        raise UnsafeArchive(
            f"{archive.name} is refused: member {name!r} points outside the target (..)"
        )
    parts = [q for q in p.parts if q not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def _link_escapes(member: PurePosixPath, link: str) -> bool:
    """Whether a link at ``member`` to ``link`` resolves outside the extraction root."""
    if link.startswith("/") or "\\" in link:
        return True
    depth = len(member.parts) - 1  # a symlink resolves relative to its own folder
    for part in PurePosixPath(link).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _check_totals(archive: Path, total: int, count: int, limits: Limits) -> None:
    if count > limits.max_members:
        raise UnsafeArchive(
            f"{archive.name} is refused: {count} members is over the limit of {limits.max_members}"
        )
    if total > limits.max_total:
        raise UnsafeArchive(
            f"{archive.name} is refused: it would unpack to {total} bytes, over the "
            f"limit of {limits.max_total} (a decompression bomb?)"
        )
    compressed = max(1, archive.stat().st_size)
    if total / compressed > limits.max_ratio:
        raise UnsafeArchive(
            f"{archive.name} is refused: it would unpack to {total / compressed:.0f}x "
            f"its size, over the limit of {limits.max_ratio:g}x (a decompression bomb?)"
        )


def _copy_bounded(
    src: IO[bytes], dst: Path, declared: int | None, budget: list[int], archive: Path
) -> None:
    """Copy a member, refusing it when it outgrows its declared size or the whole budget."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with dst.open("wb") as out:
        for block in iter(lambda: src.read(COPY_BLOCK), b""):
            written += len(block)
            budget[0] -= len(block)
            if (declared is not None and written > declared) or budget[0] < 0:
                raise UnsafeArchive(
                    f"{archive.name} is refused: {dst.name} unpacks to more than "
                    "its header says (a decompression bomb?)"
                )
            out.write(block)


def _zip_members(
    archive: Path, zf: zipfile.ZipFile, limits: Limits
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    chosen = []
    total = 0
    for info in zf.infolist():
        rel = member_path(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"{archive.name} is refused: member {info.filename!r} is a symlink")
        if rel is None or info.is_dir():
            continue
        total += info.file_size
        chosen.append((info, rel))
    _check_totals(archive, total, len(chosen), limits)
    return chosen


def _tar_members(
    archive: Path, tf: tarfile.TarFile, limits: Limits
) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    chosen = []
    total = 0
    for info in tf.getmembers():
        rel = member_path(info.name, archive)
        if info.issym() or info.islnk():
            if (
                rel is None
                or _link_escapes(rel, info.linkname)
                or (info.islnk() and member_path(info.linkname, archive) is None)
            ):
                raise UnsafeArchive(
                    f"{archive.name} is refused: link {info.name!r} -> "
                    f"{info.linkname!r} points outside the target"
                )
            continue  # links inside the archive are not needed by any reference file
        if info.ischr() or info.isblk() or info.isfifo():
            raise UnsafeArchive(
                f"{archive.name} is refused: member {info.name!r} is a device or fifo"
            )
        if rel is None or not info.isfile():
            continue
        total += info.size
        chosen.append((info, rel))
    _check_totals(archive, total, len(chosen), limits)
    return chosen


def _strip_common_top(rels: list[PurePosixPath]) -> int:
    """1 when every member lies under one top folder (``dh21/taxon.tab``), else 0."""
    tops = {r.parts[0] for r in rels}
    return 1 if len(tops) == 1 and all(len(r.parts) > 1 for r in rels) else 0


def _scratch(target: Path) -> Path:
    tmp = target.parent / f".{target.name}.unpack-tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _move_into_place(tmp: Path, target: Path) -> list[Path]:
    moved = []
    for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
        dst = target / src.relative_to(tmp)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        moved.append(dst)
    shutil.rmtree(tmp, ignore_errors=True)
    return moved


def _extract_all(archive: Path, tmp: Path, limits: Limits) -> None:
    budget = [limits.max_total]
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = _zip_members(archive, zf, limits)
            strip = _strip_common_top([r for _, r in members])
            for info, rel in members:
                with zf.open(info) as src:
                    _copy_bounded(
                        src,
                        tmp / PurePosixPath(*rel.parts[strip:]),
                        info.file_size,
                        budget,
                        archive,
                    )
        return
    with tarfile.open(archive, "r:*") as tf:
        members = _tar_members(archive, tf, limits)
        strip = _strip_common_top([r for _, r in members])
        for info, rel in members:
            src = tf.extractfile(info)
            if src is None:
                continue
            with src:
                _copy_bounded(
                    src, tmp / PurePosixPath(*rel.parts[strip:]), info.size, budget, archive
                )


def extract(
    archive: Path, target: Path, *, limits: Limits = DEFAULT_LIMITS, required: tuple[str, ...] = ()
) -> list[Path]:
    """Unpack a zip or tar archive into the folder ``target``; return the files written.

    A single top-level folder in the archive is dropped (``dh21/taxon.tab`` lands as
    ``target/taxon.tab``). ``required`` files must be in it, or nothing is moved.
    """
    tmp = _scratch(target)
    try:
        try:
            _extract_all(archive, tmp, limits)
        except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
            raise FetchError(
                f"{archive.name} is not a readable zip or tar archive: {exc}"
            ) from None
        missing = [r for r in required if not (tmp / r).is_file()]
        if missing:
            found = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
            raise FetchError(
                f"{archive.name} has no {', '.join(missing)} (it holds "
                f"{', '.join(found[:8]) or 'no files'}{'…' if len(found) > 8 else ''})"
            )
        return _move_into_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def gunzip(archive: Path, dest: Path, *, limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """Decompress a single ``.gz`` file to ``dest`` (temp + rename), bounded against bombs."""
    tmp = dest.with_name(dest.name + ".unpack-tmp")
    budget = [limits.max_total]
    compressed = max(1, archive.stat().st_size)
    budget[0] = min(budget[0], int(compressed * limits.max_ratio))
    try:
        with gzip.open(archive, "rb") as src:
            _copy_bounded(src, tmp, None, budget, archive)
    except (OSError, EOFError, zlib.error) as exc:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{archive.name} is not a readable gzip file: {exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return [dest]
