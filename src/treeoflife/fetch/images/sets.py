"""The writer of ``tol fetch-images``: where a fetched image goes, and the EOL image sets.

An EOL image is staged as ``<staging>/<member name>`` until every row of its set has an
outcome; then the set is (re)written in list order with ``shards.tario.TarWriter`` (the
fixed metadata the shards use, so the same images give byte-identical sets) and its
size, sha256, mtime and member names are recorded in the state. Before each run
:func:`check_sets` compares every recorded set with the file on disk: a set deleted,
cut short or changed, or whose members the list no longer matches, is rewritten from
what is intact (each member checked against the sha256 recorded when it was fetched),
and whatever is lost is fetched again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from treeoflife import atomic
from treeoflife.fetch.http import sha256_file
from treeoflife.fetch.images.state import Layout
from treeoflife.shards.tario import MTIME, TarWriter
from treeoflife.sources.base import ArchiveError, iter_tar


def store(layout: Layout, name: str, data: bytes, kind: str) -> tuple[str, int | None]:
    """Put a fetched image where it belongs, atomically: (its path for the record, mtime).

    EOL images are staged under their member name (unique in a list, and unchanged when
    the list is edited, unlike the row number); generic and GBIF ones are the source's
    files, ``images/<name[:2]>/<name>.<type>``.
    """
    if layout.fmt == "eol":
        dest = layout.staging / name
        rel = name
    else:
        rel = f"images/{name[:2]}/{name}.{kind}"
        dest = layout.folder / rel
    atomic.write_bytes(dest, data)
    return rel, (dest.stat().st_mtime_ns if layout.fmt != "eol" else None)


def _old_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """The complete members of an earlier version of a set (none when it is unreadable)."""
    if not path.exists():
        return
    try:
        for info, data in iter_tar(path, read=True):
            yield info.name, data or b""
    except ArchiveError:
        return  # a damaged old set: what it lost is fetched again


def _names_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def _range(set_no: int, set_size: int) -> tuple[int, int]:
    return set_no * set_size, (set_no + 1) * set_size - 1


def write_set(db: sqlite3.Connection, layout: Layout, set_no: int, set_size: int, gz: bool) -> int:
    """(Re)write one image set from staged images and the set's previous version.

    Members are in list order. An image that is neither staged nor intact in the old set
    (a damaged or deleted set) goes back to pending, to be fetched again on the next run.
    Returns the number of members written.
    """
    rows = db.execute(
        "SELECT idx, name, sha256 FROM items WHERE status='done' AND idx BETWEEN ? AND ? "
        "ORDER BY idx",
        _range(set_no, set_size),
    ).fetchall()
    path = layout.set_path(set_no, gz)
    tmp = atomic.temp_path(path)
    old = _old_members(path)
    written: list[int] = []
    names: list[str] = []
    lost: list[int] = []
    with tmp.open("wb") as raw:
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=MTIME) if gz else None
        tar = TarWriter(zipped or raw)  # type: ignore[arg-type]
        for idx, name, sha in rows:
            staged = layout.staging / name
            data = None
            with contextlib.suppress(FileNotFoundError):
                data = staged.read_bytes()
            if data is None:
                data = next((d for n, d in old if n == name), None)
                if data is None:
                    old = _old_members(path)  # the scan ran out; later rows search afresh
            if data is None or hashlib.sha256(data).hexdigest() != sha:
                lost.append(idx)
                continue
            tar.add(name, data)
            written.append(idx)
            names.append(name)
        tar.close()
        if zipped is not None:
            zipped.close()
        raw.flush()
        os.fsync(raw.fileno())
    db.execute("BEGIN")
    if written:
        atomic.publish(tmp, path)
        st = path.stat()
        db.execute(
            "INSERT OR REPLACE INTO sets VALUES (?, ?, ?, ?, ?)",
            (set_no, st.st_size, sha256_file(path), st.st_mtime_ns, _names_digest(names)),
        )
    else:
        tmp.unlink()
        path.unlink(missing_ok=True)
        db.execute("DELETE FROM sets WHERE set_no=?", (set_no,))
    db.executemany("UPDATE items SET in_set=1 WHERE idx=?", [(i,) for i in written])
    db.executemany(
        "UPDATE items SET status='pending', in_set=0, detail='lost from its set' WHERE idx=?",
        [(i,) for i in lost],
    )
    db.execute("COMMIT")
    for name in names:
        (layout.staging / name).unlink(missing_ok=True)
    return len(written)


def check_sets(db: sqlite3.Connection, layout: Layout, set_size: int, gz: bool) -> int:
    """Mark for rewriting every set whose file is not what the state recorded.

    A set is rewritten when its file is missing, its size differs, its mtime differs and
    so does its sha256 (a full hash of every set on every run would re-read the whole
    collection), or its members are no longer the ones the list puts there. A set with
    no image left is deleted. Returns how many sets are rewritten.
    """
    recorded = {r[0]: r[1:] for r in db.execute("SELECT * FROM sets")}
    with_done = {
        r[0]
        for r in db.execute("SELECT DISTINCT idx / ? FROM items WHERE status='done'", (set_size,))
    }
    redo: list[int] = []
    db.execute("BEGIN")
    for set_no in sorted(set(recorded) | with_done):
        path = layout.set_path(set_no, gz)
        if set_no not in with_done:
            path.unlink(missing_ok=True)
            db.execute("DELETE FROM sets WHERE set_no=?", (set_no,))
            continue
        lo, hi = _range(set_no, set_size)
        names = [
            n
            for (n,) in db.execute(
                "SELECT name FROM items WHERE status='done' AND in_set=1 AND idx BETWEEN ? AND ? "
                "ORDER BY idx",
                (lo, hi),
            )
        ]
        try:
            st = path.stat()
        except OSError:
            st = None
        rec = recorded.get(set_no)
        if rec is None:  # a state from before sets were recorded: trust what is there
            if st is not None and names:
                db.execute(
                    "INSERT INTO sets VALUES (?, ?, ?, ?, ?)",
                    (set_no, st.st_size, sha256_file(path), st.st_mtime_ns, _names_digest(names)),
                )
                continue
            damaged = bool(names)
        else:
            size, sha, mtime, members = rec
            damaged = st is None or st.st_size != size or members != _names_digest(names)
            if not damaged and st is not None and st.st_mtime_ns != mtime:
                damaged = sha256_file(path) != sha
                if not damaged:
                    db.execute(
                        "UPDATE sets SET mtime_ns=? WHERE set_no=?", (st.st_mtime_ns, set_no)
                    )
        if damaged:
            redo.append(set_no)
            db.execute(
                "UPDATE items SET in_set=0 WHERE status='done' AND idx BETWEEN ? AND ?", (lo, hi)
            )
    db.execute("COMMIT")
    return len(redo)


def stage_moved(layout: Layout, gz: bool, moved: list[tuple[int, str]]) -> None:
    """Stage the images a list edit moves to another set, from the set they are in now."""
    by_set: dict[int, set[str]] = {}
    for set_no, name in moved:
        by_set.setdefault(set_no, set()).add(name)
    for set_no, wanted in sorted(by_set.items()):
        for name, data in _old_members(layout.set_path(set_no, gz)):
            if name in wanted:
                atomic.write_bytes(layout.staging / name, data)


def sets_to_write(db: sqlite3.Connection, set_size: int) -> list[int]:
    """Sets with a new image in them and nothing left pending."""
    dirty = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT idx / ? FROM items WHERE status='done' AND in_set=0", (set_size,)
        )
    }
    busy = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT idx / ? FROM items WHERE status='pending'", (set_size,)
        )
    }
    return sorted(dirty - busy)
