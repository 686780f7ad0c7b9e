"""``tol publish OUT DEST``: a folder ready to upload as a Hugging Face dataset.

DEST gets the dataset card (``README.md``, whose ``configs`` name the shards by the same
relative paths), the shards of every split with their ``sizes.json``, ``catalog.csv``,
``catalog.parquet``, ``provenance.parquet``, ``croissant.json`` and
``reports/licenses.csv``. Files are hard-linked where the filesystem allows (instant, no
space), copied otherwise. DEST is assembled under a temporary name beside it and renamed
into place, so it is whole or absent.

It refuses, with one line saying why, to publish a build that is not finished and
verified (every stage recorded, every shard verified, nothing changed since), or whose
card says something the build contradicts about licenses: the card's ``license:`` or its
count of images without a known license differ from the database, or
``[filters] exclude_unknown_license`` is set while samples without a license remain.

The upload itself is the Hub's business (``huggingface-cli upload --repo-type dataset
<owner>/<name> DEST .``); nothing here touches the network.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from treeoflife import builddb, licenses
from treeoflife.config import Config
from treeoflife.errors import TolError
from treeoflife.reports import card, croissant
from treeoflife.stages import BuildContext, all_stages, changed_outputs
from treeoflife.stages.catalog import PROVENANCE
from treeoflife.stages.report import license_counts

# besides the shards: what a published dataset holds, relative to OUT and to DEST
FILES = (
    "README.md",
    croissant.NAME,
    "catalog.csv",
    "catalog.parquet",
    PROVENANCE,
    "reports/licenses.csv",
)
# errors that mean "this filesystem cannot hard-link here": copy instead
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}


def check_publishable(out: Path, db: sqlite3.Connection, config: Config) -> None:
    """Refuse (TolError) a build that is not finished and verified, or whose card
    contradicts what the build knows of licenses."""
    ctx = BuildContext(out=out, config=config, db=db, log=lambda msg: None)
    for stage in all_stages():
        if builddb.stage_fingerprint(db, stage.name) is None:
            raise TolError(
                f"{out} is not finished: stage {stage.name} has not run (or failed); "
                f"run `tol build --out {out}` and let `tol verify` pass before publishing"
            )
        changed = changed_outputs(ctx, stage.name)
        if changed:
            raise TolError(
                f"{out}/{changed[0]} changed since {stage.name} wrote it; "
                f"run `tol build --out {out}` again before publishing"
            )
    (unverified,) = db.execute("SELECT COUNT(*) FROM shards WHERE status != 'done'").fetchone()
    if unverified:
        raise TolError(
            f"{unverified} shards of {out} have not passed `tol verify`; run `tol verify --out {out}`"
        )
    for name, size in db.execute("SELECT name, bytes FROM shards"):
        path = out / name
        if not path.is_file() or path.stat().st_size != size:
            raise TolError(
                f"{path} is missing or not the shard verify checked; run `tol verify --out {out}`"
            )
    _check_licenses(out, db, config)


def _check_licenses(out: Path, db: sqlite3.Connection, config: Config) -> None:
    counts = license_counts(db)
    unknown = sum(counts.get(licenses.UNKNOWN, {}).values())
    if config.filters.exclude_unknown_license and unknown:
        raise TolError(
            f"[filters] exclude_unknown_license is set, but {unknown} samples of {out} have no "
            "known license; run `tol build` again so the filter drops them"
        )
    summary = builddb.stage_summary(db, "report") or {}
    if summary.get("unknown_license") != unknown:
        raise TolError(
            f"the card of {out} counts {summary.get('unknown_license')} samples without a known "
            f"license, the build {unknown}; run `tol report --out {out} --force`"
        )
    want = card.hub_license({c: sum(per.values()) for c, per in counts.items()})
    said = _card_license(out / "README.md")
    if said != want:
        raise TolError(
            f"the card of {out} says `license: {said}`, but its samples' licenses make it "
            f"`{want}`; run `tol report --out {out} --force`"
        )


def _card_license(path: Path) -> str | None:
    """The ``license:`` of a card's front matter."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != "---":
        return None
    for line in lines[1:]:
        if line == "---":
            break
        if line.startswith("license:"):
            return line.split(":", 1)[1].strip()
    return None


def _place(src: Path, dst: Path, counts: dict[str, int]) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        counts["linked"] += 1
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copy2(src, dst)
        counts["copied"] += 1


def publish(out: Path, dest: Path) -> dict[str, Any]:
    """Assemble DEST from the finished build OUT (see the module); return what it did."""
    out, dest = Path(out).resolve(), Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TolError(f"{dest} exists and is not an empty folder; publish into a new one")
    if dest == out or out in dest.parents:
        raise TolError(f"{dest} is inside the build {out}; publish somewhere else")
    # a build running on OUT meanwhile would change what is checked: hold its lock
    lock = builddb.build_lock(out) if os.access(out, os.W_OK) else contextlib.nullcontext()
    with lock:
        db = builddb.connect(out, read_only=True)
        try:
            stored = builddb.get_meta(db, "config")
            config = Config.from_json(stored) if stored else Config()
            check_publishable(out, db, config)
            shards = [name for (name,) in db.execute("SELECT name FROM shards ORDER BY name")]
        finally:
            db.close()
        return _assemble(out, dest, shards)


def _assemble(out: Path, dest: Path, shards: list[str]) -> dict[str, Any]:
    folders = sorted({str(Path(name).parent) for name in shards})
    sizes = [f"{f}/sizes.json" for f in folders if (out / f / "sizes.json").is_file()]
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = {"linked": 0, "copied": 0}
    try:
        for rel in (*FILES, *sizes, *shards):
            _place(out / rel, tmp / rel, counts)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"dest": str(dest), "files": counts["linked"] + counts["copied"], **counts}


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "publish",
        help="assemble a verified build into a folder ready to upload as a Hugging Face dataset",
        description="Hard-link (or copy) the card, shards, catalog, provenance, croissant.json and "
        "licenses of a finished, verified build OUT into DEST, in the layout the card's configs "
        "name. Refuses a build that is not verified or whose card contradicts its licenses. "
        "Upload with `huggingface-cli upload --repo-type dataset <owner>/<name> DEST .`",
    )
    p.add_argument("out", type=Path, help="the build folder (tol build --out)")
    p.add_argument("dest", type=Path, help="a new or empty folder")
    p.set_defaults(func=cmd_publish)


def cmd_publish(args: argparse.Namespace) -> int:
    result = publish(args.out, args.dest)
    print(
        f"publish: {result['files']} files in {result['dest']} ({result['linked']} hard-linked, "
        f"{result['copied']} copied); upload with "
        f"`huggingface-cli upload --repo-type dataset <owner>/<name> {result['dest']} .`"
    )
    return 0
