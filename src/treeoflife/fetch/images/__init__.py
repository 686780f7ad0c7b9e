"""``tol fetch-images``: images from a URL list into an EOL-style or generic source.

A URL list (the EOL media manifest, or any CSV/Parquet with a URL column) becomes either
EOL image sets — ``eol/images/images_NNNN.tar[.gz]`` of
``<content_id>_<page_id>_eol-full-size-copy.jpg``, row ``i`` of the list in set
``i // set_size``, members in list order, fixed tar metadata, so the same list gives
byte-identical sets — or a generic source (``generic/images/…`` plus
``generic/labels.csv`` with a ``path`` column and the label columns passed through).

Split by concern, the way img2dataset separates reader, downloader and writer:
``urls`` reads the list, ``download`` fetches one image, ``state`` records every row's
outcome in a SQLite file next to the output, ``sets`` writes images and EOL sets; this
module runs them. A killed run resumes without fetching a finished image again and
without losing a failure; an edited list keeps what was done for URLs still listed; a
set or image deleted or changed on disk is done again. Failures carry a reason
(``http_404``, ``timeout``, ``connection``, ``not_an_image``, ``too_large``,
``bad_url`` …) and are listed in ``fetch-images-failures.csv``; they are retried only with
``retry_failed``. Downloads run on a bounded thread pool (threads, not
``treeoflife.distribute``'s processes: the work is waiting on sockets, and the per-host
gate must be shared), with at most ``per_host`` connections (and an optional delay
between request starts) per host.
"""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from treeoflife.distribute import _bounded
from treeoflife.errors import TolError
from treeoflife.fetch.images import sets, state
from treeoflife.fetch.images.download import (
    DEFAULT_IMAGE_POLICY,
    HostGate,
    ImagePolicy,
    Outcome,
    fetch_image,
    sniff,
)
from treeoflife.fetch.images.state import FAILURES_CSV, Layout
from treeoflife.fetch.images.urls import ROW_REASONS, Job, read_jobs

__all__ = [
    "DEFAULT_IMAGE_POLICY",
    "FAILURES_CSV",
    "ROW_REASONS",
    "ImagePolicy",
    "Job",
    "Layout",
    "Outcome",
    "fetch_images",
    "sniff",
]


def _work(
    job: tuple[int, str, str], layout: Layout, policy: ImagePolicy, gate: HostGate
) -> Outcome:
    """Fetch one pending row and store its image (in a pool thread); its outcome."""
    idx, url, name = job
    data, kind, out = fetch_image(url, policy, gate)
    if data is None:
        return Outcome(idx, False, out.attempts, out.reason, out.http_status, out.detail)
    path, mtime = sets.store(layout, name, data, kind)
    return Outcome(
        idx, True, out.attempts, path=path, size=out.size, sha256=out.sha256, mtime_ns=mtime
    )


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
    db = state.open_state(
        layout, labels, jobs, settings, functools.partial(sets.stage_moved, layout, gz)
    )
    try:
        if retry_failed and (retried := state.retry_failures(db)):
            log(f"fetch-images: retrying {retried} earlier failures")
        counts: Counter = Counter()
        sets_written = 0
        if fmt == "eol":
            layout.staging.mkdir(parents=True, exist_ok=True)
            if repaired := sets.check_sets(db, layout, set_size, gz):
                log(f"fetch-images: {repaired} image sets differ from the record; rewriting them")
            for s in sets.sets_to_write(db, set_size):
                sets.write_set(db, layout, s, set_size, gz)
                sets_written += 1
        elif repaired := state.check_files(db, layout):
            log(f"fetch-images: {repaired} images are missing or changed on disk; fetching again")
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
                work = functools.partial(_work, layout=layout, policy=policy, gate=gate)
                for out in _bounded(pool.submit, work, state.pending(db), 2 * policy.concurrency):
                    state.record(db, out)
                    counts["done" if out.ok else out.reason] += 1
                    bar.update()
                    since_commit += 1
                    s = out.idx // set_size
                    outstanding[s] -= 1
                    if fmt == "eol" and outstanding[s] == 0:
                        db.execute("COMMIT")
                        sets_written += bool(sets.write_set(db, layout, s, set_size, gz))
                        db.execute("BEGIN")
                        since_commit = 0
                    elif since_commit >= 200:
                        db.execute("COMMIT")
                        db.execute("BEGIN")
                        since_commit = 0
        finally:
            if db.in_transaction:
                db.execute("COMMIT")
            bar.close()
        failed_total = state.write_failures(db, layout.failures)
        labels_rows = state.write_labels(db, layout, labels) if fmt == "generic" else None
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
