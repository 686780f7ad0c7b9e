"""Plan (stage ``plan``): which sample goes into which shard of which split.

Reads images ⨝ splits ⨝ encoded ⨝ rights ⨝ taxa, minus held-out, unselected and
duplicate images, and writes ``samples`` (every sample's record, once) and ``shards``.
train_small is a subset of train: its images are planned in both. Order and cutting rules
are in :mod:`treeoflife.shards.planning`; ranking and sorting run inside SQLite (a
registered hash function), walking each big table in storage order
(:func:`treeoflife.shards.samples.plan_samples`), so the plan streams and never holds the
dataset in memory. The plan depends only on the database and the config, never on the
number of workers.

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
# which candidates each planned split takes: a condition on the image's splits row s.
# train_small is a subset of train: its images are planned in both
MEMBER = {
    "train": "s.split = 'train'",
    "val": "s.split = 'val'",
    "train_small": "s.split = 'train' AND s.in_train_small = 1",
}
# the order within a split, over images i and the planned split p.split
ORDER = {
    # the split's shuffle key (planning.shuffle_key: its text is "split:id")
    "shuffle": "tol_shuffle(p.split || ':' || i.treeoflife_id), i.treeoflife_id",
    "source": "i.source, i.container, i.member, i.treeoflife_id",
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


def _digests(ctx: BuildContext, split: str, counts: list[int]) -> list[tuple[int, int | None, str]]:
    """(samples, estimated bytes, content digest) of each shard of the split, cut into
    shards of ``counts`` samples: a statement a shard, over its range of rowids (a split's
    samples are stored in order)."""
    db = ctx.db
    im = ctx.config.images
    spec = json.dumps([repr(im), ctx.config.shards.caption]).encode()
    first = samples.first_rowid(db, split)
    out = []
    for shard, planned in enumerate(counts):
        est, text = samples.shard_text(db, split, shard, first, planned, planning.SAMPLE_OVERHEAD)
        first += planned
        digest = hashlib.sha256(spec)
        digest.update(text.encode())
        out.append((planned, est, digest.hexdigest()))
    return out


def _cut(ctx: BuildContext, split: str) -> list[tuple[int, int | None, str]]:
    """(samples, estimated bytes, content digest) of each shard of the split, as
    ``samples`` has it once cut. The samples were cut every ``max_samples``; that is the
    cut when no shard passes ``max_bytes`` (the digest pass sums the sizes, so the usual
    case reads the samples once); otherwise Python walks the sizes one by one
    (:mod:`treeoflife.shards.planning`), the split is renumbered and digested again."""
    cfg = ctx.config.shards
    total = samples.count(ctx.db, split)
    every = [min(cfg.max_samples, total - k) for k in range(0, total, cfg.max_samples)]
    shards = _digests(ctx, split, every)
    if planning.count_cut_holds([(n, est) for n, est, _ in shards], cfg.max_bytes):
        return shards
    cut = planning.cut(samples.jpeg_sizes(ctx.db, split), cfg.max_samples, cfg.max_bytes)
    samples.recut(ctx.db, split, cfg.max_samples, [n for n, _ in cut])
    digests = _digests(ctx, split, [n for n, _ in cut])
    return [(n, est, d) for (n, est), (_, _, d) in zip(cut, digests, strict=True)]


def _plan_split(ctx: BuildContext, split: str, old: dict) -> dict[str, int]:
    """Cut the split's samples into shards and digest each shard's (a statement each)."""
    shards: list[tuple] = []
    for shard, (planned, est, d) in enumerate(_cut(ctx, split)):
        name = _shard_path(ctx, split, shard)
        row = [split, shard, name, planned, est, d, "planned", None, None, None]
        prev = old.get((split, shard))
        if prev and prev["digest"] == d and prev["status"] == "done" and prev["name"] == name:
            row[6:] = ["done", prev["samples"], prev["bytes"], prev["sha256"]]
        shards.append(tuple(row))
    ctx.db.executemany(_INSERT_SHARD, shards)
    return {
        "shards": len(shards),
        "samples": sum(s[3] for s in shards),
        "kept_done": sum(1 for s in shards if s[6] == "done"),
    }


def run(ctx: BuildContext) -> dict[str, Any]:
    db = ctx.db
    cfg = ctx.config.shards
    samples.label_rows(db)
    samples.exclude(db)
    cols = ("split", "shard", "name", "digest", "status", "samples", "bytes", "sha256")
    old = {
        (r[0], r[1]): dict(zip(cols, r, strict=True))
        for r in db.execute(f"SELECT {', '.join(cols)} FROM shards")
    }
    per_split: dict[str, dict[str, int]] = {}
    with builddb.transaction(db):
        db.execute("DELETE FROM samples")
        db.execute("DELETE FROM shards")
        db.create_function("tol_shuffle", 1, planning.shuffle_keys(cfg.seed), deterministic=True)
        samples.plan_samples(db, MEMBER, ORDER[cfg.order], cfg.max_samples)
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
