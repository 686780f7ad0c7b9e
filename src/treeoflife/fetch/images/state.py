"""The state of ``tol fetch-images``: one SQLite file recording every row's outcome.

A row is matched to what an earlier run recorded by its URL and name, not by its
position, so editing the list (a bad URL removed, rows added or reordered) keeps every
image already fetched for a URL still listed; only the settings that decide where an
image goes (format, set size, compression, columns) must stay the same. The state is
also checked against the files on disk before a run (``sets.check_sets``,
:func:`check_files`): an image recorded done whose file is gone or changed is done again.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from treeoflife import atomic
from treeoflife.errors import TolError
from treeoflife.fetch.http import now_iso, sha256_file
from treeoflife.fetch.images.download import Outcome
from treeoflife.fetch.images.urls import ROW_REASONS, Job

FAILURES_CSV = "fetch-images-failures.csv"

_ITEMS = """
CREATE TABLE IF NOT EXISTS items (
    idx INTEGER PRIMARY KEY, url TEXT NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', reason TEXT, http_status INTEGER, detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, path TEXT, size INTEGER, sha256 TEXT,
    in_set INTEGER NOT NULL DEFAULT 0, updated TEXT, file_mtime INTEGER);
CREATE INDEX IF NOT EXISTS items_status ON items (status, idx);
CREATE INDEX IF NOT EXISTS items_key ON items (url, name);
"""
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    + _ITEMS
    + """
CREATE TABLE IF NOT EXISTS sets (
    set_no INTEGER PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, names TEXT NOT NULL);
"""
)
_COLUMNS = (
    "idx, url, name, labels, status, reason, http_status, detail, attempts, path, size, "
    "sha256, in_set, updated, file_mtime"
)


@dataclass(frozen=True)
class Layout:
    """Where one fetch-images run writes: output folder, state, staging, failures."""

    fmt: str
    folder: Path  # eol/images or generic
    prefix: str = "images"

    @property
    def state(self) -> Path:
        return self.folder / f".{self.prefix}.fetch-state.sqlite"

    @property
    def staging(self) -> Path:
        return self.folder / f".{self.prefix}.fetch-staging"

    @property
    def journals(self) -> Path:
        """Where the shards of a run on a Dask cluster journal their outcomes."""
        return self.folder / f".{self.prefix}.fetch-shards"

    @property
    def failures(self) -> Path:
        name = FAILURES_CSV if self.prefix == "images" else f"{self.prefix}-{FAILURES_CSV}"
        return self.folder / name

    def set_path(self, set_no: int, gz: bool) -> Path:
        return self.folder / f"{self.prefix}_{set_no:04d}.tar{'.gz' if gz else ''}"


def open_state(
    layout: Layout,
    labels: list[str],
    jobs: Iterator[Job],
    settings: dict[str, Any],
    on_moved: Callable[[list[tuple[int, str]]], None] | None = None,
) -> sqlite3.Connection:
    """Open (or create) the state and bring it in line with the list as it is now.

    Refuses (TolError) a state made with other settings. ``on_moved`` gets the (old set
    number, name) of every image the edit moves to another set, before the rows are
    renumbered, so their bytes can be kept (EOL sets).
    """
    layout.folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(layout.state, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_SCHEMA)
    if "file_mtime" not in {r[1] for r in db.execute("PRAGMA table_info(items)")}:
        db.execute("ALTER TABLE items ADD COLUMN file_mtime INTEGER")  # a state from before
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    config = json.dumps({"settings": settings, "labels": labels}, sort_keys=True)
    known = meta.get("config")
    if known is None and "settings" in meta:  # older states kept the settings alone
        same = json.loads(meta["settings"]) == settings
    else:
        same = known is None or known == config
    if not same:
        db.close()
        raise TolError(
            f"{layout.state} was made with different settings (format, set size, "
            "compression, columns); use another --out-sources or --prefix, or delete that "
            "state file to start over"
        )
    db.execute("BEGIN")
    db.execute("DROP TABLE IF EXISTS temp.incoming")
    db.execute(
        "CREATE TEMP TABLE incoming (idx INTEGER PRIMARY KEY, url TEXT, name TEXT, "
        "labels TEXT, problem TEXT, detail TEXT)"
    )
    h = hashlib.sha256(config.encode())
    batch: list[tuple] = []
    for job in jobs:
        lab = json.dumps(job.labels, ensure_ascii=False, sort_keys=True)
        h.update(f"{job.idx}\t{job.url}\t{job.name}\t{lab}\t{job.problem}\n".encode())
        batch.append((job.idx, job.url, job.name, lab, job.problem, job.detail))
        if len(batch) >= 10_000:
            db.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?, ?, ?)", batch)
            batch.clear()
    db.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?, ?, ?)", batch)
    fingerprint = h.hexdigest()
    if meta.get("list") != fingerprint:
        _follow_list(db, layout, settings.get("set_size") or 1, on_moved)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('list', ?)", (fingerprint,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (config,))
    db.execute("DROP TABLE temp.incoming")
    db.execute("COMMIT")
    return db


def _follow_list(
    db: sqlite3.Connection,
    layout: Layout,
    set_size: int,
    on_moved: Callable[[list[tuple[int, str]]], None] | None,
) -> None:
    """Renumber the state to the list in ``incoming``, keeping outcomes by (URL, name).

    A row listed again keeps its outcome (a row problem is re-judged from the list); an
    image that lands in another set than before leaves its set (in_set=0), so the set is
    rewritten; a generic image file no row lists any more is deleted.
    """
    marks = ",".join("?" * len(ROW_REASONS))
    keep = f"NOT (status = 'failed' AND reason IN ({marks}))"
    moved = db.execute(
        f"SELECT o.idx / ?, o.name FROM incoming n JOIN (SELECT * FROM items WHERE {keep}) o "
        "ON o.url = n.url AND o.name = n.name AND n.problem = '' "
        "WHERE o.status = 'done' AND o.in_set = 1 AND o.idx / ? != n.idx / ?",
        (set_size, *ROW_REASONS, set_size, set_size),
    ).fetchall()
    if moved and on_moved is not None:
        on_moved(moved)
    gone = [
        p
        for (p,) in db.execute(
            "SELECT path FROM items WHERE status = 'done' AND path IS NOT NULL "
            "AND path NOT IN (SELECT o.path FROM incoming n JOIN items o "
            "ON o.url = n.url AND o.name = n.name AND n.problem = '' "
            "WHERE o.path IS NOT NULL)"
        )
    ]
    db.execute("ALTER TABLE items RENAME TO items_old")
    db.execute("DROP INDEX IF EXISTS items_status")
    db.execute("DROP INDEX IF EXISTS items_key")
    for statement in _ITEMS.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        f"INSERT INTO items ({_COLUMNS}) "
        "SELECT n.idx, n.url, n.name, n.labels, "
        "CASE WHEN n.problem != '' THEN 'failed' ELSE coalesce(o.status, 'pending') END, "
        "CASE WHEN n.problem != '' THEN n.problem ELSE o.reason END, "
        "o.http_status, CASE WHEN n.problem != '' THEN n.detail ELSE o.detail END, "
        "coalesce(o.attempts, 0), o.path, o.size, o.sha256, "
        "CASE WHEN o.idx / ? = n.idx / ? THEN coalesce(o.in_set, 0) ELSE 0 END, "
        "o.updated, o.file_mtime "
        f"FROM incoming n LEFT JOIN (SELECT * FROM items_old WHERE {keep}) o "
        "ON o.url = n.url AND o.name = n.name AND n.problem = ''",
        (set_size, set_size, *ROW_REASONS),
    )
    db.execute("DROP TABLE items_old")
    for rel in gone:  # a generic or GBIF image file, or an EOL image staged for its set
        folder = layout.staging if layout.fmt == "eol" else layout.folder
        (folder / rel).unlink(missing_ok=True)


def check_files(db: sqlite3.Connection, layout: Layout) -> int:
    """Put back to pending every generic image recorded done whose file is gone or changed.

    The size is compared always; the sha256 when the file's mtime is not the one recorded
    (hashing every image on every run would cost a full read of the collection). Returns
    how many images are fetched again.
    """
    bad: list[tuple[int]] = []
    seen: list[tuple[int, int]] = []
    for idx, rel, size, sha, mtime in db.execute(
        "SELECT idx, path, size, sha256, file_mtime FROM items WHERE status='done'"
    ).fetchall():
        path = layout.folder / rel
        try:
            st = path.stat()
        except OSError:
            bad.append((idx,))
            continue
        if st.st_size != size:
            bad.append((idx,))
        elif st.st_mtime_ns != mtime:
            if sha256_file(path) != sha:
                bad.append((idx,))
            else:
                seen.append((st.st_mtime_ns, idx))
    db.execute("BEGIN")
    db.executemany(
        "UPDATE items SET status='pending', path=NULL, detail='missing or changed on disk' "
        "WHERE idx=?",
        bad,
    )
    db.executemany("UPDATE items SET file_mtime=? WHERE idx=?", seen)
    db.execute("COMMIT")
    return len(bad)


def pending(db: sqlite3.Connection) -> Iterator[tuple[int, str, str]]:
    """(idx, url, name) of every pending row in list order, a page at a time."""
    last = -1
    while True:
        page = db.execute(
            "SELECT idx, url, name FROM items WHERE status='pending' AND idx > ? "
            "ORDER BY idx LIMIT 5000",
            (last,),
        ).fetchall()
        if not page:
            return
        yield from page
        last = page[-1][0]


def record(db: sqlite3.Connection, out: Outcome) -> None:
    """Record one outcome (the driver's transaction)."""
    if out.ok:
        db.execute(
            "UPDATE items SET status='done', reason=NULL, http_status=NULL, detail=NULL, "
            "attempts=attempts+?, path=?, size=?, sha256=?, in_set=0, updated=?, file_mtime=? "
            "WHERE idx=?",
            (out.attempts, out.path, out.size, out.sha256, now_iso(), out.mtime_ns, out.idx),
        )
    else:
        db.execute(
            "UPDATE items SET status='failed', reason=?, http_status=?, detail=?, "
            "attempts=attempts+?, updated=? WHERE idx=?",
            (out.reason, out.http_status, out.detail, out.attempts, now_iso(), out.idx),
        )


def retry_failures(db: sqlite3.Connection) -> int:
    """Put every failure a retry can fix back to pending; how many."""
    marks = ",".join("?" * len(ROW_REASONS))
    return db.execute(
        f"UPDATE items SET status='pending' WHERE status='failed' AND reason NOT IN ({marks})",
        ROW_REASONS,
    ).rowcount


def _write_csv(path: Path, header: list[str], rows: Iterator[list[Any]]) -> int:
    """A CSV written atomically (temp, fsync, rename); the number of rows."""
    tmp = atomic.temp_path(path)
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    atomic.publish(tmp, path)
    return n


def write_failures(db: sqlite3.Connection, path: Path) -> int:
    """Every URL that failed, with its reason, in list order."""
    rows = db.execute(
        "SELECT idx, url, name, reason, http_status, detail, attempts, updated "
        "FROM items WHERE status='failed' ORDER BY idx"
    )
    return _write_csv(
        path,
        ["row", "url", "name", "reason", "http_status", "detail", "attempts", "last_try"],
        (["" if v is None else v for v in row] for row in rows),
    )


def write_labels(db: sqlite3.Connection, layout: Layout, labels: list[str]) -> int:
    """``generic/labels.csv``: path + the label columns, for every fetched image."""
    rows = db.execute("SELECT path, labels, url FROM items WHERE status='done' ORDER BY idx")
    return _write_csv(
        layout.folder / "labels.csv",
        ["path", *labels, "url"],
        ([rel, *(json.loads(lab).get(c, "") for c in labels), url] for rel, lab, url in rows),
    )


def journal_line(url: str, name: str, out: Outcome) -> str:
    """One shard journal line: an outcome, with the URL and name it is for."""
    return json.dumps({"url": url, "name": name, **dataclasses.asdict(out)}) + "\n"


def fold_journals(db: sqlite3.Connection, folder: Path) -> int:
    """Record what the shards of a run that was killed had journaled, then drop the journals.

    A shard run on a Dask worker appends each outcome to its journal as it comes, and the
    driver records the shard once the whole shard is back; a kill in between leaves the
    journal. An outcome is taken only for a row still pending with the same URL and name
    (the list may have been edited since); a line cut short by the kill is skipped. Returns
    how many outcomes were taken.
    """
    paths = sorted(folder.glob("shard-*.jsonl")) if folder.is_dir() else []
    taken = 0
    db.execute("BEGIN")
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    url, name = rec.pop("url"), rec.pop("name")
                    out = Outcome(**rec)
                except (ValueError, KeyError, TypeError):
                    continue  # the line a kill cut short
                if db.execute(
                    "SELECT 1 FROM items WHERE idx=? AND url=? AND name=? AND status='pending'",
                    (out.idx, url, name),
                ).fetchone():
                    record(db, out)
                    taken += 1
    db.execute("COMMIT")
    for path in paths:
        path.unlink(missing_ok=True)
    return taken
