"""Write (stage ``write``): assemble the planned shards from the image pass's work files.

Per shard a worker (:mod:`treeoflife.shards.assemble`) writes the tar from the samples'
small JPEGs, read by offset from work files, plus their texts; no source is read and no
image decoded. A shard needing a work file that is gone (deleted once verify passed, or
damaged: its JPEG no longer has the recorded digest) has that unit of the image pass run
again first (:func:`treeoflife.shards.encode.encode_unit`, the same bytes out).

Workers get everything in their task and never touch the database; this driver records
each result as it arrives (one transaction per result), so a kill loses at most the
shards in flight. Every file is written under a temporary name, fsynced and renamed; on a
restart stray temporaries are removed, and anything not recorded as done (or whose file
is missing or has the wrong size) is redone. Output bytes depend only on the plan and
the sources, never on the number of workers or on the order results arrive.

``sizes.json`` (shard name → samples) is written per split for open_clip.

Test hook (:mod:`treeoflife.faults`): ``TOL_FAULT=published:N`` / ``shard:N``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from treeoflife import atomic, builddb, distribute
from treeoflife.errors import TolError
from treeoflife.faults import Fault
from treeoflife.shards import encode, layout, samples
from treeoflife.shards.assemble import Sample, ShardResult, ShardTask, assemble_shard
from treeoflife.shards.encode import UnitResult, UnitTask
from treeoflife.shards.records import sample_record
from treeoflife.stages import BuildContext, Stage

NAME = "write"
MAX_ROUNDS = 3


def inputs(ctx: BuildContext) -> Any:
    """What write reads beyond the plan: shards verify found bad, and shards recorded done
    whose file is gone or changed. (Not the shards merely still to write: a write that
    finished leaves that list empty, and its fingerprint must stay what it recorded.)"""
    return {
        "config": ctx.config.section_json("images", "shards"),
        "redo": _damaged(ctx),
        "strays": _strays(ctx),
    }


def _strays(ctx: BuildContext) -> list[str]:
    """Shard files on disk that the plan does not have (write removes them)."""
    im = ctx.config.images
    planned = {row[0] for row in ctx.db.execute("SELECT name FROM shards")}
    found = []
    for split in layout.SPLITS:
        folder = layout.split_dir(ctx.out, im.width, im.height, split)
        found += [p.relative_to(ctx.out).as_posix() for p in sorted(folder.glob(layout.SHARD_GLOB))]
    return [f for f in found if f not in planned]


def _damaged(ctx: BuildContext) -> list[str]:
    """Shards verify found bad, or recorded done whose file is gone or has another size."""
    return _not_done(ctx, "WHERE status != 'planned'")


def _not_done(ctx: BuildContext, where: str = "") -> list[str]:
    """Shards to write: not recorded done, or whose file is gone or has another size."""
    out = []
    for name, status, size in ctx.db.execute(
        f"SELECT name, status, bytes FROM shards {where} ORDER BY split, shard"
    ):
        p = ctx.out / name
        if status != "done" or not p.is_file() or p.stat().st_size != size:
            out.append(name)
    return out


def _bar(ctx: BuildContext, desc: str, total: int) -> tqdm:
    disable = None if ctx.progress is None else not ctx.progress
    return tqdm(desc=desc, total=total, unit=" img", disable=disable, smoothing=0.05)


def _prepare(ctx: BuildContext) -> dict[str, Path]:
    """Remove stray temporaries and shard files the plan does not have; reset shards whose
    file is missing or has the wrong size."""
    im = ctx.config.images
    dirs = {s: layout.split_dir(ctx.out, im.width, im.height, s) for s in layout.SPLITS}
    for folder in dirs.values():
        removed = atomic.remove_strays(folder)
        if removed:
            ctx.log(f"write: removed {removed} unfinished temporary files in {folder}")
    for name in _strays(ctx):
        ctx.log(f"write: removing {name}, which is not in the current plan")
        (ctx.out / name).unlink()
    redo = _not_done(ctx)
    with builddb.transaction(ctx.db) as db:
        db.executemany(
            "UPDATE shards SET status = 'planned' WHERE name = ? AND status = 'done'",
            [(n,) for n in redo],
        )
    return dirs


def _reader(ctx: BuildContext) -> sqlite3.Connection:
    """A second connection for long streaming reads while the driver records results."""
    db = sqlite3.connect(ctx.out / builddb.DB_NAME)
    db.execute("PRAGMA query_only = 1")
    return db


_NEEDED_UNITS = (
    "SELECT DISTINCT u.unit, u.container, u.stripe, u.stripes, u.work, u.bytes "
    "FROM shards sh JOIN samples s ON s.split = sh.split AND s.shard = sh.shard "
    "JOIN encode_units u ON u.unit = s.unit "
    "WHERE sh.status != 'done' ORDER BY u.unit"
)


def _missing_work(ctx: BuildContext, damaged: set[str]) -> list[tuple]:
    """The units the shards still to write need whose work file is gone, cut or damaged."""
    out = []
    for unit, container, stripe, stripes, work, size in ctx.db.execute(_NEEDED_UNITS).fetchall():
        p = ctx.out / work
        if unit in damaged or not p.is_file() or p.stat().st_size != size:
            out.append((unit, container, stripe, stripes, work))
    return out


def _reencode(ctx: BuildContext, ex: distribute.Executor, units: list[tuple]) -> int:
    """Run units of the image pass again, from the sources; record where their JPEGs are now."""
    spec = ctx.config.images
    tasks = []
    for seq, (unit, container, stripe, stripes, work) in enumerate(units):
        members = None
        if container is None:
            members = tuple(
                ctx.db.execute(
                    "SELECT e.treeoflife_id, i.member FROM encoded e JOIN images i "
                    "ON i.treeoflife_id = e.treeoflife_id WHERE e.unit = ? ORDER BY i.member",
                    (unit,),
                )
            )
        root = ctx.config.sources_root
        tasks.append(
            UnitTask(
                seq, unit, root, container, members, stripe, stripes, spec, str(ctx.out / work)
            )
        )
    if tasks:
        ctx.log(f"write: {len(tasks)} work files are gone or damaged; reading those sources again")
    images = 0
    for res in ex.run(encode.encode_unit, tasks):
        images += _record_reencoded(ctx, res, tasks[res.seq].container)
    # the samples read their JPEG's place from their own row (samples.shard_rows); a place
    # still stale after a kill here fails assemble's digest check, which runs it again
    with builddb.transaction(ctx.db) as db:
        samples.refresh_places(db, [t.unit for t in tasks])
    return images


def _record_reencoded(ctx: BuildContext, res: UnitResult, container: str | None) -> int:
    rows = []
    for o in res.outcomes:
        if o.sha256 is None:
            continue
        tid = o.treeoflife_id
        if tid is None:  # an archive member: the image the scan recorded at this location
            found = ctx.db.execute(
                "SELECT treeoflife_id FROM images WHERE container = ? AND member = ?",
                (container, o.member),
            ).fetchone()
            if found is None:
                continue
            tid = found[0]
        rows.append((o.offset, o.size, o.sha256, tid, res.unit))
    with builddb.transaction(ctx.db) as db:
        db.executemany(
            "UPDATE encoded SET offset = ?, size = ?, sha256 = ? WHERE treeoflife_id = ? AND unit = ?",
            rows,
        )
        db.execute("UPDATE encode_units SET bytes = ? WHERE unit = ?", (res.bytes, res.unit))
    return len(rows)


def _shard_tasks(ctx: BuildContext, pending: list[tuple[str, int, str]]) -> Iterator[ShardTask]:
    db = _reader(ctx)
    caption = ctx.config.shards.caption
    try:
        for split, shard, name in pending:
            members = tuple(
                Sample(
                    rec["treeoflife_id"],
                    str(ctx.out / rec["work"]),
                    rec["unit"],
                    rec["offset"],
                    rec["size"],
                    rec["sha256"],
                    sample_record(split, rec),
                )
                for rec in samples.shard_rows(db, split, shard)
            )
            yield ShardTask(split, shard, str(ctx.out / name), caption, members)
    finally:
        db.close()


def _assemble(ctx: BuildContext, fault: Fault, ex: distribute.Executor) -> tuple[int, set[str]]:
    pending = list(
        ctx.db.execute(
            "SELECT split, shard, name FROM shards WHERE status != 'done' ORDER BY split, shard"
        )
    )
    total = ctx.db.execute(
        "SELECT COALESCE(SUM(planned), 0) FROM shards WHERE status != 'done'"
    ).fetchone()[0]
    bar = _bar(ctx, "shards", total)
    written, bad_units = 0, set()
    for res in ex.run(assemble_shard, _shard_tasks(ctx, pending)):
        res: ShardResult
        if res.bad_units:
            bad_units.update(res.bad_units)
            continue
        fault.hit("published")
        with builddb.transaction(ctx.db) as db:
            db.execute(
                "UPDATE shards SET status = 'done', samples = ?, bytes = ?, sha256 = ?, problem = '' "
                "WHERE split = ? AND shard = ?",
                (res.samples, res.bytes, res.sha256, res.split, res.shard),
            )
        bar.update(res.samples)
        written += 1
        fault.hit("shard")
    bar.close()
    return written, bad_units


def write_sizes(ctx: BuildContext, dirs: dict[str, Path]) -> None:
    """``sizes.json`` per split, as open_clip's loader reads it: shard file name → samples."""
    for split, folder in dirs.items():
        rows = ctx.db.execute(
            "SELECT name, samples FROM shards WHERE split = ? ORDER BY shard", (split,)
        ).fetchall()
        if not rows:
            continue
        sizes = {Path(name).name: samples for name, samples in rows}
        atomic.write_text(folder / "sizes.json", json.dumps(sizes, indent=1, sort_keys=True) + "\n")


def run(ctx: BuildContext) -> dict[str, Any]:
    fault = Fault()
    dirs = _prepare(ctx)
    reencoded = written = 0
    damaged: set[str] = set()
    with distribute.executor(workers=ctx.workers, settings=ctx.config.distribute) as ex:
        for _ in range(MAX_ROUNDS):
            reencoded += _reencode(ctx, ex, _missing_work(ctx, damaged))
            now, damaged = _assemble(ctx, fault, ex)
            written += now
            if not damaged:
                break
        else:
            raise TolError(
                "write: work files keep failing their digests; check the disk under " + str(ctx.out)
            )
    write_sizes(ctx, dirs)
    return _summary(ctx, written, reencoded)


def _summary(ctx: BuildContext, written: int, reencoded: int) -> dict[str, Any]:
    per_split = {
        split: {"shards": n, "samples": s or 0, "bytes": b or 0}
        for split, n, s, b in ctx.db.execute(
            "SELECT split, COUNT(*), SUM(samples), SUM(bytes) FROM shards GROUP BY split ORDER BY split"
        )
    }
    lines = [f"write: {written} shards written now"]
    if reencoded:
        lines[0] += f", {reencoded} images encoded again from the sources"
    lines += [
        f"  {s}: {v['samples']} samples in {v['shards']} shards, {v['bytes'] / 1e6:.1f} MB"
        for s, v in per_split.items()
    ]
    ctx.log("\n".join(lines))
    return {"written_now": written, "reencoded_now": reencoded, "splits": per_split}


def outputs(ctx: BuildContext) -> list[Path]:
    im = ctx.config.images
    return [layout.split_dir(ctx.out, im.width, im.height, s) / "sizes.json" for s in layout.SPLITS]


STAGE = Stage(
    NAME,
    "write the planned shards (resumable, byte-reproducible)",
    run,
    inputs,
    outputs,
    uses_workers=True,
    repairs_inputs=True,
)
