"""The non-image stages measured at N itself (10M by default), run by hand:
``python benchmarks/bench_at_scale.py [N] --workdir DIR``.

``bench_build.py`` measures every stage at two sizes and draws a line to 10M; a line from
1M and 2M multiplies the noise of two runs by eight, and cannot show a cost that only
appears at scale (glibc maps arrays above its mmap threshold, a page cache outgrown).
A real 10M build costs ~50 minutes of codec work in the image pass and ~160 GB of shards
(the bench's 64×48 pictures: 16 GB at 1M, twelve tar members of 512-byte blocks a
sample), so this measures the rest at 10M:

- the collection is ``bench_build``'s at N, in the same layouts and with the same names,
  species (N/20, Zipf counts), sources, duplicates and holdout lists, only the image files
  hold a few random bytes instead of a JPEG (``Placeholders``);
- the image pass is the real scan (enumeration, archives inflated, every file read and
  hashed, work files written, the driver identifying and recording every image) with the
  codec stood in (``standin_codec``: a good 64×48 picture made from the bytes, no decode);
- resolve, filter, cluster, split, select, dedup, plan, catalog and report run as they
  are, in one ``tol build`` process, as a user runs them;
- write and verify are stood in: every planned shard is recorded written and verified (no
  tar is written; catalog and report read only the database).

Per stage it prints its own seconds (as it recorded them), the RSS it started on and its
own peak (``stage_peaks``), and the peak of the largest worker; then the non-image stages'
total against the 15-minute target, the largest peak against 2 GiB, the database's size,
and a no-op ``tol build``. ``--json`` writes the figures. Nothing is extrapolated.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import bench_build
import stage_peaks
from bench_build import MEMORY_TARGET, MIB, TARGET_SECONDS

STOOD_IN = ("write", "verify")
NOT_MEASURED = {"scan", *STOOD_IN}  # image work: stood in, or its codec is
CHILD = "--build-in-this-process"


class Placeholders(bench_build.Jpegs):
    """``Jpegs`` with a few random bytes for each new picture (duplicates repeat one, as
    there): the names and their order are the same as a real collection's, the pictures
    are never decoded."""

    def picture(self) -> bytes:
        return b"\xff\xd8\xff\xe0" + self.rng.bytes(44)


def _recorded_shards(stage: object) -> object:
    """``write`` stood in: every planned shard recorded as written, with its planned size."""

    def run(ctx):  # noqa: ANN001, ANN202
        with ctx.db:
            ctx.db.execute(
                "UPDATE shards SET status = 'done', samples = planned, bytes = est_bytes, "
                "sha256 = digest, problem = ''"
            )
        n = ctx.db.execute("SELECT COUNT(*), SUM(planned) FROM shards").fetchone()
        ctx.log(f"{stage.name}: stood in: {n[0]} shards recorded as written ({n[1]} samples)")
        return {"stood_in": True, "shards": n[0], "samples": n[1]}

    return dataclasses.replace(stage, run=run, outputs=lambda ctx: [])


def _verified(stage: object) -> object:
    def run(ctx):  # noqa: ANN001, ANN202
        n = ctx.db.execute("SELECT COUNT(*), SUM(samples) FROM shards").fetchone()
        ctx.log(f"{stage.name}: stood in: {n[0]} shards taken as verified")
        return {"stood_in": True, "shards": n[0], "samples": n[1], "bad": 0, "decoded": False}

    return dataclasses.replace(stage, run=run, outputs=lambda ctx: [])


def run_build(tol_args: list[str]) -> int:
    """In the build's own process: the codec, write and verify stood in, each stage's peak
    printed (stage_peaks), then ``tol`` with ``tol_args``."""
    import standin_codec
    from treeoflife import cli

    standin_codec.install()
    standins = {"write": _recorded_shards, "verify": _verified}
    stage_peaks.install(
        lambda stage: standins[stage.name](stage) if stage.name in standins else stage
    )
    return cli.main(tol_args)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("n", type=int, nargs="?", default=10_000_000, metavar="N")
    ap.add_argument("--workdir", type=Path, required=True, help="kept; its references reused")
    ap.add_argument("--dh-rows", type=int, default=2_500_000, help="as bench_build's")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--zipf", type=float, default=1.0)
    ap.add_argument("--duplicates", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument(
        "--rebuild", action="store_true", help="build again from scratch (the collection kept)"
    )
    ap.add_argument("--collection-only", action="store_true", help="write the collection, stop")
    args = ap.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    refs = work / f"refs-{args.dh_rows}"
    species_file = bench_build.write_references(refs, args.dh_rows)
    print(f"references in {refs} ({time.monotonic() - t0:.0f} s)", flush=True)
    base = work / f"n{args.n}-seed{args.seed}-placeholders"
    src, out, logs = base / "sources", base / "out", base / "logs"
    if not (base / "collection.json").is_file():
        shutil.rmtree(base, ignore_errors=True)
        bench_build.Jpegs = Placeholders  # write_collection makes its pictures with it
        col = bench_build.write_collection(src, refs, species_file, args.n, args)
        (base / "collection.json").write_text(json.dumps(asdict(col)))
    col = bench_build.Collection(**json.loads((base / "collection.json").read_text()))
    print(
        f"N = {args.n:,}: {col.species:,} species; EOL {col.counts['eol']:,} in {col.eol_sets}"
        f" sets, iNat21 {col.counts['inat21']:,} in {col.inat_classes:,} classes, BIOSCAN"
        f" {col.counts['bioscan']:,}; written in {col.seconds:.0f} s",
        flush=True,
    )
    if args.collection_only:
        return
    logs.mkdir(parents=True, exist_ok=True)
    config = base / "tol.toml"
    config.write_text(bench_build.CONFIG)
    if args.rebuild:
        shutil.rmtree(out, ignore_errors=True)
    child = [sys.executable, str(Path(__file__).resolve()), CHILD]
    common = ["--out", str(out), "--no-progress", "--workers", str(args.workers)]
    build_cmd = [*child, "build", "--sources", str(src), "--config", str(config), *common]
    subprocess.run(["sync"], check=False)
    run = bench_build.measured(build_cmd, logs / "build.log")
    text = (logs / "build.log").read_text(errors="replace")
    if run.returncode != 0:
        print(text[-3000:])
        raise SystemExit(f"the build failed (exit {run.returncode}); log: {logs / 'build.log'}")
    peaks, starts = stage_peaks.parse(text), stage_peaks.parse(text, stage_peaks.START)
    cpu_ms = stage_peaks.parse(text, stage_peaks.CPU, unit=1)
    seconds = bench_build.in_stage_seconds(out)
    noop = bench_build.measured([*child, "build", *common], logs / "noop.log")

    print(f"\n{'stage':<9} {'own s':>8} {'cpu s':>8} {'started on MiB':>15} {'peak MiB':>9}")
    rows = []
    for name, peak in peaks.items():
        note = " (stood in)" if name in STOOD_IN else " (codec stood in)" if name == "scan" else ""
        cpu = cpu_ms.get(name, 0) / 1000
        rows.append(
            {
                "stage": name,
                "seconds": seconds.get(name),
                "cpu": cpu,
                "start": starts.get(name),
                "peak": peak,
            }
        )
        print(
            f"{name:<9} {seconds.get(name) or 0:8.1f} {cpu:8.1f} {starts.get(name, 0) / MIB:15.0f}"
            f" {peak / MIB:9.0f}{note}"
        )
    measured_rows = [r for r in rows if r["stage"] not in NOT_MEASURED]
    total = sum(r["seconds"] or 0 for r in measured_rows)
    largest = max(measured_rows, key=lambda r: r["peak"])
    summary = {
        "n": args.n,
        "collection": asdict(col),
        "stages": rows,
        "build": asdict(run),
        "noop": asdict(noop),
        "db_bytes": bench_build.db_size(out),
        "non_image_seconds": total,
        "largest_peak": largest,
    }
    print(
        f"\nnon-image stages at N = {args.n:,}: {total:.0f} s = {total / TARGET_SECONDS:.2f}x"
        f" the {TARGET_SECONDS // 60}-minute target\n"
        f"largest peak of a non-image stage: {largest['peak'] / MIB:,.0f} MiB ({largest['stage']})"
        f" = {largest['peak'] / MEMORY_TARGET:.2f}x 2 GiB; the build process's peak"
        f" {run.driver_peak / MIB:,.0f} MiB, its largest worker {run.worker_peak / MIB:,.0f} MiB\n"
        f"build.sqlite {summary['db_bytes'] / 1e9:.2f} GB; whole build {run.wall:.0f} s wall;"
        f" a no-op tol build {noop.wall:.2f} s (exit {noop.returncode})"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD]:  # the build itself, in a process of its own
        sys.exit(run_build(sys.argv[2:]))
    main()
