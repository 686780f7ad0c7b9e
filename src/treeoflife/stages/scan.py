"""Scan (the reference's make_mapping): enumerate every source image into the database.

Ids come from each image's identity key, so a re-scan finds the same ids and adds only
images that are new (``INSERT OR IGNORE``); nothing is ever duplicated.
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
        db.executemany(
            "INSERT OR IGNORE INTO labels VALUES (?, ?, ?)",
            [
                (r.label_key, r.source, json.dumps(r.label, sort_keys=True, ensure_ascii=False))
                for r in images
            ],
        )
    images.clear()


def run(ctx: BuildContext) -> dict[str, Any]:
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
    total = ctx.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    labels = ctx.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    summary = {
        "images": total,
        "new": counts["new"],
        "labels": labels,
        "by_source": dict(sorted(per_source.items())),
        "rejects": dict(sorted(reasons.items())),
    }
    ctx.log(
        f"scan: {sum(per_source.values())} images found ({counts['new']} new), {total} in the build, "
        f"{labels} distinct labels, {sum(reasons.values())} rejects"
        + "".join(f"\n  {k}: {v}" for k, v in sorted(reasons.items()))
    )
    return summary


STAGE = Stage(NAME, "enumerate every source image, with a stable treeoflife_id", run, inputs)
