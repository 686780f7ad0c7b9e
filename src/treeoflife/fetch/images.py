"""``tol fetch-images``: images from a URL list into an EOL-style or generic source.

A URL list (the EOL media manifest, or any CSV/Parquet with a URL column) becomes either
EOL image sets — ``eol/images/images_NNNN.tar[.gz]`` of
``<content_id>_<page_id>_eol-full-size-copy.jpg``, row ``i`` of the list in set
``i // set_size``, members in list order, fixed tar metadata, so the same list gives
byte-identical sets — or a generic source (``generic/images/…`` plus
``generic/labels.csv`` with a ``path`` column and the label columns passed through).

Every URL's outcome is recorded in a SQLite state file next to the output, so a killed
run resumes without fetching a finished image again and without losing a failure;
failures carry a reason (``http_404``, ``timeout``, ``connection``, ``not_an_image``,
``too_large`` …) and are listed in ``fetch-images-failures.csv``. They are retried only
with ``retry_failed``. Downloads run on a bounded thread pool, with at most ``per_host``
connections (and an optional delay between request starts) per host.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import sqlite3
import tarfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from treeoflife.errors import TolError
from treeoflife.fetch.http import RETRY_STATUS, FetchError, now_iso, open_url, retry_after
from treeoflife.sources.base import ArchiveError, iter_tar
from treeoflife.sources.generic import LABEL_COLUMNS

EOL_URL = "EOL Full-Size Copy URL"
EOL_CONTENT = "EOL content ID"
EOL_PAGE = "EOL page ID"
# the label columns the generic source reads, passed through from the URL list
GENERIC_LABELS = LABEL_COLUMNS
FAILURES_CSV = "fetch-images-failures.csv"
TAR_MTIME = 0  # fixed tar/gzip metadata: the same images give byte-identical sets
# reasons a retry cannot fix: the row itself is wrong
ROW_REASONS = ("bad_row", "no_url", "duplicate")


@dataclass(frozen=True)
class ImagePolicy:
    """Pool size, politeness and per-image limits (tests shrink the timeouts)."""

    concurrency: int = 16
    per_host: int = 4
    delay: float = 0.0  # seconds between request starts on one host
    timeout: float = 30.0
    tries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5


DEFAULT_IMAGE_POLICY = ImagePolicy()


@dataclass(frozen=True)
class Job:
    idx: int
    url: str
    name: str  # EOL member name, or the generic file stem
    labels: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # a row reason (ROW_REASONS) when the row cannot be fetched


@dataclass(frozen=True)
class Outcome:
    idx: int
    ok: bool
    attempts: int
    reason: str = ""
    http_status: int | None = None
    detail: str = ""
    path: str = ""
    size: int = 0
    sha256: str = ""


# -- reading URL lists ---------------------------------------------------------------


def _rows(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Header and rows of a CSV or Parquet file, streamed."""
    if not path.is_file():
        raise TolError(f"URL list {path} does not exist")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)

        def parquet_rows() -> Iterator[dict[str, Any]]:
            for batch in pf.iter_batches(batch_size=10_000):
                yield from batch.to_pylist()

        return list(pf.schema_arrow.names), parquet_rows()
    fh = path.open(newline="", encoding="utf-8-sig")
    reader = csv.DictReader(fh)
    header = list(reader.fieldnames or [])

    def csv_rows() -> Iterator[dict[str, Any]]:
        with fh:
            yield from reader

    return header, csv_rows()


def _int_id(value: Any) -> int | None:
    text = "" if value is None else str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isdigit() else None


def read_jobs(
    path: Path, fmt: str, url_column: str | None = None, label_columns: list[str] | None = None
) -> tuple[list[str], Iterator[Job]]:
    """The label columns passed through, and one Job per row in list order."""
    header, rows = _rows(path)
    url_col = url_column or (EOL_URL if fmt == "eol" else "url")
    needed = [url_col] + ([EOL_CONTENT, EOL_PAGE] if fmt == "eol" else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise TolError(
            f"{path} has no column {missing[0]!r} (columns: {', '.join(header[:12])}); "
            "name the URL column with --url-column"
        )
    if label_columns is None:
        labels = [c for c in GENERIC_LABELS if c in header] if fmt == "generic" else []
    else:
        labels = label_columns
        absent = [c for c in labels if c not in header]
        if absent:
            raise TolError(f"{path} has no label column {absent[0]!r}")

    def jobs() -> Iterator[Job]:
        seen: set[str] = set()
        for idx, row in enumerate(rows):
            url = ("" if row.get(url_col) is None else str(row[url_col])).strip()
            lab = {c: "" if row.get(c) is None else str(row[c]) for c in labels}
            if fmt == "eol":
                content, page = _int_id(row.get(EOL_CONTENT)), _int_id(row.get(EOL_PAGE))
                name = f"{content}_{page}_eol-full-size-copy.jpg"
                problem = "bad_row" if content is None or page is None else ""
            else:
                name = hashlib.sha1(url.encode()).hexdigest()[:20]
                problem = ""
            if not problem and not url:
                problem = "no_url"
            if not problem and name in seen:
                problem = "duplicate"
            seen.add(name)
            yield Job(idx, url, name, lab, problem)

    return labels, jobs()


# -- one image -------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The image type by magic bytes (the extension a file gets), None when not an image."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    if data[:2] == b"BM":
        return "bmp"
    return None


class HostGate:
    """At most ``per_host`` connections to one host, request starts ``delay`` s apart."""

    def __init__(self, per_host: int, delay: float = 0.0):
        self.per_host = max(1, per_host)
        self.delay = delay
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = defaultdict(float)
        self.active: Counter = Counter()
        self.max_active: Counter = Counter()

    @contextlib.contextmanager
    def __call__(self, host: str) -> Iterator[None]:
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with sem:
            if self.delay > 0:
                with self._lock:
                    start = max(time.monotonic(), self._next[host])
                    self._next[host] = start + self.delay
                time.sleep(max(0.0, start - time.monotonic()))
            with self._lock:
                self.active[host] += 1
                self.max_active[host] = max(self.max_active[host], self.active[host])
            try:
                yield
            finally:
                with self._lock:
                    self.active[host] -= 1


class _Fail(Exception):
    def __init__(
        self,
        reason: str,
        detail: str = "",
        status: int | None = None,
        retry: bool = False,
        wait: float | None = None,
    ):
        super().__init__(detail)
        self.reason, self.detail, self.status, self.retry, self.wait = (
            reason,
            detail,
            status,
            retry,
            wait,
        )


def _get(url: str, policy: ImagePolicy) -> tuple[bytes, str]:
    """One GET of an image: its bytes and type, or _Fail with a reason."""
    try:
        resp = open_url(url, timeout=policy.timeout, max_redirects=policy.max_redirects)
    except FetchError as exc:
        reason = "too_many_redirects" if "redirects" in str(exc) else "bad_url"
        raise _Fail(reason, str(exc)) from None
    try:
        status = resp.status
        if status != 200:
            retry = status in RETRY_STATUS or 500 <= status <= 599
            raise _Fail(
                f"http_{status}",
                resp.resp.reason,
                status,
                retry,
                retry_after(resp.header("Retry-After")),
            )
        length = resp.header("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise _Fail("too_large", f"{length} bytes > {policy.max_bytes}", status)
        data = resp.read(policy.max_bytes + 1)
        if len(data) > policy.max_bytes:
            raise _Fail("too_large", f"more than {policy.max_bytes} bytes", status)
        if length and length.isdigit() and len(data) < int(length):
            raise _Fail("connection", f"dropped after {len(data)} of {length} bytes", status, True)
        if not data:
            raise _Fail("empty", "the server sent no bytes", status)
        kind = sniff(data)
        if kind is None:
            ctype = resp.header("Content-Type") or "no content type"
            raise _Fail("not_an_image", f"{ctype}; starts with {data[:8]!r}", status)
        return data, kind
    finally:
        resp.close()


def fetch_image(
    url: str, policy: ImagePolicy, gate: HostGate, sleep: Callable[[float], None] = time.sleep
) -> tuple[bytes | None, str, Outcome]:
    """Fetch one image with bounded retries; (bytes, type, outcome without idx/path)."""
    host = urlsplit(url).hostname or ""
    last: _Fail | None = None
    attempt = 0
    for attempt in range(1, policy.tries + 1):  # noqa: B007 (used after the loop)
        try:
            with gate(host):
                try:
                    data, kind = _get(url, policy)
                except (TimeoutError, OSError, http.client.HTTPException) as exc:
                    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                        raise _Fail(
                            "timeout", f"no data for {policy.timeout:g} s", retry=True
                        ) from None
                    raise _Fail("connection", str(exc) or type(exc).__name__, retry=True) from None
            return (
                data,
                kind,
                Outcome(-1, True, attempt, size=len(data), sha256=hashlib.sha256(data).hexdigest()),
            )
        except _Fail as fail:
            last = fail
            if not fail.retry or attempt == policy.tries:
                break
            wait_s = fail.wait if fail.wait is not None else policy.backoff * 2 ** (attempt - 1)
            sleep(min(wait_s, policy.max_backoff))
    assert last is not None
    return None, "", Outcome(-1, False, attempt, last.reason, last.status, last.detail)


# -- state -----------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    idx INTEGER PRIMARY KEY, url TEXT NOT NULL, name TEXT NOT NULL, labels TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', reason TEXT, http_status INTEGER, detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, path TEXT, size INTEGER, sha256 TEXT,
    in_set INTEGER NOT NULL DEFAULT 0, updated TEXT);
CREATE INDEX IF NOT EXISTS items_status ON items (status, idx);
"""


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
    def failures(self) -> Path:
        name = FAILURES_CSV if self.prefix == "images" else f"{self.prefix}-{FAILURES_CSV}"
        return self.folder / name

    def set_path(self, set_no: int, gz: bool) -> Path:
        return self.folder / f"{self.prefix}_{set_no:04d}.tar{'.gz' if gz else ''}"


def _open_state(
    layout: Layout, labels: list[str], jobs: Iterator[Job], settings: dict[str, Any]
) -> sqlite3.Connection:
    """Open (or create) the state; refuse one made from a different list or settings."""
    layout.folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(layout.state, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_SCHEMA)
    h = hashlib.sha256(json.dumps([labels, settings], sort_keys=True).encode())
    batch = []
    fresh = db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    db.execute("BEGIN")
    for job in jobs:
        h.update(
            f"{job.idx}\t{job.url}\t{job.name}\t{json.dumps(job.labels, sort_keys=True)}\n".encode()
        )
        if fresh:
            batch.append(
                (
                    job.idx,
                    job.url,
                    job.name,
                    json.dumps(job.labels, ensure_ascii=False),
                    "failed" if job.problem else "pending",
                    job.problem or None,
                    _row_detail(job.problem),
                )
            )
            if len(batch) >= 10_000:
                _insert(db, batch)
    _insert(db, batch)
    fingerprint = h.hexdigest()
    stored = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
    if stored is None:
        db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
        db.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings),))
        db.execute("COMMIT")
    elif stored[0] != fingerprint:
        db.execute("ROLLBACK")
        db.close()
        raise TolError(
            f"{layout.state} belongs to a different URL list or different settings "
            "(format, set size, compression, columns); use another --out-sources or "
            "--prefix, or delete that state file to start over"
        )
    else:
        db.execute("COMMIT")
    return db


def _row_detail(problem: str) -> str | None:
    return {
        "bad_row": "content or page id is not an integer",
        "no_url": "the URL cell is empty",
        "duplicate": "the same image is listed earlier",
    }.get(problem)


def _insert(db: sqlite3.Connection, batch: list[tuple]) -> None:
    db.executemany(
        "INSERT INTO items (idx, url, name, labels, status, reason, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    batch.clear()


# -- EOL image sets -------------------------------------------------------------------


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = TAR_MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _old_members(path: Path) -> Iterator[tuple[str, bytes]]:
    if not path.exists():
        return
    try:
        for info, data in iter_tar(path, read=True):
            yield info.name, data or b""
    except ArchiveError:
        return  # a damaged old set: its images are fetched again


def write_set(db: sqlite3.Connection, layout: Layout, set_no: int, set_size: int, gz: bool) -> int:
    """(Re)write one image set from staged images and the set's previous version.

    Members are in list order. An image that is neither staged nor in the old set (a
    damaged or deleted set) goes back to pending, to be fetched again on the next run.
    Returns the number of members written.
    """
    lo, hi = set_no * set_size, (set_no + 1) * set_size - 1
    rows = db.execute(
        "SELECT idx, name FROM items WHERE status='done' AND idx BETWEEN ? AND ? ORDER BY idx",
        (lo, hi),
    ).fetchall()
    path = layout.set_path(set_no, gz)
    tmp = path.with_name(path.name + ".tmp")
    old = _old_members(path)
    written: list[int] = []
    lost: list[int] = []
    with tmp.open("wb") as raw:
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=TAR_MTIME) if gz else None
        with tarfile.open(fileobj=zipped or raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for idx, name in rows:
                staged = layout.staging / f"{idx}.img"
                data = (
                    staged.read_bytes()
                    if staged.exists()
                    else next((d for n, d in old if n == name), None)
                )
                if data is None:
                    lost.append(idx)
                    old = _old_members(path)  # the scan ran out; later rows search afresh
                    continue
                tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
                written.append(idx)
        if zipped is not None:
            zipped.close()
    if written:
        os.replace(tmp, path)
    else:
        tmp.unlink()
        path.unlink(missing_ok=True)
    db.execute("BEGIN")
    db.executemany("UPDATE items SET in_set=1 WHERE idx=?", [(i,) for i in written])
    db.executemany(
        "UPDATE items SET status='pending', in_set=0, detail='lost from its set' WHERE idx=?",
        [(i,) for i in lost],
    )
    db.execute("COMMIT")
    for idx in written:
        (layout.staging / f"{idx}.img").unlink(missing_ok=True)
    return len(written)


def _sets_to_write(db: sqlite3.Connection, set_size: int) -> list[int]:
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


# -- the run ---------------------------------------------------------------------------


def _store(layout: Layout, job_idx: int, name: str, data: bytes, kind: str) -> str:
    """Put a fetched image where it belongs (temp + rename); its path for the record."""
    if layout.fmt == "eol":
        dest = layout.staging / f"{job_idx}.img"
        rel = dest.name
    else:
        rel = f"images/{name[:2]}/{name}.{kind}"
        dest = layout.folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return rel


def _work(
    job: tuple[int, str, str], layout: Layout, policy: ImagePolicy, gate: HostGate
) -> Outcome:
    idx, url, name = job
    data, kind, out = fetch_image(url, policy, gate)
    if data is None:
        return Outcome(idx, False, out.attempts, out.reason, out.http_status, out.detail)
    path = _store(layout, idx, name, data, kind)
    return Outcome(idx, True, out.attempts, path=path, size=out.size, sha256=out.sha256)


def _pending(db: sqlite3.Connection) -> Iterator[tuple[int, str, str]]:
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


def _record(db: sqlite3.Connection, out: Outcome) -> None:
    if out.ok:
        db.execute(
            "UPDATE items SET status='done', reason=NULL, http_status=NULL, detail=NULL, "
            "attempts=attempts+?, path=?, size=?, sha256=?, in_set=0, updated=? WHERE idx=?",
            (out.attempts, out.path, out.size, out.sha256, now_iso(), out.idx),
        )
    else:
        db.execute(
            "UPDATE items SET status='failed', reason=?, http_status=?, detail=?, "
            "attempts=attempts+?, updated=? WHERE idx=?",
            (out.reason, out.http_status, out.detail, out.attempts, now_iso(), out.idx),
        )


def write_failures(db: sqlite3.Connection, path: Path) -> int:
    """Every URL that failed, with its reason, in list order (temp + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["row", "url", "name", "reason", "http_status", "detail", "attempts", "last_try"]
        )
        for row in db.execute(
            "SELECT idx, url, name, reason, http_status, detail, attempts, updated "
            "FROM items WHERE status='failed' ORDER BY idx"
        ):
            w.writerow(["" if v is None else v for v in row])
            n += 1
    os.replace(tmp, path)
    return n


def write_labels(db: sqlite3.Connection, layout: Layout, labels: list[str]) -> int:
    """``generic/labels.csv``: path + the label columns, for every fetched image."""
    path = layout.folder / "labels.csv"
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", *labels, "url"])
        for rel, lab, url in db.execute(
            "SELECT path, labels, url FROM items WHERE status='done' ORDER BY idx"
        ):
            values = json.loads(lab)
            w.writerow([rel, *(values.get(c, "") for c in labels), url])
            n += 1
    os.replace(tmp, path)
    return n


def fetch_images(
    urls: Path,
    sources: Path,
    *,
    fmt: str = "eol",
    url_column: str | None = None,
    label_columns: list[str] | None = None,
    set_size: int = 1000,
    gz: bool = False,
    prefix: str = "images",
    retry_failed: bool = False,
    policy: ImagePolicy = DEFAULT_IMAGE_POLICY,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fetch every URL of the list not yet done; return a summary of this run and the total."""
    from tqdm import tqdm

    if fmt not in ("eol", "generic"):
        raise TolError(f"--format must be eol or generic, got {fmt!r}")
    if set_size < 1:
        raise TolError("--set-size must be at least 1")
    folder = sources / ("eol/images" if fmt == "eol" else "generic")
    layout = Layout(fmt, folder, prefix)
    labels, jobs = read_jobs(urls, fmt, url_column, label_columns)
    settings = {
        "format": fmt,
        "set_size": set_size if fmt == "eol" else None,
        "gzip": gz if fmt == "eol" else None,
        "url_column": url_column,
    }
    db = _open_state(layout, labels, jobs, settings)
    try:
        if retry_failed:
            marks = ",".join("?" * len(ROW_REASONS))
            retried = db.execute(
                f"UPDATE items SET status='pending' WHERE status='failed' "
                f"AND reason NOT IN ({marks})",
                ROW_REASONS,
            ).rowcount
            if retried:
                log(f"fetch-images: retrying {retried} earlier failures")
        counts = Counter()
        sets_written = 0
        if fmt == "eol":
            layout.staging.mkdir(parents=True, exist_ok=True)
            for s in _sets_to_write(db, set_size):
                write_set(db, layout, s, set_size, gz)
                sets_written += 1
        todo = db.execute("SELECT COUNT(*) FROM items WHERE status='pending'").fetchone()[0]
        outstanding = Counter(
            r[0]
            for r in db.execute("SELECT idx / ? FROM items WHERE status='pending'", (set_size,))
        )
        gate = HostGate(policy.per_host, policy.delay)
        bar = tqdm(
            total=todo,
            desc="fetch-images",
            unit=" img",
            disable=(not progress) if progress is not None else None,
        )
        since_commit = 0
        db.execute("BEGIN")
        try:
            with ThreadPoolExecutor(max_workers=max(1, policy.concurrency)) as pool:
                inflight: set[Future] = set()

                def handle(done: set[Future]) -> None:
                    nonlocal since_commit, sets_written
                    for fut in done:
                        out = fut.result()
                        _record(db, out)
                        counts["done" if out.ok else out.reason] += 1
                        bar.update()
                        since_commit += 1
                        s = out.idx // set_size
                        outstanding[s] -= 1
                        if fmt == "eol" and outstanding[s] == 0:
                            db.execute("COMMIT")
                            sets_written += bool(write_set(db, layout, s, set_size, gz))
                            db.execute("BEGIN")
                            since_commit = 0
                        elif since_commit >= 200:
                            db.execute("COMMIT")
                            db.execute("BEGIN")
                            since_commit = 0

                for job in _pending(db):
                    if len(inflight) >= 2 * policy.concurrency:
                        done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                        handle(done)
                    inflight.add(pool.submit(_work, job, layout, policy, gate))
                while inflight:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    handle(done)
        finally:
            if db.in_transaction:
                db.execute("COMMIT")
            bar.close()
        failed_total = write_failures(db, layout.failures)
        labels_rows = write_labels(db, layout, labels) if fmt == "generic" else None
        if fmt == "eol" and not any(layout.staging.iterdir()):
            shutil.rmtree(layout.staging, ignore_errors=True)
        totals = dict(db.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall())
    finally:
        db.close()
    summary: dict[str, Any] = {
        "fetched": counts.pop("done", 0),
        "failed": sum(counts.values()),
        "failures_by_reason": dict(sorted(counts.items())),
        "done_total": totals.get("done", 0),
        "failed_total": failed_total,
        "pending_total": totals.get("pending", 0),
        "failures_csv": str(layout.failures),
        "max_connections_per_host": max(gate.max_active.values(), default=0),
    }
    if fmt == "eol":
        summary["sets_written"] = sets_written
    else:
        summary["labels_rows"] = labels_rows
    return summary
