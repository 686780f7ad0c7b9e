"""Verify (stage ``verify``, ``tol verify``): read every shard back and check it.

Per shard, in workers (:mod:`treeoflife.shards.check`), one streaming read: digest and size
against what write recorded, tar structure, exactly the expected members per sample, keys in
planned order with none repeated, and every JPEG's sha256 against the one recorded when it
was encoded — no decode, so verify runs at disk speed; ``tol verify --decode`` also decodes
every JPEG. A key cannot be in two shards of a split unnoticed: ``samples`` holds each id
once per split, and every shard must hold exactly its planned keys. Here: sample counts
equal to the plan, ``sizes.json`` of each split equal to the recorded counts (a wrong one
is reported, and ``tol shard`` rewrites just it), and no ``shard-*.tar`` on disk that the
plan does not have.

Bad shards are listed in ``OUT/reports/verify.json`` and printed, marked ``bad`` in the
database (so ``tol shard`` rewrites exactly those), and the command fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from treeoflife import atomic, builddb, distribute
from treeoflife.errors import TolError
from treeoflife.shards import layout
from treeoflife.shards.check import CheckResult, CheckTask, check_shard
from treeoflife.stages import BuildContext, Stage

NAME = "verify"


def inputs(ctx: BuildContext) -> Any:
    """The shard files as they are on disk now: any change re-runs verify."""
    im = ctx.config.images
    root = layout.size_dir(ctx.out, im.width, im.height)
    files = sorted(root.glob("*/shard-*.tar")) + sorted(root.glob("*/sizes.json"))
    return [
        [p.relative_to(ctx.out).as_posix(), p.stat().st_size, p.stat().st_mtime_ns] for p in files
    ]


def _tasks(ctx: BuildContext, shards: list[tuple], decode: bool) -> Iterator[CheckTask]:
    """One task per shard, made as the pool asks for it (a task carries its shard's keys)."""
    for split, shard, name, sha, size in shards:
        rows = ctx.db.execute(
            "SELECT treeoflife_id, image_sha256 FROM samples "
            "WHERE split = ? AND shard = ? ORDER BY position",
            (split, shard),
        ).fetchall()
        keys = tuple(r[0] for r in rows)
        digests = tuple(r[1] for r in rows)
        yield CheckTask(split, shard, str(ctx.out / name), sha, size, keys, digests, decode)


def _drop_work_files(ctx: BuildContext) -> None:
    """The shards are good: the small JPEGs they were assembled from are not needed any more
    (a shard rewritten later has its units read again from the sources)."""
    freed = 0
    for (work,) in ctx.db.execute("SELECT work FROM encode_units"):
        p = ctx.out / work
        if p.is_file():
            freed += p.stat().st_size
            p.unlink()
    if freed:
        ctx.log(
            f"verify: removed the work files ({freed / 1e6:.1f} MB; [shards] keep_work = true keeps them)"
        )


def _sizes(folder: Path) -> dict[str, int] | None:
    try:
        return json.loads((folder / "sizes.json").read_text())
    except (OSError, ValueError):
        return None


def run(ctx: BuildContext) -> dict[str, Any]:
    im = ctx.config.images
    shards = ctx.db.execute(
        "SELECT split, shard, name, sha256, bytes, status, samples FROM shards ORDER BY split, shard"
    ).fetchall()
    if not shards:
        raise TolError("verify: there is no shard plan; run `tol shard` first")
    info = {(r[0], r[1]): r for r in shards}
    problems: dict[tuple[str, int], list[str]] = {k: [] for k in info}
    for key, row in info.items():
        if row[5] != "done":
            problems[key].append(f"not written (status {row[5]})")
    tasks = _tasks(ctx, [(r[0], r[1], r[2], r[3], r[4]) for r in shards], ctx.decode)
    disable = None if ctx.progress is None else not ctx.progress
    bar = tqdm(desc="verify", total=len(shards), unit=" shards", disable=disable)
    for res in distribute.run_tasks(
        check_shard,
        tasks,
        workers=ctx.workers,
        settings=ctx.config.distribute,
    ):
        res: CheckResult
        row = info[(res.split, res.shard)]
        problems[(res.split, res.shard)] += list(res.problems)
        if row[6] is not None and len(res.keys) != row[6]:
            problems[(res.split, res.shard)].append(
                f"{len(res.keys)} samples, write recorded {row[6]}"
            )
        bar.update()
    bar.close()
    stray, sizes_wrong = [], []
    for split in layout.SPLITS:
        folder = layout.split_dir(ctx.out, im.width, im.height, split)
        planned = {r[2]: r for r in shards if r[0] == split}
        for p in sorted(folder.glob(layout.SHARD_GLOB)) if folder.is_dir() else []:
            if p.relative_to(ctx.out).as_posix() not in planned:
                stray.append(p.relative_to(ctx.out).as_posix())
        # a wrong sizes.json is write's output to redo, not a reason to rewrite the shards
        if planned and _sizes(folder) != {Path(n).name: r[6] for n, r in planned.items()}:
            sizes_wrong.append((folder / "sizes.json").relative_to(ctx.out).as_posix())
    bad = {k: v for k, v in problems.items() if v}
    if not ctx.read_only:  # a read-only OUT: the verdict is printed, nothing recorded
        _record(ctx, bad)
    report = {
        "ok": not bad and not stray and not sizes_wrong,
        "shards_checked": len(shards),
        "bad": [{"shard": info[k][2], "problems": v} for k, v in sorted(bad.items())],
        "not_in_plan": stray,
        "sizes_json_wrong": sizes_wrong,
    }
    if not ctx.read_only:
        atomic.write_bytes(
            layout.reports_dir(ctx.out) / "verify.json",
            (json.dumps(report, indent=1) + "\n").encode(),
        )
    if not report["ok"]:
        lines = [
            f"verify: {len(bad)} bad shards, {len(stray)} shard files not in the plan (OUT/reports/verify.json)"
        ]
        lines += [f"  {b['shard']}: {'; '.join(b['problems'][:3])}" for b in report["bad"]]
        lines += [f"  {s}: not in the plan (`tol shard` removes it)" for s in stray]
        lines += [f"  {s}: missing or wrong (`tol shard` rewrites it)" for s in sizes_wrong]
        ctx.log("\n".join(lines))
        raise TolError(
            f"verify found {len(bad) + len(stray) + len(sizes_wrong)} problems; run `tol shard --out {ctx.out}` to rewrite exactly those"
        )
    samples = sum(r[6] or 0 for r in shards)
    how = "decoded every JPEG" if ctx.decode else "JPEG digests checked, not decoded"
    if not ctx.config.shards.keep_work and not ctx.read_only:
        _drop_work_files(ctx)
    ctx.log(f"verify: {len(shards)} shards, {samples} samples, all good ({how})")
    return {"shards": len(shards), "samples": samples, "bad": 0, "decoded": ctx.decode}


def _record(ctx: BuildContext, bad: dict[tuple[str, int], list[str]]) -> None:
    """Mark the bad shards, so that ``tol shard`` rewrites exactly those."""
    with builddb.transaction(ctx.db) as db:
        for (split, shard), msgs in bad.items():
            db.execute(
                "UPDATE shards SET status = 'bad', problem = ? WHERE split = ? AND shard = ?",
                ("; ".join(msgs)[:2000], split, shard),
            )


STAGE = Stage(
    NAME,
    "read every shard back and check digests, members, keys and counts",
    run,
    inputs,
    lambda ctx: [layout.reports_dir(ctx.out) / "verify.json"],
    uses_workers=True,
)
