"""Scan (the reference's make_mapping): enumerate every source image into the database.

Ids come from each image's identity key, so a re-scan finds the same ids and adds only
images that are new (``INSERT OR IGNORE``); nothing is ever duplicated. A re-scan also
forgets what the sources no longer have: images that were not found again (a removed image
set, a deleted file) leave the build, and the scan's rejects are those of this scan only
(a repaired archive is no longer reported broken).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tqdm import tqdm

from treeoflife import builddb
from treeoflife.columns import ID_COLUMNS
from treeoflife.sources import ADAPTERS
from treeoflife.sources.base import ImageRecord, ScanReject
from treeoflife.stages import BuildContext, Stage, file_signature

NAME = "scan"
BATCH = 10_000
_INSERT_IMAGE = (
    "INSERT OR IGNORE INTO images (treeoflife_id, identity_key, source, container, member, label_key, size_bytes, "
    + ", ".join(ID_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * (7 + len(ID_COLUMNS)))
    + ")"
)

_UPDATE_IMAGE = (
    "UPDATE images SET container = ?1, member = ?2, label_key = ?3, size_bytes = ?4 "
    "WHERE treeoflife_id = ?5 AND (container IS NOT ?1 OR member IS NOT ?2 "
    "OR label_key IS NOT ?3 OR size_bytes IS NOT ?4)"
)


def inputs(ctx: BuildContext) -> Any:
    return {a.NAME: file_signature(a.input_files(ctx.config)) for a in ADAPTERS} | {
        "root": ctx.config.sources_root,
        "paths": ctx.config.section_json("paths"),
    }


def _flush(ctx: BuildContext, images: list[ImageRecord], counts: Counter) -> None:
    with builddb.transaction(ctx.db) as db:
        before = db.total_changes
        db.executemany(
            _INSERT_IMAGE,
            [
                (
                    r.treeoflife_id,
                    r.identity_key,
                    r.source,
                    r.container,
                    r.member,
                    r.label_key,
                    r.size_bytes,
                    *(r.columns.get(c) for c in ID_COLUMNS),
                )
                for r in images
            ],
        )
        counts["new"] += db.total_changes - before
        # an image already known may have moved (re-packed sets) or been relabelled (a
        # corrected generic CSV): its id stays, what the build reads and resolves follows
        before = db.total_changes
        db.executemany(
            _UPDATE_IMAGE,
            [(r.container, r.member, r.label_key, r.size_bytes, r.treeoflife_id) for r in images],
        )
        counts["changed"] += db.total_changes - before
        db.executemany(
            "INSERT OR IGNORE INTO temp.scan_seen VALUES (?)", [(r.treeoflife_id,) for r in images]
        )
        db.executemany(
            "INSERT OR IGNORE INTO labels VALUES (?, ?, ?)",
            [
                (r.label_key, r.source, json.dumps(r.label, sort_keys=True, ensure_ascii=False))
                for r in images
            ],
        )
    images.clear()


def _forget_vanished(ctx: BuildContext) -> int:
    """Remove the images this scan did not find again, and what was recorded about them."""
    db = ctx.db
    gone = "SELECT treeoflife_id FROM images WHERE treeoflife_id NOT IN temp.scan_seen"
    with builddb.transaction(db):
        (count,) = db.execute(f"SELECT COUNT(*) FROM ({gone})").fetchone()
        if count:
            for table, column in (("rejects", "item"), ("holdout", "treeoflife_id")):
                db.execute(f"DELETE FROM {table} WHERE {column} IN ({gone})")
            db.execute(f"DELETE FROM images WHERE treeoflife_id IN ({gone})")
        # labels no image has any more (images removed, or relabelled)
        db.execute("DELETE FROM labels WHERE label_key NOT IN (SELECT label_key FROM images)")
    return count


def run(ctx: BuildContext) -> dict[str, Any]:
    ctx.db.execute("CREATE TEMP TABLE IF NOT EXISTS scan_seen (treeoflife_id TEXT PRIMARY KEY)")
    with builddb.transaction(ctx.db) as db:
        db.execute("DELETE FROM temp.scan_seen")
        db.execute("DELETE FROM rejects WHERE stage = ?", (NAME,))  # this scan finds them anew
    counts: Counter = Counter()
    per_source: Counter = Counter()
    reasons: Counter = Counter()
    batch: list[ImageRecord] = []
    bar = tqdm(
        desc="scan",
        unit=" files",
        disable=ctx.progress is False if ctx.progress is not None else None,
    )
    for adapter in ADAPTERS:
        for item in adapter.scan(ctx.config):
            bar.update()
            if isinstance(item, ScanReject):
                builddb.add_reject(ctx.db, item.item, NAME, item.reason, item.detail)
                reasons[item.reason] += 1
                continue
            per_source[item.source] += 1
            batch.append(item)
            if len(batch) >= BATCH:
                _flush(ctx, batch, counts)
        if batch:
            _flush(ctx, batch, counts)
    bar.close()
    removed = _forget_vanished(ctx)
    total = ctx.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    labels = ctx.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    summary = {
        "images": total,
        "new": counts["new"],
        "removed": removed,
        "changed": counts["changed"],
        "labels": labels,
        "by_source": dict(sorted(per_source.items())),
        "rejects": dict(sorted(reasons.items())),
    }
    ctx.log(
        f"scan: {sum(per_source.values())} images found ({counts['new']} new"
        + (f", {counts['changed']} moved or relabelled" if counts["changed"] else "")
        + (f", {removed} no longer in the sources and removed" if removed else "")
        + f"), {total} in the build, "
        f"{labels} distinct labels, {sum(reasons.values())} rejects"
        + "".join(f"\n  {k}: {v}" for k, v in sorted(reasons.items()))
    )
    return summary


STAGE = Stage(NAME, "enumerate every source image, with a stable treeoflife_id", run, inputs)
