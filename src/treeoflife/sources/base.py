"""What a source adapter yields, and the one way every image's bytes are read back.

An image is located by ``(container, member)``: a tar archive (plain or compressed) and a
member name in it, or no container and a path relative to the sources root. Adapters
enumerate loose files (``ImageRecord``) and hand over archives (``Archive``, with the
function that identifies a member); reading is the same for every source, so nothing
outside ``sources`` knows a naming scheme.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sqlite3
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from treeoflife.errors import TolError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class Rights:
    """What a source says of an image's license and rights holder (scan normalises the
    license with :func:`treeoflife.licenses.normalise` and records both)."""

    license_text: str
    rights_holder: str = ""
    source_url: str = ""
    origin: str = ""  # where it was read: a file under the sources root, or a [rights] setting


@dataclass(frozen=True)
class ImageRecord:
    """One image a source enumerated, with what the source says about its label."""

    treeoflife_id: str
    identity_key: str
    source: str
    container: str | None
    member: str
    label_key: str
    label: Mapping[str, Any]  # what the source gives: name, ranks, ids
    size_bytes: int
    columns: Mapping[str, Any] = field(default_factory=dict)  # catalog id columns
    mtime_ns: int = 0  # of a loose file: with its size, what says its bytes changed
    # where the image came from, as its source says: license, rights_holder, creator,
    # source_url and the source's own ids (GBIF: gbif_id, occurrence_id, media_url). For the
    # provenance relation; sources that know nothing of it leave it empty.
    provenance: Mapping[str, Any] = field(default_factory=dict)
    rights: Rights | None = None  # when the source's own listing carries them

    def rights_named(self) -> Rights | None:
        """The rights the record carries: its own, or the license, rights holder and URL its
        provenance names (GBIF: the media row's license, else the occurrence's, which
        ``license_from`` says). None when it says nothing of them."""
        if self.rights is not None:
            return self.rights
        p = self.provenance
        if not p:
            return None
        origin = (
            f"{self.source} ({p['license_from']} license)" if p.get("license_from") else self.source
        )
        return Rights(
            str(p.get("license", "")),
            str(p.get("rights_holder", "")),
            str(p.get("source_url", "")),
            origin,
        )


@dataclass(frozen=True)
class Archive:
    """An archive of images for the image pass, which reads every member once.

    Which members are images, of what, is only known once the archive is read, so the
    adapter hands over ``identify`` (run by the driver on each member's name and size)
    instead of enumerating the members itself: reading the archive twice would inflate
    every ``.tar.gz`` twice. ``labels_from`` is what identify depends on beyond the member
    names (e.g. the signature of a catalog), so a change there re-reads the archive.
    """

    source: str
    container: str  # relative to the sources root
    identify: Callable[[str, int], ImageRecord | ScanReject]
    labels_from: Any = None


@dataclass(frozen=True)
class ScanReject:
    item: str  # container, container#member, or a path relative to the root
    reason: str  # a code from treeoflife.rejects
    detail: str = ""


def name_not_utf8(item: str) -> ScanReject | None:
    """A reject for a file or member name that is not UTF-8, else None.

    POSIX names are bytes; Python hands undecodable ones over with surrogate escapes, which
    cannot be written to the database, hashed into an id or put in a catalog. Every name is
    checked here before it is used (``file_name_not_utf8``, the name shown with ``\\x..``
    escapes), so the rest of the build goes on.
    """
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return ScanReject(shown, "file_name_not_utf8", "rename it in UTF-8 to include it")
    return None


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class Confinement:
    """Whether a path a source names stays inside that source's folder.

    A label table or metadata file names its images by path; ``/etc/passwd``,
    ``../../secret.jpg`` or a symlink to somewhere else would read any file on the machine
    into the dataset. Every path a source names, and every symlink found in its folder, is
    checked here (rejected as ``path_outside_source``). Folders are resolved once each, so a
    file costs one ``lstat``.
    """

    def __init__(self, folder: Path):
        self.folder = Path(os.path.abspath(folder))
        self.real = self.folder.resolve()
        self._dirs: dict[Path, bool] = {}

    def _inside(self, real: Path) -> bool:
        return real == self.real or real.is_relative_to(self.real)

    def contains(self, path: Path) -> bool:
        """True when ``path`` (absolute, or relative to the folder) is in the folder, its
        folders and, if it is a symlink, its target too."""
        path = Path(os.path.normpath(self.folder / path))  # drops "..", keeps symlinks
        if not path.is_relative_to(self.folder):
            return False
        parent = path.parent
        inside = self._dirs.get(parent)
        if inside is None:
            inside = self._dirs[parent] = self._inside(parent.resolve())
        if inside and path.is_symlink():
            inside = self._inside(path.resolve())
        return inside


class ArchiveError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def iter_tar(path: Path, *, read: bool = False) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """The image members of an archive (see :func:`iter_members`), with their bytes when
    ``read``; links and repeated names are left out."""
    for info, data, problem in iter_members(path, read=read):
        if problem is None:
            yield info, data


def iter_members(
    path: Path, *, read: bool = False
) -> Iterator[tuple[tarfile.TarInfo, bytes | None, tuple[str, str] | None]]:
    """Stream a tar archive once, in order: ``(info, bytes, problem)`` of each member that
    is a file or a link; bytes of a file when ``read``, problem ``(reason, detail)`` or None.

    A symbolic or hard link is not image data (``archive_member_link``; following it would
    read elsewhere, or the same bytes again). A name that comes again is the same image
    twice: the first member of a name is the image, later ones are ``duplicate_locator``
    (a stream cannot know a later copy exists, and every stripe of an archive reads all its
    headers, so each one agrees on which copy counts). Directories are skipped.

    Raises ArchiveError (archive_unreadable / archive_truncated) where the stream breaks;
    every member yielded before that is complete.
    """
    # A member is yielded only once the next header (or the clean end) has been read, so a
    # member whose data the stream cuts off is never reported as complete.
    count = 0
    pending: tuple[tarfile.TarInfo, bytes | None, tuple[str, str] | None] | None = None
    seen: set[str] = set()  # member names: ~100 B each, ~10 MB for a 100K-member set
    try:
        # tarfile's random-access mode over a forward-only stream (see _GzipStream): a
        # member's data is one read, and skipped data is never copied; its stream mode
        # instead reads in 10 KiB records through three layers of copies.
        with _open_decompressed(path) as raw, tarfile.open(fileobj=raw, mode="r:") as tar:
            for info in tar:
                tar.members = []  # tarfile keeps every TarInfo it read: ~50 MB per 100K members
                if pending is not None:
                    count += 1
                    yield pending
                    pending = None
                if info.issym() or info.islnk():
                    kind = "symbolic" if info.issym() else "hard"
                    pending = (
                        info,
                        None,
                        ("archive_member_link", f"a {kind} link to {info.linkname}"),
                    )
                    continue
                if not info.isfile():
                    continue
                if info.name in seen:
                    detail = "a second member of this name; the first one is used"
                    pending = (info, None, ("duplicate_locator", detail))
                    continue
                seen.add(info.name)
                data = None
                if read:
                    fh = tar.extractfile(info)
                    data = fh.read() if fh is not None else b""
                    if len(data) != info.size:
                        raise EOFError("member data ends early")
                pending = (info, data, None)
            if getattr(raw, "truncated", False) or (
                not _compressed(path) and tar.offset > path.stat().st_size
            ):
                raise EOFError("the archive ends before its end-of-archive marker")
        if pending is not None:
            yield pending
    except (tarfile.ReadError, EOFError, OSError, tarfile.StreamError, zlib.error) as exc:
        msg = str(exc) or type(exc).__name__
        truncated = isinstance(exc, EOFError) or "unexpected end" in msg or count > 0
        if not truncated:
            raise ArchiveError("archive_unreadable", msg) from None
        raise ArchiveError(
            "archive_truncated", f"{msg}; {count} complete members before the break"
        ) from None


def _compressed(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


class _GzipStream(io.RawIOBase):
    """A gzip reader that ends where the data ends and remembers whether it was cut off.

    tarfile takes a cut-off gzip stream for a clean end (and its stream mode drops the
    partly read block when the file object raises). This one returns every byte that can
    be decompressed, then a clean EOF, and sets ``truncated``; ``iter_tar`` checks it, so
    exactly the members that are complete are kept. It seeks forward only (by inflating
    and discarding), which is all tarfile does when members are visited in order.
    """

    CHUNK = 1 << 18
    MAX_OUT = 1 << 22

    def __init__(self, fh: io.BufferedReader):
        self.fh = fh
        self.decomp = zlib.decompressobj(31)
        self.chunks: deque[memoryview] = deque()  # inflated, not yet read (copied only once)
        self.buffered = 0
        self.pos = 0  # offset of the next byte read in the decompressed stream
        self.done = False
        self.truncated = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self.pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a gzip stream cannot seek from its end")
        if offset < self.pos:
            raise io.UnsupportedOperation("a gzip stream cannot seek backwards")
        while offset > self.pos:
            if not self._consume(min(offset - self.pos, self.MAX_OUT)):
                self.pos = offset  # past the end: reads return b"", as for a file
                break
        return self.pos

    def _inflate(self, data: bytes) -> None:
        out = self.decomp.decompress(data, self.MAX_OUT)
        if out:
            self.chunks.append(memoryview(out))
            self.buffered += len(out)

    def _fill(self, n: int) -> None:
        while (n < 0 or self.buffered < n) and not self.done:
            data = self.decomp.unconsumed_tail or self.fh.read(self.CHUNK)
            if not data:
                self.truncated = not self.decomp.eof
                self.done = True
                break
            self._inflate(data)
            if self.decomp.eof:
                self._next_member()

    def _next_member(self) -> None:
        """After a gzip member: start the next one (concatenated gzip), or end where only
        zero padding is left. Reads on a chunk at a time, never the rest of the file."""
        rest = self.decomp.unused_data
        while not rest.strip(b"\0"):
            rest = self.fh.read(self.CHUNK)
            if not rest:
                self.done = True
                return
        self.decomp = zlib.decompressobj(31)
        self._inflate(rest)

    def _consume(self, n: int) -> list[memoryview]:
        """The next ``n`` bytes (all when ``n < 0``) as views of the inflated chunks."""
        self._fill(n)
        want = self.buffered if n < 0 else min(n, self.buffered)
        pieces: list[memoryview] = []
        left = want
        while left:
            head = self.chunks[0]
            if len(head) <= left:
                pieces.append(self.chunks.popleft())
                left -= len(head)
            else:
                pieces.append(head[:left])
                self.chunks[0] = head[left:]
                left = 0
        self.buffered -= want
        self.pos += want
        return pieces

    def read(self, n: int | None = -1) -> bytes:
        pieces = self._consume(-1 if n is None else n)
        return bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> None:
        self.fh.close()
        super().close()


def _open_decompressed(path: Path):
    fh = open(path, "rb")  # noqa: SIM115 - closed by the stream it is wrapped in
    return _GzipStream(fh) if _compressed(path) else fh


def read_file(root: Path, member: str) -> bytes:
    return (Path(root) / member).read_bytes()


def list_archives(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))


def csv_records(path: Path, required: tuple[str, ...], what: str) -> Iterator[dict[str, str]]:
    """The rows of a source's CSV table, or one line naming the file and what is wrong.

    UTF-8, with or without the byte-order mark spreadsheets write (``utf-8-sig``: a BOM is
    unambiguous, and read as UTF-8 it would rename the first column). Any other encoding is
    refused rather than guessed: Latin-1 and cp1252 decode the same bytes to different
    names, and a wrong guess would put misspelt labels into the dataset.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or ())]
            if missing:
                raise TolError(f"{path} is not {what}: missing column(s) {', '.join(missing)}")
            yield from reader
    except UnicodeDecodeError as exc:
        raise TolError(
            f"{path} is not UTF-8 text (it has the byte 0x{exc.object[exc.start]:02x}): "
            'save it as UTF-8 ("CSV UTF-8" in a spreadsheet)'
        ) from None
    except csv.Error as exc:
        raise TolError(f"{path} is not a readable CSV table: {exc}") from None


class DiskSet:
    """A set of strings kept in a temporary SQLite file, for sources listing millions of
    images (BIOSCAN-5M, GBIF downloads): a Python set of 10M names would take ~1 GB, this
    takes SQLite's page cache. ``add`` says whether the value is new."""

    def __init__(self, folder: Path):
        self.db = sqlite3.connect(Path(folder) / "seen.sqlite", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-32768"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE seen (value TEXT PRIMARY KEY) WITHOUT ROWID")
        self.db.execute("BEGIN")
        self._pending = 0

    def add(self, value: str) -> bool:
        new = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (value,)).rowcount == 1
        self._pending += 1
        if self._pending >= 50_000:  # keep the transaction (and its journal-less undo) small
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._pending = 0
        return new

    def __contains__(self, value: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM seen WHERE value = ?", (value,)).fetchone() is not None
        )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("COMMIT")
        self.db.close()


@contextlib.contextmanager
def disk_set() -> Iterator[DiskSet]:
    """A :class:`DiskSet` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tol-seen-") as tmp:
        seen = DiskSet(Path(tmp))
        try:
            yield seen
        finally:
            seen.close()


def tsv_header(fh: io.TextIOBase, path: Path, required: tuple[str, ...], what: str) -> list[str]:
    """The header of a tab-separated Darwin Core file, or one line naming what is missing."""
    header = fh.readline().rstrip("\r\n").split("\t")
    missing = [c for c in required if c not in header]
    if missing:
        raise TolError(f"{path} is not {what}: missing column(s) {', '.join(missing)}")
    return header


def tsv_rows(
    path: Path, required: tuple[str, ...], what: str, wanted: tuple[str, ...] = ()
) -> Iterator[dict[str, str]]:
    """The rows of a tab-separated Darwin Core text file (a GBIF download's
    ``occurrence.txt``, ``multimedia.txt``), one at a time: the ``required`` and ``wanted``
    columns only (a wanted column the file lacks is empty), since an occurrence row has
    some 250 columns a build never reads.

    GBIF writes these files without quoting (a ``"`` is part of a value) and with no tab
    or newline inside a value, so a line is a row and a tab a separator. A short row is
    padded, as DwC-A readers do.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = tsv_header(fh, path, required, what)
            names = tuple(dict.fromkeys((*required, *wanted)))
            at = [header.index(c) if c in header else None for c in names]
            for line in fh:
                values = line.rstrip("\r\n").split("\t")
                n = len(values)
                if n == 1 and not values[0]:
                    continue  # a blank line (the file's last newline doubled)
                yield {
                    c: (values[i] if i is not None and i < n else "")
                    for c, i in zip(names, at, strict=True)
                }
    except UnicodeDecodeError as exc:
        raise TolError(
            f"{path} is not UTF-8 text (it has the byte 0x{exc.object[exc.start]:02x})"
        ) from None
