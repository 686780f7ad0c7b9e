"""``tol fetch-images``: images from a URL list into an EOL-style or generic source, or
the media of a GBIF occurrence download into the GBIF source (``--gbif DIR``).

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
between request starts) per host. With a Dask scheduler configured (``[distribute]``, as
for a build) the rows are cut into shards run on the cluster instead (``cluster``), the
per-host limit held cluster-wide.

A GBIF download (``--gbif DIR``, :func:`fetch_images` ``fmt="gbif"``) is its own URL list:
every StillImage row of ``DIR/multimedia.txt``; each image is written to
``DIR/images/<id[:2]>/<id>.<type>``, named by its treeoflife_id, where the GBIF source
reads it, and the state and failures are kept in ``DIR`` too.
"""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from treeoflife.config import DistributeConfig
from treeoflife.distribute import _bounded, backend, uses_dask
from treeoflife.errors import TolError
from treeoflife.fetch.images import sets, state
from treeoflife.fetch.images.cluster import ShardDone, run_sharded
from treeoflife.fetch.images.download import (
    DEFAULT_IMAGE_POLICY,
    HostGate,
    ImagePolicy,
    Outcome,
    fetch_image,
    sniff,
)
from treeoflife.fetch.images.state import FAILURES_CSV, Layout
from treeoflife.fetch.images.urls import ROW_REASONS, Job, read_gbif_jobs, read_jobs

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
    urls: Path | None,
    sources: Path | None,
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
    gbif: Path | None = None,
    workers: int = 1,
    distribute: DistributeConfig | None = None,
    shard_size: int = 1000,
) -> dict[str, Any]:
    """Fetch every URL of the list not yet done; return a summary of this run and the total.

    ``gbif``: the folder of an unpacked GBIF occurrence download, instead of ``urls`` and
    ``sources`` (``fmt`` is then ``gbif``). ``distribute``: the ``[distribute]`` settings;
    with a Dask scheduler there, shards of ``shard_size`` rows run on the cluster.
    """
    from tqdm import tqdm

    if gbif is not None:
        fmt = "gbif"
    if fmt not in ("eol", "generic", "gbif"):
        raise TolError(f"--format must be eol or generic, got {fmt!r}")
    if set_size < 1 or shard_size < 1:
        raise TolError("--set-size and --shard-size must be at least 1")
    if fmt == "gbif":
        if gbif is None:
            raise TolError("fetch-images --gbif needs the folder of a GBIF download")
        folder = Path(gbif)
        labels, jobs = [], read_gbif_jobs(folder)
    else:
        if urls is None or sources is None:
            raise TolError("fetch-images needs a URL list and --out-sources (or --gbif DIR)")
        folder = sources / ("eol/images" if fmt == "eol" else "generic")
        labels, jobs = read_jobs(urls, fmt, url_column, label_columns)
    layout = Layout(fmt, folder, prefix)
    cluster = backend(distribute)
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
        if folded := state.fold_journals(db, layout.journals):
            log(f"fetch-images: took {folded} outcomes from the shards of an interrupted run")
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
        if uses_dask(cluster):
            outcomes = run_sharded(
                state.pending(db),
                layout,
                policy,
                workers=workers,
                settings=cluster,
                shard_size=shard_size,
            )
        else:
            work = functools.partial(_work, layout=layout, policy=policy, gate=gate)
            pool = ThreadPoolExecutor(max_workers=max(1, policy.concurrency))
            outcomes = _bounded(pool.submit, work, state.pending(db), 2 * policy.concurrency)
        bar = tqdm(
            total=todo,
            desc="fetch-images",
            unit=" img",
            disable=(not progress) if progress is not None else None,
        )
        since_commit = 0
        db.execute("BEGIN")
        try:
            for out in outcomes:
                if isinstance(out, ShardDone):  # a cluster shard is in: its journal can go
                    db.execute("COMMIT")
                    Path(out.journal).unlink(missing_ok=True)
                    db.execute("BEGIN")
                    since_commit = 0
                    for host, n in out.max_per_host.items():
                        gate.max_active[host] = max(gate.max_active[host], n)
                    continue
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
            if not uses_dask(cluster):
                pool.shutdown(wait=True, cancel_futures=True)
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
