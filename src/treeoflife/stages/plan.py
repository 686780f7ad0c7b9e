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
# the candidates of a split: a condition on splits s, or a subset of an earlier split's
# candidates (a condition on their columns), taken from its ordered rows without a join
WHERE = {
    "train": "s.split = 'train'",
    "val": "s.split = 'val'",
}
SUBSET = {"train_small": ("train", "in_train_small = 1")}
# {p}: the images table's alias in the candidates query, or nothing for a subset
ORDER = {
    "shuffle": "tol_shuffle({p}treeoflife_id), {p}treeoflife_id",  # the split's shuffle_keys
    "source": "{p}source, {p}container, {p}member, {p}treeoflife_id",
}
_INSERT_SHARD = (
    "INSERT INTO shards (split, shard, name, planned, est_bytes, digest, status, samples, bytes, sha256) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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


def _cut(ctx: BuildContext, count: int) -> list[tuple[int, int]]:
    """(samples, estimated bytes) of each shard of the split in temp.plan_order.

    SQLite sums every run of ``max_samples`` samples; only when one of them passes
    ``max_bytes`` does Python walk the sizes one by one (:mod:`treeoflife.shards.planning`).
    """
    cfg = ctx.config.shards
    if not count:
        return []
    chunks = ctx.db.execute(
        f"SELECT COUNT(*), SUM(size) + COUNT(*) * {planning.SAMPLE_OVERHEAD} "
        f"FROM {samples.PLAN_ORDER} GROUP BY (rn - 1) / ? ORDER BY (rn - 1) / ?",
        (cfg.max_samples, cfg.max_samples),
    ).fetchall()
    if planning.count_cut_holds(chunks, cfg.max_bytes):
        return chunks
    sizes = (r[0] for r in ctx.db.execute(f"SELECT size FROM {samples.PLAN_ORDER} ORDER BY rn"))
    return planning.cut(sizes, cfg.max_samples, cfg.max_bytes)


def _plan_split(ctx: BuildContext, split: str, old: dict) -> dict[str, int]:
    """Order the split's candidates (in SQLite, into temp.plan_order), cut them into shards,
    then copy each shard's records into ``samples`` and digest them, a statement each."""
    db, cfg = ctx.db, ctx.config.shards
    db.create_function("tol_shuffle", 1, planning.shuffle_keys(cfg.seed, split), deterministic=True)
    if split in SUBSET:
        of, where = SUBSET[split]
        count = samples.order_subset(db, of, where, ORDER[cfg.order].format(p=""))
    else:
        count = samples.order_candidates(db, WHERE[split], ORDER[cfg.order].format(p="i."))
    im = ctx.config.images
    spec = json.dumps([repr(im), ctx.config.shards.caption]).encode()
    shards: list[tuple] = []
    first = 1  # plan_order's rn of the shard's first sample
    for shard, (planned, est) in enumerate(_cut(ctx, count)):
        last = first + planned - 1
        db.execute(samples.INSERT_SAMPLES, (split, shard, first, first, last))
        digest = hashlib.sha256(spec)
        digest.update(samples.shard_text(db, first, last).encode())
        d = digest.hexdigest()
        name = _shard_path(ctx, split, shard)
        row = [split, shard, name, planned, est, d, "planned", None, None, None]
        prev = old.get((split, shard))
        if prev and prev["digest"] == d and prev["status"] == "done" and prev["name"] == name:
            row[6:] = ["done", prev["samples"], prev["bytes"], prev["sha256"]]
        shards.append(tuple(row))
        first = last + 1
    db.executemany(_INSERT_SHARD, shards)
    if any(of == split for of, _ in SUBSET.values()):
        samples.keep_order(db, split)
    return {
        "shards": len(shards),
        "samples": sum(s[3] for s in shards),
        "kept_done": sum(1 for s in shards if s[6] == "done"),
    }


def run(ctx: BuildContext) -> dict[str, Any]:
    db = ctx.db
    samples.label_rows(db)
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
    # the labels without a taxa row first (the distinct labels, from images_by_label), then
    # their images: not a probe of taxa per image
    untaxed = db.execute(
        "SELECT COUNT(*) FROM images i JOIN splits s USING (treeoflife_id) "
        "WHERE i.label_key IN (SELECT label_key FROM (SELECT DISTINCT label_key FROM images) "
        "WHERE label_key NOT IN (SELECT label_key FROM taxa))"
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
