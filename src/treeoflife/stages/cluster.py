"""Cluster: which images are the same photo — before the split, so a cluster is split as one.

Reads every usable image's perceptual hash (``encoded.phash``, computed by the image pass)
and the hashes of the ``[dedup] eval_sets`` images (hashed here once, in workers, and
cached by file signature), into numpy arrays — 8 bytes an image, no Python object per
image. Identical hashes and hashes at most ``[dedup] threshold`` bits apart are linked
(:mod:`treeoflife.dedup.index`: exact-match tables on blocks of the hash, no all-pairs
comparison), and linked images form clusters (union-find over arrays). Eval images are
nodes of the same graph, so a source image is matched to an eval image directly or through
its own near duplicates.

Records ``clusters``: every member of a cluster of two or more that holds a source image,
named by its smallest treeoflife_id. Nothing is dropped here; ``dedup`` (after resolve)
decides which sample a cluster keeps.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from typing import Any

import numpy as np

from treeoflife import builddb, distribute, memory
from treeoflife.dedup import evalsets, index
from treeoflife.faults import Fault
from treeoflife.stages import BuildContext, Stage
from treeoflife.stages.scan import in_order

NAME = "cluster"
FETCH = 100_000
# near-duplicate tables searched at once (threads; numpy's work lets go of Python's lock):
# the second core nearly halves the search (10M uniform hashes: 30.6 -> 17.3 s; its pairs
# per table grow faster than N), and each thread more holds ~25 bytes a hash (881 -> 1,135
# MiB peak at 10M)
NEAR_THREADS = 2


def _eval_files(ctx: BuildContext) -> list[evalsets.EvalFile]:
    out: list[evalsets.EvalFile] = []
    for entry in ctx.config.dedup.eval_sets:
        out.extend(evalsets.list_files(entry, ctx.config.eval_set_path(entry)))
    return out


def inputs(ctx: BuildContext) -> Any:
    # the eval files by signature (a digest: a set can be 100K files)
    listing = json.dumps([list(f.__dict__.values()) for f in _eval_files(ctx)])
    return {
        "threshold": ctx.config.dedup.threshold,  # not `keep`: dedup reads that
        "eval_sets": ctx.config.dedup.eval_sets,
        "images": ctx.config.section_json("images"),  # eval images are hashed with these
        "eval_files": hashlib.sha256(listing.encode()).hexdigest(),
    }


def refresh_eval_hashes(ctx: BuildContext) -> dict[str, Any]:
    """Hash the eval files that are new or changed since they were hashed; forget those no
    longer listed. Returns counts for the summary."""
    db = ctx.db
    files = _eval_files(ctx)
    known = {p: (s, m) for p, s, m in db.execute("SELECT path, size, mtime_ns FROM eval_files")}
    listed = {f.path for f in files}
    gone = [p for p in known if p not in listed]
    with builddb.transaction(db):
        for p in gone:
            db.execute("DELETE FROM eval_images WHERE file = ?", (p,))
            db.execute("DELETE FROM eval_files WHERE path = ?", (p,))
    todo = [f for f in files if known.get(f.path) != (f.size, f.mtime_ns)]
    roots = {e: ctx.config.eval_set_path(e) for e in ctx.config.dedup.eval_sets}
    problems: list[str] = []
    fault = Fault()
    with distribute.executor(workers=ctx.workers, settings=ctx.config.distribute) as ex:
        results = ex.run(evalsets.hash_task, evalsets.tasks(todo, ctx.config.images))
        for res in in_order(results):
            by_path = {f.path: f for f in res.files}
            with builddb.transaction(db):
                for f in res.files:
                    db.execute("DELETE FROM eval_images WHERE file = ?", (f.path,))
                db.executemany(
                    "INSERT OR REPLACE INTO eval_images VALUES (?, ?, ?, ?)",
                    [
                        (
                            evalsets.shown_path(
                                by_path[file], roots[by_path[file].eval_set], member
                            ),
                            file,
                            phash,
                            sha,
                        )
                        for file, member, phash, sha in res.images
                    ],
                )
                problem = "; ".join(res.problems)
                db.executemany(
                    "INSERT OR REPLACE INTO eval_files VALUES (?, ?, ?, ?, ?)",
                    [(f.path, f.eval_set, f.size, f.mtime_ns, problem) for f in res.files],
                )
            problems.extend(res.problems)
            fault.hit("eval")
    for line in problems:
        ctx.log(f"cluster: eval set file not fully read: {line}")
    return {"eval_files_hashed_now": len(todo), "eval_files": len(files)}


def _column_arrays(db: Any, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rowid, phash, has a phash) as arrays, of a query's rows (rowid, or minus the rowid
    when there is no phash; the phash or 0), fetched in batches: two values an image made
    into Python, not three (rowids are positive)."""
    cur = db.execute(query)
    parts: list[np.ndarray] = []
    while rows := cur.fetchmany(FETCH):
        flat = itertools.chain.from_iterable(rows)
        parts.append(np.fromiter(flat, dtype=np.int64, count=2 * len(rows)).reshape(-1, 2))
    cols = np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)
    return np.abs(cols[:, 0]), cols[:, 1].copy(), cols[:, 0] > 0


# the (signed rowid, phash) rows _column_arrays reads: usable source images, eval images
_SOURCE_HASHES = (
    "SELECT CASE WHEN phash IS NULL THEN -rowid ELSE rowid END, COALESCE(phash, 0) FROM encoded "
    "WHERE reject IS NULL ORDER BY rowid"
)
_EVAL_HASHES = (
    "SELECT CASE WHEN v.phash IS NULL THEN -v.rowid ELSE v.rowid END, COALESCE(v.phash, 0) "
    "FROM eval_images v JOIN eval_files f ON f.path = v.file ORDER BY v.rowid"
)

# the digests of the files whose pictures have no hash (flat placeholders), by rowid: the
# phash pass already knows which rows they are, so a few rows are probed instead of
# scanning `encoded` twice more (a GROUP BY of its digests and a join back to it)
_FLAT_SOURCES = (
    "SELECT e.rowid, e.source_sha256 FROM json_each(?) j JOIN encoded e ON e.rowid = j.value"
)
_FLAT_EVAL = "SELECT v.rowid, v.sha256 FROM json_each(?) j JOIN eval_images v ON v.rowid = j.value"


def _digests(db: Any, query: str, rows: np.ndarray) -> list[tuple[int, str | None]]:
    return db.execute(query, (json.dumps(rows.tolist()),)).fetchall() if len(rows) else []


def _same_files(
    db: Any, src: tuple[np.ndarray, np.ndarray], evals: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Byte-identical files whose pictures have no hash, as pairs of array positions (each
    source image to the first — smallest rowid — of those with its bytes; each eval image
    to every such source image); a file with a hash meets its identical copies through
    that hash. ``src`` and ``evals`` are (rowids, has a hash) of the phash pass."""
    (src_rows, src_has), (eval_rows, eval_has) = src, evals
    same: dict[str, list[int]] = {}
    for rowid, sha in _digests(db, _FLAT_SOURCES, src_rows[~src_has]):
        if sha is not None:  # no digest is no one's copy (as SQL's NULL = NULL)
            same.setdefault(sha, []).append(rowid)
    a: list[int] = []
    b: list[int] = []
    for rowids in same.values():
        first = min(rowids)
        a.extend(r for r in rowids if r != first)
        b.extend(first for r in rowids if r != first)
    eval_b: list[int] = []
    for rowid, sha in _digests(db, _FLAT_EVAL, eval_rows[~eval_has]):
        for r in same.get(sha, ()) if sha is not None else ():
            a.append(r)
            eval_b.append(rowid)
    pos_a = np.searchsorted(src_rows, np.array(a, dtype=np.int64))
    pos_b = np.concatenate(
        [
            np.searchsorted(src_rows, np.array(b, dtype=np.int64)),
            len(src_rows) + np.searchsorted(eval_rows, np.array(eval_b, dtype=np.int64)),
        ]
    )
    return pos_a.astype(np.int64), pos_b.astype(np.int64)


def _record(
    ctx: BuildContext, src_rows: np.ndarray, eval_rows: np.ndarray, labels: np.ndarray
) -> None:
    db = ctx.db
    n_src = len(src_rows)
    sizes = np.bincount(labels, minlength=len(labels))
    with_source = np.zeros(len(labels), dtype=bool)
    with_source[labels[:n_src]] = True
    member = (sizes[labels] >= 2) & with_source[labels]
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS cl_members (label INTEGER, is_eval INTEGER, rid INTEGER)"
    )
    db.execute("DELETE FROM temp.cl_members")
    picked = np.flatnonzero(member)
    rows = np.concatenate([src_rows, eval_rows])
    db.executemany(
        "INSERT INTO temp.cl_members VALUES (?, ?, ?)",
        zip(
            labels[picked].tolist(),
            (picked >= n_src).astype(np.int64).tolist(),
            rows[picked].tolist(),
            strict=True,
        ),
    )
    db.execute("DROP TABLE IF EXISTS temp.cl_names")
    db.execute(
        "CREATE TEMP TABLE cl_names AS SELECT c.label AS label, MIN(e.treeoflife_id) AS cluster "
        "FROM temp.cl_members c JOIN encoded e ON e.rowid = c.rid WHERE c.is_eval = 0 GROUP BY c.label"
    )
    db.execute(
        "INSERT INTO clusters SELECT e.treeoflife_id, n.cluster, 0, e.phash, e.source_sha256 "
        "FROM temp.cl_members c JOIN encoded e ON e.rowid = c.rid "
        "JOIN temp.cl_names n ON n.label = c.label WHERE c.is_eval = 0"
    )
    db.execute(
        "INSERT OR IGNORE INTO clusters SELECT v.name, n.cluster, 1, v.phash, v.sha256 "
        "FROM temp.cl_members c JOIN eval_images v ON v.rowid = c.rid "
        "JOIN temp.cl_names n ON n.label = c.label WHERE c.is_eval = 1"
    )


def run(ctx: BuildContext) -> dict[str, Any]:
    db, cfg = ctx.db, ctx.config.dedup
    evals = refresh_eval_hashes(ctx)
    src_rows, src_hash, src_has = _column_arrays(db, _SOURCE_HASHES)
    eval_rows, eval_hash, eval_has = _column_arrays(db, _EVAL_HASHES)
    same = _same_files(db, (src_rows, src_has), (eval_rows, eval_has))
    hashes = index.as_unsigned(np.concatenate([src_hash, eval_hash]))
    has_hash = np.concatenate([src_has, eval_has])
    del src_hash, eval_hash, src_has, eval_has
    # the page cache is full of `encoded` (256 MiB at 10M): emptied, the search has it
    memory.shrink_cache(db)
    labels = index.clusters(
        hashes,
        cfg.threshold,
        has_hash,
        same,
        threads=min(NEAR_THREADS, ctx.workers, os.cpu_count() or 1),
    )
    del hashes, has_hash
    with builddb.transaction(db):
        db.execute("DELETE FROM clusters")
        _record(ctx, src_rows, eval_rows, labels)
    return _summary(ctx, evals, len(src_rows), len(eval_rows))


def _summary(
    ctx: BuildContext, evals: dict[str, Any], images: int, eval_images: int
) -> dict[str, Any]:
    db = ctx.db
    exact, near = db.execute(
        "SELECT COALESCE(SUM(same), 0), COALESCE(SUM(1 - same), 0) FROM ("
        "SELECT cluster, COUNT(DISTINCT sha256) = 1 AS same FROM clusters GROUP BY cluster)"
    ).fetchone()
    (in_clusters,) = db.execute("SELECT COUNT(*) FROM clusters WHERE is_eval = 0").fetchone()
    (eval_matched,) = db.execute(
        # the clusters holding an eval image, listed once: a correlated EXISTS per member
        # costs the cluster's size per member, quadratic in a big cluster (56 s at 200K)
        "SELECT COUNT(*) FROM clusters WHERE is_eval = 0 AND cluster IN "
        "(SELECT cluster FROM clusters WHERE is_eval = 1)"
    ).fetchone()
    summary = {
        "threshold": ctx.config.dedup.threshold,
        "images_hashed": images,
        "eval_images": eval_images,
        **evals,
        "exact_clusters": exact,
        "near_clusters": near,
        "images_in_clusters": in_clusters,
        "images_matching_eval": eval_matched,
    }
    ctx.log(
        f"cluster (threshold {summary['threshold']} bits): {images} images, "
        f"{exact} clusters of identical files, {near} of near duplicates, "
        f"{in_clusters} images in clusters; {eval_images} eval images, "
        f"{eval_matched} source images match one"
    )
    return summary


STAGE = Stage(
    NAME,
    "find duplicate and near-duplicate images, and images of the eval sets (perceptual hashes)",
    run,
    inputs,
    uses_workers=True,
)
