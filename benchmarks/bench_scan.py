"""Scan throughput against the raw cost of reading the same inputs.

Writes a synthetic collection (EOL-style .tar.gz image sets and iNat21 class folders) to a
temporary directory, then times, on the same files:

- raw: ``gzip -dc`` of every image set piped to ``tar -t`` (decompress + list), plus a
  recursive listing (``find``) of the iNat21 folders;
- ``tol scan`` into a fresh build directory.

Prints images/s for both and the ratio. Run by hand: ``python benchmarks/bench_scan.py``.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from treeoflife.cli import main


def write_collection(root: Path, sets: int, per_set: int, classes: int, per_class: int) -> int:
    rng = np.random.default_rng(0)
    payload = [
        rng.integers(0, 256, size=int(s), dtype=np.uint8).tobytes()
        for s in rng.integers(150_000, 400_000, 16)
    ]
    n = 0
    for s in range(sets):
        path = root / "eol/images" / f"images_{s:02d}.tar.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:gz", compresslevel=1) as tar:
            for i in range(per_set):
                data = payload[(s * per_set + i) % len(payload)]
                info = tarfile.TarInfo(
                    f"{s * per_set + i + 1}_{1000 + i % 97}_eol-full-size-copy.jpg"
                )
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                n += 1
    for c in range(classes):
        folder = (
            root
            / "inat21/train"
            / f"{c:05d}_Animalia_Chordata_Aves_Order{c}_Family{c}_Genus{c}_species"
        )
        folder.mkdir(parents=True)
        for i in range(per_class):
            (folder / f"{c:05d}-{i:06d}.jpg").write_bytes(payload[i % len(payload)][:40_000])
            n += 1
    return n


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--per-set", type=int, default=500)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--per-class", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "src"
        n = write_collection(root, args.sets, args.per_set, args.classes, args.per_class)
        subprocess.run(["sync"], check=False)

        def raw() -> None:
            for p in sorted((root / "eol/images").glob("*.tar.gz")):
                subprocess.run(f"gzip -dc {p} | tar -t > /dev/null", shell=True, check=True)
            subprocess.run(
                ["find", str(root / "inat21"), "-type", "f"], check=True, stdout=subprocess.DEVNULL
            )

        raw()  # warm the page cache for both
        t_raw = timed(raw)
        t_scan = timed(
            lambda: main(
                ["scan", "--sources", str(root), "--out", str(Path(tmp) / "out"), "--no-progress"]
            )
        )
        print(f"images: {n}")
        print(f"raw gzip -dc | tar -t + find: {t_raw:.2f} s  ({n / t_raw:,.0f} images/s)")
        print(f"tol scan:                     {t_scan:.2f} s  ({n / t_scan:,.0f} images/s)")
        print(f"ratio tol scan / raw time:    {t_scan / t_raw:.2f}x")


if __name__ == "__main__":
    main_()
