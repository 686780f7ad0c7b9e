"""Plan (stage ``plan``): which sample goes into which shard of which split.

Reads images ⨝ splits ⨝ taxa, minus the ``holdout`` table (whose rejects ``resolve``
records), and writes ``samples`` (every sample's record, once) and ``shards``. train_small
is a subset of train: its images are planned in both. Order and cutting rules are in
:mod:`treeoflife.shards.planning`; the sort runs inside SQLite (a registered hash
function), so the plan streams and never holds the dataset in memory. The plan depends
only on the database and the config, never on the number of workers.

A shard whose content digest (everything its bytes depend on) is unchanged by a re-plan
keeps its ``done`` record, so re-running upstream stages without real changes rewrites
nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from treeoflife import builddb
from treeoflife.shards import layout, planning, samples
from treeoflife.stages import BuildContext, Stage

NAME = "plan"
BATCH = 10_000
WHERE = {
    "train": "s.split = 'train'",
    "val": "s.split = 'val'",
    "train_small": "s.split = 'train' AND s.in_train_small = 1",
}
ORDER = {
    "shuffle": "tol_shuffle(?, ?, i.treeoflife_id), i.treeoflife_id",
    "source": "i.source, i.container, i.member, i.treeoflife_id",
}
_INSERT_SHARD = (
    "INSERT INTO shards (split, shard, name, planned, est_bytes, digest, status, samples, bytes, sha256) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FIELDS = len(samples.FIELDS)


def inputs(ctx: BuildContext) -> Any:
    # what plan reads of the database is covered by the fingerprints of the stages before it
    return {"config": ctx.config.section_json("images", "shards")}


def _shard_path(ctx: BuildContext, split: str, number: int) -> str:
    im = ctx.config.images
    return (
        (layout.split_dir(ctx.out, im.width, im.height, split) / layout.shard_name(number))
        .relative_to(ctx.out)
        .as_posix()
    )


class _SplitPlanner:
    """Streams one split's ordered rows into shard_plan rows and shards rows."""

    def __init__(self, ctx: BuildContext, split: str, old: dict):
        self.ctx, self.split, self.old = ctx, split, old
        im = ctx.config.images
        self.spec = json.dumps([repr(im), ctx.config.shards.caption])
        self.shards: list[tuple] = []
        self.shard, self.count, self.size = -1, 0, 0
        self.digest = hashlib.sha256()

    def _close(self) -> None:
        if self.shard < 0:
            return
        name = _shard_path(self.ctx, self.split, self.shard)
        d = self.digest.hexdigest()
        prev = self.old.get((self.split, self.shard))
        row = [self.split, self.shard, name, self.count, self.size, d, "planned", None, None, None]
        if prev and prev["digest"] == d and prev["status"] == "done" and prev["name"] == name:
            row[6:] = ["done", prev["samples"], prev["bytes"], prev["sha256"]]
        self.shards.append(tuple(row))

    def add(self, row: tuple) -> tuple:
        """The samples row of the next candidate (FIELDS, locator, label and JPEG digests, size)."""
        est = row[-1] + planning.SAMPLE_OVERHEAD
        cfg = self.ctx.config.shards
        if self.shard < 0 or planning.starts_new_shard(
            self.count, self.size, est, cfg.max_samples, cfg.max_bytes
        ):
            self._close()
            self.shard, self.count, self.size = self.shard + 1, 0, 0
            self.digest = hashlib.sha256(self.spec.encode())
        # everything the shard's bytes depend on: fields, locator, provenance, the JPEG (the
        # repr of a tuple of str, int and None is exact and stable, and cheaper than JSON)
        self.digest.update(repr(row).encode() + b"\n")
        out = (self.split, self.shard, self.count, *row[:_FIELDS])
        self.count += 1
        self.size += est
        return out

    def finish(self) -> list[tuple]:
        self._close()
        return self.shards


def _plan_split(ctx: BuildContext, split: str, old: dict) -> dict[str, int]:
    db, cfg = ctx.db, ctx.config.shards
    params = (cfg.seed, split) if cfg.order == "shuffle" else ()
    reader = db.execute(
        samples.CANDIDATES.format(where=WHERE[split], order=ORDER[cfg.order]), params
    )
    planner = _SplitPlanner(ctx, split, old)
    batch: list[tuple] = []
    for row in reader:
        batch.append(planner.add(row))
        if len(batch) >= BATCH:
            samples.insert(db, batch)
            batch.clear()
    samples.insert(db, batch)
    shards = planner.finish()
    db.executemany(_INSERT_SHARD, shards)
    return {
        "shards": len(shards),
        "samples": sum(s[3] for s in shards),
        "kept_done": sum(1 for s in shards if s[6] == "done"),
    }


def run(ctx: BuildContext) -> dict[str, Any]:
    db = ctx.db
    db.create_function("tol_shuffle", 3, planning.shuffle_key, deterministic=True)
    samples.digest_labels(db)
    cols = ("split", "shard", "name", "digest", "status", "samples", "bytes", "sha256")
    old = {
        (r[0], r[1]): dict(zip(cols, r, strict=True))
        for r in db.execute(f"SELECT {', '.join(cols)} FROM shards")
    }
    per_split: dict[str, dict[str, int]] = {}
    with builddb.transaction(db):
        db.execute("DELETE FROM samples")
        db.execute("DELETE FROM shards")
        for split in layout.SPLITS:
            per_split[split] = _plan_split(ctx, split, old)
    held = db.execute(
        "SELECT COUNT(*) FROM holdout h JOIN images i USING (treeoflife_id)"
    ).fetchone()[0]
    untaxed = db.execute(
        "SELECT COUNT(*) FROM images i JOIN splits s USING (treeoflife_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM taxa t WHERE t.label_key = i.label_key)"
    ).fetchone()[0]
    cfg = ctx.config.shards
    ctx.log(
        f"plan ({cfg.order}, seed {cfg.seed}, ≤{cfg.max_samples} samples / ≤{cfg.max_bytes} bytes a shard): "
        + ", ".join(
            f"{s} {v['samples']} samples in {v['shards']} shards" for s, v in per_split.items()
        )
        + f"; {held} held out"
        + (f"; {untaxed} images without a taxa row (not planned)" if untaxed else "")
    )
    return {"order": cfg.order, "held_out": held, "no_taxon": untaxed, "splits": per_split}


STAGE = Stage(
    NAME, "decide which sample goes into which shard (deterministic, seeded shuffle)", run, inputs
)
