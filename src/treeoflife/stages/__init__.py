"""Stages over one build database, and the runner that skips what is up to date.

A stage is a function of (config, build.sqlite): it reads what earlier stages recorded,
does its work and returns a summary. Its fingerprint covers its own inputs (config
sections, input files) and the fingerprint of the stage before it, so a change anywhere
upstream re-runs it and everything after it, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from sqlite3 import Connection
from typing import Any

from treeoflife import builddb, memory
from treeoflife.config import Config
from treeoflife.errors import TolError


@dataclass
class BuildContext:
    out: Path  # absolute: worker tasks carry paths under it, and workers may run elsewhere
    config: Config
    db: Connection
    workers: int = 1
    progress: bool | None = None  # None: show progress bars only on a terminal
    decode: bool = False  # verify also decodes every JPEG (`tol verify --decode`)
    read_only: bool = False  # OUT cannot be written: stages run record nothing (`tol verify`)
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))


@dataclass(frozen=True)
class Stage:
    name: str
    help: str  # one line, lower case, no full stop: `tol <command> --help` shows it
    run: Callable[[BuildContext], dict[str, Any]]
    inputs: Callable[[BuildContext], Any]  # JSON-able description of what the stage reads
    # the files it writes (beyond shards, which write tracks itself): a stage is up to date
    # only while they are present and unchanged
    outputs: Callable[[BuildContext], list[Path]] = lambda ctx: []
    # runs worker tasks (treeoflife.distribute): its command takes --workers, and a Dask
    # scheduler is checked before the build starts
    uses_workers: bool = False
    # its inputs include what it repairs (write: shards gone or found bad), so a finished
    # run changes them: the fingerprint recorded is taken after the run, or the next build
    # would run it (and every stage after it) again with nothing to do
    repairs_inputs: bool = False


def _registry() -> list[Stage]:
    # imported here so each stage module can import this one for BuildContext
    from treeoflife.stages import scan

    stages = [scan.STAGE]
    # split after resolve: a taxon-unit split needs the resolved ranks; filter just before
    # it, so `tol split` runs both and the split sees only what the filters kept
    for optional in (
        "resolve",
        "filters",
        "cluster",
        "split",
        "select",
        "dedup",
        "plan",
        "write",
        "verify",
        "catalog",
        "report",
    ):
        try:
            module = __import__(f"treeoflife.stages.{optional}", fromlist=["STAGE"])
        except ModuleNotFoundError as exc:
            if exc.name != f"treeoflife.stages.{optional}":
                raise
            continue
        stages.append(module.STAGE)
    return stages


def all_stages() -> list[Stage]:
    """The stages of a build, in order."""
    return _registry()


def stage_names() -> list[str]:
    return [s.name for s in all_stages()]


def fingerprint(stage: Stage, ctx: BuildContext, previous: str | None) -> str:
    payload = json.dumps([stage.name, previous, stage.inputs(ctx)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_stages(
    ctx: BuildContext,
    names: list[str] | None = None,
    *,
    force: bool = False,
    from_stage: str | None = None,
) -> dict[str, dict]:
    """Run the named stages (all, by default) in build order; skip those up to date, except
    with ``force`` or from ``from_stage`` on."""
    stages = all_stages()
    memory.one_heap()  # before any stage starts a thread
    order = [s.name for s in stages]
    wanted = set(names or order)
    unknown = wanted - set(order)
    if unknown:
        raise TolError(f"unknown stage {', '.join(sorted(unknown))}; stages are {', '.join(order)}")
    if from_stage is not None and from_stage not in order:
        raise TolError(f"unknown stage {from_stage}; stages are {', '.join(order)}")
    from_index = order.index(from_stage) if from_stage is not None else len(order)
    summaries: dict[str, dict] = {}
    previous: str | None = None
    for stage in stages:
        recorded = builddb.stage_fingerprint(ctx.db, stage.name)
        if stage.name not in wanted:
            previous = recorded
            continue
        if previous is None and stage is not stages[0]:
            before = order[order.index(stage.name) - 1]
            raise TolError(
                f"stage {stage.name} needs {before} first: run `tol {before} --out {ctx.out}`"
            )
        fp = fingerprint(stage, ctx, previous)
        changed = recorded == fp and changed_outputs(ctx, stage.name)
        if changed:
            ctx.log(f"{stage.name}: {changed[0]} is missing or changed since it was written")
        forced = force or (from_stage is not None and order.index(stage.name) >= from_index)
        if recorded == fp and not changed and not forced:
            ctx.log(f"{stage.name}: up to date, nothing to do")
            summaries[stage.name] = builddb.stage_summary(ctx.db, stage.name) or {}
            previous = fp
            continue
        later = order[order.index(stage.name) :]
        if not ctx.read_only:
            builddb.forget_stages(ctx.db, later)
        started = time.monotonic()
        ctx.log(f"{stage.name}: running")
        try:
            summary = stage.run(ctx)
        finally:
            builddb.drop_scratch(ctx.db)
            memory.give_back(ctx.db)  # the next stage starts from what this one kept, not freed
        if stage.repairs_inputs:
            fp = fingerprint(stage, ctx, previous)
        # the stage's time includes hashing what it wrote (gigabytes of catalog at 10M)
        outputs = [] if ctx.read_only else describe_outputs(ctx, stage)
        summary["seconds"] = round(time.monotonic() - started, 2)
        if not ctx.read_only:
            builddb.record_stage(ctx.db, stage.name, fp, summary, outputs)
        summaries[stage.name] = summary
        previous = fp
    return summaries


def describe_outputs(ctx: BuildContext, stage: Stage) -> list[list[Any]]:
    """(path under OUT, size, mtime_ns, sha256) of each file the stage wrote."""
    out = []
    for p in stage.outputs(ctx):
        if p.is_file():
            st = p.stat()
            rel = p.relative_to(ctx.out).as_posix()
            out.append([rel, st.st_size, st.st_mtime_ns, _sha256(p)])
    return out


def changed_outputs(ctx: BuildContext, stage: str) -> list[str]:
    """The recorded outputs of a stage that are gone or changed. Cheap when nothing changed:
    a size and an mtime per file; a digest only where the mtime moved."""
    bad = []
    for rel, size, mtime_ns, digest in builddb.stage_outputs(ctx.db, stage):
        p = ctx.out / rel
        try:
            st = p.stat()
        except OSError:
            bad.append(rel)
            continue
        if st.st_size != size or (st.st_mtime_ns != mtime_ns and _sha256(p) != digest):
            bad.append(rel)
    return bad


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def file_signature(paths: list[Path]) -> list[list[Any]]:
    """(path, size, mtime_ns) of each existing file: what a stage's fingerprint sees of its inputs."""
    out = []
    for p in sorted(paths):
        try:
            st = p.stat()
        except FileNotFoundError:
            out.append([str(p), None, None])
            continue
        out.append([str(p), st.st_size, st.st_mtime_ns])
    return out
