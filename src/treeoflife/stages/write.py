"""Write (stage ``write``): the planned shards, in two resumable, deterministic phases.

Phase A (:mod:`treeoflife.shards.encode`): per source unit (a run of at most 256 planned
images of one archive, or of one folder's loose files) a worker encodes every planned
image once into a work file; consecutive units of an archive go to one worker as a chain
that streams the archive once (an archive is cut into several chains only when there are
fewer archives than needed to keep the workers busy). Phase B (:mod:`treeoflife.shards.assemble`): per shard a
worker assembles the tar from work files by offset plus the texts. Source archives are
read sequentially once however the shards are shuffled.

Workers get everything in their task and never touch the database; this driver records
each result as it arrives (one transaction per result), so a kill loses at most the
tasks in flight. One worker runs inline; more share one process pool for both phases. Every file is written under a temporary name, fsynced and renamed; on a
restart stray temporaries are removed, and anything not recorded as done (or whose file
is missing or has the wrong size) is redone. Output bytes depend only on the plan and
the sources, never on the number of workers or on the order results arrive.

Images that cannot be decoded are rejects (stage ``write``) and simply not in the shard;
shard sample counts are what was written. ``sizes.json`` (shard name → samples) is
written per split for open_clip.

Test hook: ``TOL_FAULT=unit:N`` / ``published:N`` / ``shard:N`` SIGKILLs the driver after
it recorded N units, after N shards are renamed into place but before they are recorded,
or after it recorded N shards.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

from tqdm import tqdm

from treeoflife import atomic, builddb, distribute
from treeoflife.errors import TolError
from treeoflife.images import ImageSpec
from treeoflife.shards import encode, layout, samples, schema
from treeoflife.shards.assemble import Sample, ShardResult, ShardTask, assemble_shard
from treeoflife.shards.encode import UnitResult, UnitTask, encode_chain
from treeoflife.shards.records import sample_record
from treeoflife.stages import BuildContext, Stage

NAME = "write"
MAX_ROUNDS = 3


def inputs(ctx: BuildContext) -> Any:
    """What write reads beyond the plan: shards marked bad, or missing/changed on disk."""
    schema.ensure(ctx.db)
    return {"config": ctx.config.section_json("images", "shards"), "redo": sorted(_not_done(ctx))}


def _not_done(ctx: BuildContext) -> list[str]:
    out = []
    for name, status, size in ctx.db.execute(
        "SELECT name, status, bytes FROM shards ORDER BY split, shard"
    ):
        p = ctx.out / name
        if status != "done" or not p.is_file() or p.stat().st_size != size:
            out.append(name)
    return out


class _Fault:
    """The SIGKILL test hook (see the module docstring)."""

    def __init__(self) -> None:
        point, _, n = os.environ.get("TOL_FAULT", "").partition(":")
        self.point, self.left = point, int(n) if n else 0

    def hit(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)


def _bar(ctx: BuildContext, desc: str, total: int) -> tqdm:
    disable = None if ctx.progress is None else not ctx.progress
    return tqdm(desc=desc, total=total, unit=" img", disable=disable, smoothing=0.05)


def _prepare(ctx: BuildContext) -> dict[str, Path]:
    """Remove stray temporaries and shard files the plan does not have; reset shards whose
    file is missing or has the wrong size."""
    im = ctx.config.images
    dirs = {s: layout.split_dir(ctx.out, im.width, im.height, s) for s in layout.SPLITS}
    planned = {row[0] for row in ctx.db.execute("SELECT name FROM shards")}
    for folder in [*dirs.values(), layout.work_dir(ctx.out, im.width, im.height)]:
        removed = atomic.remove_strays(folder)
        if removed:
            ctx.log(f"write: removed {removed} unfinished temporary files in {folder}")
    for folder in dirs.values():
        for p in sorted(folder.glob(layout.SHARD_GLOB)) if folder.is_dir() else []:
            if p.relative_to(ctx.out).as_posix() not in planned:
                ctx.log(f"write: removing {p}, which is not in the current plan")
                p.unlink()
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


_UNIT_QUERY = """
SELECT i.treeoflife_id, i.container, i.member,
       EXISTS (SELECT 1 FROM samples p JOIN shards s ON s.split = p.split AND s.shard = p.shard
               WHERE p.treeoflife_id = i.treeoflife_id AND s.status != 'done') AS needed
FROM images i WHERE i.treeoflife_id IN (SELECT treeoflife_id FROM samples)
ORDER BY i.container, i.member
"""


def _units(ctx: BuildContext, spec: ImageSpec) -> Iterator[tuple[str, str | None, tuple, bool]]:
    """(unit id, container, members, needed) of every unit of planned images, in order."""
    db = _reader(ctx)
    try:
        group: list[tuple[str, str]] = []
        key: tuple | None = None
        needed = False

        def flush():
            members = tuple(group)
            return encode.unit_id(spec, key[0], members), key[0], members, needed

        for tid, container, member, need in db.execute(_UNIT_QUERY):
            k = (container, None if container else member.rpartition("/")[0])
            limit = encode.ARCHIVE_BATCH if container else encode.LOOSE_BATCH
            if key is not None and (k != key or len(group) >= limit):
                yield flush()
                group, needed = [], False
            key = k
            group.append((tid, member))
            needed = needed or bool(need)
        if group:
            yield flush()
    finally:
        db.close()


def _done_units(ctx: BuildContext) -> set[str]:
    out = set()
    for unit, work, size in ctx.db.execute("SELECT unit, work, bytes FROM encode_units"):
        p = ctx.out / work
        if p.is_file() and p.stat().st_size == size:
            out.add(unit)
    return out


def _record_unit(ctx: BuildContext, res: UnitResult, reasons: Counter) -> None:
    rows, rejects = [], []
    for o in res.outcomes:
        w, h = o.source_size or (None, None)
        rows.append(
            (
                o.treeoflife_id,
                res.unit,
                o.offset,
                o.size,
                o.sha256,
                w,
                h,
                o.reject[0] if o.reject else None,
                json.dumps(o.notes),
            )
        )
        for reason, detail in ((o.reject,) if o.reject else ()) + o.notes:
            rejects.append((o.treeoflife_id, reason, detail))
            reasons[reason] += 1
    work = Path(res.work).relative_to(ctx.out).as_posix()
    with builddb.transaction(ctx.db) as db:
        db.executemany(
            "DELETE FROM rejects WHERE item = ? AND stage = ?",
            [(o.treeoflife_id, NAME) for o in res.outcomes],
        )
        db.executemany("INSERT OR REPLACE INTO encoded VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        for item, reason, detail in rejects:
            builddb.add_reject(db, item, NAME, reason, detail)
        db.execute(
            "INSERT OR REPLACE INTO encode_units VALUES (?, ?, ?, ?, ?)",
            (
                res.unit,
                work,
                res.bytes,
                len(res.outcomes),
                sum(1 for o in res.outcomes if o.reject),
            ),
        )


def _chains(todo: list[UnitTask], workers: int) -> list[tuple[UnitTask, ...]]:
    """Group consecutive units of one archive into chains (one streaming pass each).

    With one worker an archive is one chain. With more, an archive is cut into up to
    ``ceil(2 * workers / archives)`` chains of near-equal length, so that there are enough
    tasks to keep every worker busy; each extra chain re-inflates the archive's prefix,
    which is cheap next to decoding. Loose-file units are a chain each. Only which process
    encodes a unit depends on this, never a unit's contents or the output.
    """
    groups = [
        (container, list(units)) for container, units in groupby(todo, key=lambda t: t.container)
    ]
    archives = sum(1 for c, _ in groups if c is not None)
    out: list[tuple[UnitTask, ...]] = []
    for container, units in groups:
        if container is None:
            out.extend((u,) for u in units)
            continue
        parts = 1 if workers <= 1 else min(len(units), -(-2 * workers // max(archives, 1)))
        for k in range(parts):
            lo, hi = len(units) * k // parts, len(units) * (k + 1) // parts
            out.append(tuple(units[lo:hi]))
    # longest first: a big archive started last would leave the other workers idle
    out.sort(key=lambda c: -sum(len(u.members) for u in c))
    return out


def _phase_a(
    ctx: BuildContext,
    spec: ImageSpec,
    fault: _Fault,
    reasons: Counter,
    ex: distribute.Executor,
) -> dict[str, int]:
    done = _done_units(ctx)
    work_dir = layout.work_dir(ctx.out, spec.width, spec.height)
    current: set[str] = set()
    todo: list[tuple[str, str | None, tuple]] = []
    for unit, container, members, needed in _units(ctx, spec):
        current.add(unit)
        if needed and unit not in done:
            todo.append((unit, container, members))
    # stale units (another plan or spec): forget them and their work files
    stale = [
        row
        for row in ctx.db.execute("SELECT unit, work FROM encode_units")
        if row[0] not in current
    ]
    with builddb.transaction(ctx.db) as db:
        for unit, work in stale:
            db.execute("DELETE FROM encoded WHERE unit = ?", (unit,))
            db.execute("DELETE FROM encode_units WHERE unit = ?", (unit,))
            (ctx.out / work).unlink(missing_ok=True)
    tasks = [
        UnitTask(
            unit,
            ctx.config.sources_root,
            container,
            members,
            spec,
            str(work_dir / f"{unit[:32]}.jpgs"),
        )
        for unit, container, members in todo
    ]
    bar = _bar(ctx, "encode", sum(len(t.members) for t in tasks))
    n = images = 0
    for results in ex.run(encode_chain, _chains(tasks, ctx.workers)):
        for res in results:
            _record_unit(ctx, res, reasons)
            bar.update(len(res.outcomes))
            n += 1
            images += len(res.outcomes)
            fault.hit("unit")
    bar.close()
    return {"units": n, "images": images}


def _settings(ctx: BuildContext) -> dict[str, Any]:
    return dict(ctx.config.extra.get("distribute", {}))


def _shard_tasks(ctx: BuildContext, pending: list[tuple[str, int, str]]) -> Iterator[ShardTask]:
    db = _reader(ctx)
    caption = ctx.config.shards.caption
    try:
        for split, shard, name in pending:
            members = []
            for rec in samples.shard_rows(db, split, shard):
                if rec["reject"]:
                    continue
                if rec["work"] is None:
                    raise TolError(
                        f"write: {rec['treeoflife_id']} of {name} has no encoded image (internal error)"
                    )
                members.append(
                    Sample(
                        rec["treeoflife_id"],
                        str(ctx.out / rec["work"]),
                        rec["unit"],
                        rec["offset"],
                        rec["size"],
                        rec["sha256"],
                        sample_record(split, rec),
                    )
                )
            yield ShardTask(split, shard, str(ctx.out / name), caption, tuple(members))
    finally:
        db.close()


def _phase_b(ctx: BuildContext, fault: _Fault, ex: distribute.Executor) -> tuple[int, set[str]]:
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
        bar.update(
            ctx.db.execute(
                "SELECT planned FROM shards WHERE split = ? AND shard = ?", (res.split, res.shard)
            ).fetchone()[0]
        )
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
        atomic.write_bytes(
            folder / "sizes.json", (json.dumps(sizes, indent=1, sort_keys=True) + "\n").encode()
        )


def run(ctx: BuildContext) -> dict[str, Any]:
    schema.ensure(ctx.db)
    spec = ImageSpec.from_config(ctx.config.images)
    fault = _Fault()
    dirs = _prepare(ctx)
    reasons: Counter = Counter()
    encoded = {"units": 0, "images": 0}
    shards_written = 0
    with distribute.executor(workers=ctx.workers, settings=_settings(ctx)) as ex:
        for _ in range(MAX_ROUNDS):
            a = _phase_a(ctx, spec, fault, reasons, ex)
            encoded = {k: encoded[k] + a[k] for k in encoded}
            written, bad_units = _phase_b(ctx, fault, ex)
            shards_written += written
            if not bad_units:
                break
            ctx.log(f"write: {len(bad_units)} work files were damaged; encoding those units again")
            with builddb.transaction(ctx.db) as db:
                db.executemany("DELETE FROM encode_units WHERE unit = ?", [(u,) for u in bad_units])
        else:
            raise TolError(
                "write: work files keep failing their digests; check the disk under " + str(ctx.out)
            )
    write_sizes(ctx, dirs)
    return _summary(ctx, encoded, shards_written)


def _summary(ctx: BuildContext, encoded: dict[str, int], shards_written: int) -> dict[str, Any]:
    per_split = {
        split: {"shards": n, "samples": s or 0, "bytes": b or 0}
        for split, n, s, b in ctx.db.execute(
            "SELECT split, COUNT(*), SUM(samples), SUM(bytes) FROM shards GROUP BY split ORDER BY split"
        )
    }
    reasons = dict(
        ctx.db.execute(
            "SELECT reason || ' (' || outcome || ')', COUNT(*) FROM rejects WHERE stage = ? GROUP BY reason ORDER BY reason",
            (NAME,),
        ).fetchall()
    )
    lines = [f"write: {shards_written} shards written now, {encoded['images']} images encoded now"]
    lines += [
        f"  {s}: {v['samples']} samples in {v['shards']} shards, {v['bytes'] / 1e6:.1f} MB"
        for s, v in per_split.items()
    ]
    lines += [f"  {k}: {v}" for k, v in reasons.items()]
    ctx.log("\n".join(lines))
    return {
        "written_now": shards_written,
        "encoded_now": encoded["images"],
        "splits": per_split,
        "image_issues": reasons,
    }


STAGE = Stage(NAME, "write the planned shards (resumable, byte-reproducible)", run, inputs)
