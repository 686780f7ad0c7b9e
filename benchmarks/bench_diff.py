"""``tol diff`` on synthetic catalogs, run by hand: ``python benchmarks/bench_diff.py N [N2 ...]``.

For each N it writes two catalog.parquet files of N images in the catalog's real columns
and shape (ids in shuffled shard order, 95% train / 5% val, train_small rows repeating 10%
of train, seven ranks from ~N/100 taxa, 64-hex JPEG digests), the second with 1% of the
images removed, 1% added, 1% relabelled at species, 1% re-encoded and 1% moved to val;
then runs ``tol diff OLD NEW --out diff.parquet --json`` in a child process and prints its
CPU seconds (user + system), wall seconds and peak RSS, and checks the counts it printed
against the changes made. With two or more N it extrapolates CPU linearly to 10M images
(the work is a scan, a partition and per-part hash joins: linear in N; peak memory is one
part of each side, also linear in N / 16). The targets: ≤ 5 min and ≤ 2 GiB at 10M.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from treeoflife.columns import CATALOG_COLUMNS  # noqa: E402
from treeoflife.taxonomy.ranks import RANKS  # noqa: E402

CHUNK = 1_000_000
TARGET = 10_000_000


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> pa.Array:
    """n random hex strings of 2·nbytes characters, built as one Arrow buffer."""
    data = rng.bytes(n * nbytes).hex().encode()
    width = 2 * nbytes
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _ranks(taxon: np.ndarray) -> dict[str, pa.Array]:
    out = {}
    for k, rank in enumerate(RANKS):
        values = taxon // (10 ** (len(RANKS) - 1 - k)) if rank != "species" else taxon
        names = np.unique(values)
        dictionary = pa.array([f"{rank[:3]}{v}" for v in names])
        out[rank] = dictionary.take(pa.array(np.searchsorted(names, values)))
    return out


def _table(ids: pa.Array, taxon: np.ndarray, sha: pa.Array, split: np.ndarray) -> pa.Table:
    n = len(ids)
    cols: dict[str, pa.Array] = {c: pa.nulls(n, pa.string()) for c in CATALOG_COLUMNS}
    cols["split"] = pa.array(np.where(split == 1, "val", "train"))
    cols["treeoflife_id"] = ids
    cols.update(_ranks(taxon))
    cols["common"] = pa.array(np.full(n, "", dtype=object), pa.string())
    cols["image_sha256"] = sha
    table = pa.table(cols)
    small = table.filter(pa.array(split == 2))
    small = small.set_column(0, "split", pa.array(np.full(len(small), "train_small")))
    train = table.set_column(0, "split", pa.array(np.where(split == 1, "val", "train")))
    return pa.concat_tables([train, small])


def write_pair(n: int, folder: Path) -> dict[str, int]:
    """OLD and NEW catalogs of n images; the changes made, as tol diff should count them."""
    rng = np.random.default_rng(17)
    expected = dict.fromkeys(("added", "removed", "relabelled", "moved_split", "reencoded"), 0)
    schema = None
    writers: dict[str, pq.ParquetWriter] = {}
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        ids = _hex(rng, m, 18)
        taxon = rng.integers(0, max(n // 100, 10), m) + 10**6
        sha = _hex(rng, m, 32)
        split = rng.choice(3, m, p=[0.855, 0.05, 0.095])  # train, val, train+train_small
        change = rng.integers(0, 100, m)  # 0 removed, 1 relabelled, 2 reencoded, 3 moved
        old = _table(ids, taxon, sha, split)
        keep = change != 0
        new_taxon = np.where(change == 1, taxon + 1, taxon)
        new_sha = pa.array(np.where(change == 2, "0" * 64, sha.to_numpy(zero_copy_only=False)))
        moved = (change == 3) & (split != 1)
        new_split = np.where(moved, 1, split)
        added = m // 100
        new = pa.concat_tables(
            [
                _table(
                    ids.filter(pa.array(keep)),
                    new_taxon[keep],
                    new_sha.filter(pa.array(keep)),
                    new_split[keep],
                ),
                _table(
                    _hex(rng, added, 18),
                    rng.integers(0, max(n // 100, 10), added) + 10**6,
                    _hex(rng, added, 32),
                    np.zeros(added, dtype=int),
                ),
            ]
        )
        expected["removed"] += int((change == 0).sum())
        expected["relabelled"] += int((change == 1).sum())
        expected["reencoded"] += int((change == 2).sum())
        expected["moved_split"] += int(moved.sum())
        expected["added"] += added
        for name, table in (("old", old), ("new", new)):
            # shard order: shuffled, not by id
            table = table.take(pa.array(rng.permutation(len(table))))
            schema = schema or table.schema
            if name not in writers:
                writers[name] = pq.ParquetWriter(folder / name / "catalog.parquet", schema)
            writers[name].write_table(table.cast(schema), row_group_size=10_000)
    for w in writers.values():
        w.close()
    return expected


# the child measures itself, by VmHWM (its own address space's peak): Linux carries
# ru_maxrss across fork and exec, so it would include this process's ~1 GB of catalogs
_CHILD = """
import contextlib, io, json, resource, sys
from treeoflife.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    assert main(sys.argv[1:]) == 0
ru = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"counts": json.loads(buf.getvalue()), "cpu": ru.ru_utime + ru.ru_stime,
                  "rss_mib": int(hwm.split()[1]) / 1024}))
"""


def run_diff(folder: Path) -> tuple[dict, float, float, float]:
    """tol diff in a child: its counts, CPU s, wall s, peak RSS MiB."""
    started = time.monotonic()
    argv = ["diff", str(folder / "old"), str(folder / "new")]
    argv += ["--out", str(folder / "diff.parquet"), "--json"]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv], check=True, capture_output=True, text=True
    )
    wall = time.monotonic() - started
    got = json.loads(out.stdout)
    return got["counts"], got["cpu"], wall, got["rss_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", help="images per catalog")
    args = parser.parse_args()
    points = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
            folder = Path(tmp)
            for side in ("old", "new"):
                (folder / side).mkdir()
            t0 = time.monotonic()
            expected = write_pair(n, folder)
            size = sum(os.path.getsize(folder / s / "catalog.parquet") for s in ("old", "new"))
            print(
                f"{n:>11,} images: catalogs written in {time.monotonic() - t0:.0f} s ({size / 2**20:.0f} MiB)"
            )
            counts, cpu, wall, rss = run_diff(folder)
            got = {k: counts[k] for k in expected}
            ok = "counts as made" if got == expected else f"COUNTS DIFFER: {got} != {expected}"
            print(
                f"{'':>13} tol diff: {cpu:.1f} CPU s, {wall:.1f} s wall, peak RSS {rss:.0f} MiB; {ok}"
            )
            points.append((n, cpu, rss))
    if len(points) >= 2:
        (n1, c1, r1), (n2, c2, r2) = points[0], points[-1]
        slope = (c2 - c1) / (n2 - n1)
        cpu10 = c2 + slope * (TARGET - n2)
        rss10 = r2 + (r2 - r1) / (n2 - n1) * (TARGET - n2)
        print(
            f"extrapolated to {TARGET:,} images: {cpu10:.0f} CPU s ({cpu10 / 60:.1f} min), "
            f"peak RSS {rss10:.0f} MiB (targets: 300 s, 2048 MiB)"
        )


if __name__ == "__main__":
    main()
