"""The ``tol`` command: one subcommand per stage, plus build, sample, demo and fetch."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from treeoflife import __version__, atomic, builddb, distribute
from treeoflife.config import Config, check_sources, load_config
from treeoflife.errors import TolError
from treeoflife.stages import Stage, all_stages, stage_names

# subcommand -> the stages it runs, in build order; each stage's help and whether it runs
# worker tasks (and so takes --workers) come from its Stage (treeoflife.stages)
STAGE_COMMANDS: dict[str, tuple[str, ...]] = {
    "scan": ("scan",),
    "resolve": ("resolve",),
    "split": ("filter", "cluster", "split"),  # [filters] leave images out; duplicate clusters
    # are split as one
    "select": ("select",),
    "shard": ("dedup", "plan", "write"),  # one sample per duplicate cluster
    "verify": ("verify",),
    "catalog": ("catalog",),
    "report": ("report",),
}
# other packages' commands: modules with add_parsers(subparsers)
COMMAND_MODULES = (
    "treeoflife.fetch.command",
    "treeoflife.reports.command",
    "treeoflife.diff.command",
    "treeoflife.publish",
)


def _add_build_options(p: argparse.ArgumentParser, *, needs_sources: bool, workers: bool) -> None:
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="build directory (holds build.sqlite and the dataset)",
    )
    p.add_argument(
        "--sources",
        type=Path,
        required=needs_sources,
        help="source collection root (default: the one this build was started with)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="build config tol.toml (paths, split, images, shards; distribute for a Dask or Slurm cluster)",
    )
    if workers:
        p.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="parallel image workers (default: all cores; output is identical for any number)",
        )
    p.add_argument(
        "--force", action="store_true", help="re-run the stages even if they are up to date"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _stage_commands() -> dict[str, list[Stage]]:
    """Each stage command and the stages of this version it runs (none: not available yet)."""
    stages = {s.name: s for s in all_stages()}
    return {
        command: [stages[n] for n in names if n in stages]
        for command, names in STAGE_COMMANDS.items()
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tol",
        description="Build a TreeOfLife-10M-format image-text dataset from raw biodiversity image collections. "
        "`tol build` runs every stage; each stage is also its own command. Re-running skips what is up to date; "
        "a killed build resumes where it stopped.",
    )
    parser.add_argument("--version", action="version", version=f"treeoflife {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands = _stage_commands()
    p = sub.add_parser(
        "build",
        help=f"run every stage: {', '.join(STAGE_COMMANDS)}",
        description="Run every stage in order; stages whose inputs did not change are skipped.",
    )
    _add_build_options(p, needs_sources=False, workers=any(s.uses_workers for s in all_stages()))
    p.add_argument(
        "--from",
        dest="from_stage",
        metavar="STAGE",
        choices=stage_names(),
        help="re-run STAGE and every stage after it even if up to date (one of: %(choices)s)",
    )
    p.set_defaults(func=cmd_stages, stages=None)

    for name, stages in commands.items():
        if not stages:
            text = "not available in this version yet"
            description = _sentence(text)
        elif len(stages) == 1:
            text = stages[0].help
            description = _sentence(text)
        else:
            text = "; ".join(s.help for s in stages)
            description = f"Runs the stages {' and '.join(s.name for s in stages)}. " + " ".join(
                f"{s.name}: {s.help}." for s in stages
            )
        p = sub.add_parser(name, help=text, description=description)
        _add_build_options(p, needs_sources=False, workers=any(s.uses_workers for s in stages))
        if name == "verify":
            p.add_argument(
                "--decode",
                action="store_true",
                help="also decode every JPEG in full (as slow as writing the shards); "
                "without it verify checks each JPEG's sha256 at disk speed",
            )
        p.set_defaults(func=cmd_stages, stages=STAGE_COMMANDS[name])

    p = sub.add_parser(
        "sample",
        help="write the bundled real-shaped sample source collection to DIR",
        description="Write a deterministic sample source collection (real taxa, real published formats, "
        "planted broken inputs) and its expected.json to DIR.",
    )
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "demo",
        help="write the sample collection and build it into a dataset",
        description="Write the sample to OUT/sources, build it into OUT/dataset, print a summary.",
    )
    p.add_argument("out", type=Path, nargs="?", default=Path("demo-out"))
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)

    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module).add_parsers(sub)
        except ModuleNotFoundError as exc:  # a package still being written
            if exc.name is None or not module.startswith(exc.name):
                raise
    return parser


# commands that can run on a read-only OUT: they read the build and record nothing there
READING_COMMANDS = frozenset({"verify"})


def _read_only(out: Path) -> bool:
    """OUT exists and this process cannot write it (permissions, or a read-only mount:
    access(2) says EROFS even to root)."""
    return out.is_dir() and not os.access(out, os.W_OK)


def _read_only_error(out: Path, command: str) -> TolError:
    return TolError(
        f"{out} is read-only: `tol {command}` writes there; make it writable or use another --out "
        f"(`tol verify` and `tol check-taxa` work on a read-only build)"
    )


@contextmanager
def open_build(args: argparse.Namespace):
    """Lock OUT, open its database, and settle the config (given now, or stored by an earlier run).

    A given config is read before anything is created, so a mistyped --sources leaves no
    empty build behind. A read-only OUT is opened for reading, without the lock (it cannot
    be taken there, and nothing can write such a build), by the commands that only read.
    """
    from treeoflife.stages import BuildContext

    out: Path = args.out.resolve()
    command = getattr(args, "command", "build")
    given = args.sources is not None or args.config is not None
    if not given and not (out / builddb.DB_NAME).exists():
        raise TolError(
            f"{out} has no build yet: pass --sources DIR (and optionally --config tol.toml)"
        )
    config = load_config(args.config, args.sources) if given else None
    read_only = _read_only(out)
    if read_only and command not in READING_COMMANDS:
        raise _read_only_error(out, command)
    with contextlib.nullcontext() if read_only else _locked(out, command):
        db = builddb.connect(out, create=given, read_only=read_only)
        ended_well = False
        try:
            stored = builddb.get_meta(db, "config")
            if config is not None:
                if read_only and stored != config.to_json():
                    raise _read_only_error(out, f"{command} --sources/--config")
                builddb.set_meta(db, "config", config.to_json())
            elif stored is None:
                raise TolError(
                    f"{out} has no recorded build (an earlier command stopped before it began): "
                    "pass --sources DIR (and optionally --config tol.toml)"
                )
            else:
                config = Config.from_json(stored)
                check_sources(config)
            workers = max(1, getattr(args, "workers", 1))  # only stages with workers take it
            progress = False if getattr(args, "no_progress", False) else None
            yield BuildContext(
                out=out,
                config=config,
                db=db,
                workers=workers,
                progress=progress,
                decode=getattr(args, "decode", False),
                read_only=read_only,
            )
            ended_well = True
        finally:
            if read_only:
                db.close()
            else:
                builddb.close(db, out, ended_well=ended_well)


@contextmanager
def _locked(out: Path, command: str) -> Iterator[None]:
    """OUT's lock, and the temporaries a killed run left at its top and in reports/ removed
    (the stages clean the shard and work folders they write)."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(builddb.build_lock(out))
        except OSError as exc:  # a lock file another user owns, a read-only mount
            if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
                raise _read_only_error(out, command) from None
            raise
        atomic.remove_strays(out)
        atomic.remove_strays(out / "reports")
        yield


def cmd_stages(args: argparse.Namespace) -> int:
    from treeoflife.stages import run_stages

    stages = [s for s in all_stages() if args.stages is None or s.name in args.stages]
    if not stages:
        raise TolError(f"`tol {args.command}` is not available in this version yet")
    names = [s.name for s in stages]
    with open_build(args) as ctx:
        if any(s.uses_workers for s in stages):
            distribute.check_reachable(ctx.config.distribute)
        # `tol verify` is a request to read every shard now (bit rot keeps size and mtime);
        # inside `tol build`, verify re-reads only when the shards changed
        force = args.force or args.command == "verify"
        summaries = run_stages(
            ctx, names, force=force, from_stage=getattr(args, "from_stage", None)
        )
    print_summary(args.out, summaries)
    return 0


def print_summary(out: Path, summaries: dict[str, dict]) -> None:
    """One screen: a line per stage, then what the dataset holds and what was set aside."""
    print(f"build: {out.resolve()}")
    for stage, summary in summaries.items():
        shown = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
        print(f"  {stage:<9} " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    splits = summaries.get("catalog", {}).get("splits")
    if splits:
        print("samples:  " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
    from treeoflife import rejects

    left_out = summaries.get("select", {}).get("rules")
    if left_out:
        print("left out by [select]: " + ", ".join(f"{k} {v}" for k, v in left_out.items()))
    rejected = {
        **summaries.get("scan", {}).get("rejects", {}),
        **summaries.get("filter", {}).get("rejects", {}),
    }
    if rejected:
        print(
            "set aside or repaired: "
            + ", ".join(f"{k} ({rejects.outcome(k)}) {v}" for k, v in sorted(rejected.items()))
        )


def cmd_sample(args: argparse.Namespace) -> int:
    from treeoflife.sample import write_sample

    summary = write_sample(args.dir)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from treeoflife.sample import write_sample

    sources = args.out / "sources"
    if not (sources / "expected.json").exists():
        print(f"writing the sample collection to {sources}", file=sys.stderr)
        write_sample(sources)
    build_args = argparse.Namespace(
        out=args.out / "dataset",
        sources=sources,
        config=None,
        workers=args.workers,
        force=False,
        no_progress=False,
        stages=None,
        command="build",
    )
    cmd_stages(build_args)
    print(
        f"\nsample sources: {sources.resolve()}\ndataset:        {(args.out / 'dataset').resolve()}"
    )
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, what batch schedulers send before they kill a job: raised in the driver like
    Ctrl-C, so the same clean-up runs (open transaction rolled back, temporaries removed)
    and the build resumes."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _database_problem(exc: sqlite3.DatabaseError, args: argparse.Namespace) -> TolError | None:
    """One line for a database error that is the file's or the disk's fault, not ours."""
    out = Path(getattr(args, "out", None) or ".").resolve()
    name = getattr(exc, "sqlite_errorname", "")
    if name in builddb.DAMAGED:
        return builddb.damaged(out / builddb.DB_NAME, exc)
    if name == "SQLITE_FULL":
        return atomic.no_space(out, f"the build database {builddb.DB_NAME}", None)
    if name in ("SQLITE_READONLY", "SQLITE_CANTOPEN") and _read_only(out):
        return _read_only_error(out, getattr(args, "command", "build"))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return args.func(args)
    except TolError as exc:
        print(f"tol: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("tol: terminated (SIGTERM); run the same command again to resume", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("tol: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except sqlite3.DatabaseError as exc:
        problem = _database_problem(exc, args)
        if problem is None:
            raise
        print(f"tol: error: {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        if not atomic.is_no_space(exc):
            raise
        where = Path(exc.filename).parent if exc.filename else Path(getattr(args, "out", "."))
        print(f"tol: error: {atomic.no_space(where, 'writing', None)}", file=sys.stderr)
        return 2
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
