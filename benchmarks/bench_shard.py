"""Shard-writing speed, run by hand: ``python benchmarks/bench_shard.py [--large N] [--small N]``.

On the same generated EOL-like images (3000×2000 photo-like JPEGs, and ~500×375 ones),
packed as EOL ``.tar.gz`` image sets, it times:

- reference: the reference's way (PIL open, bicubic resize without draft, save q100);
- raw loop: our decode→resize→encode (``process_image``) over in-memory bytes, one core;
- ``tol shard`` (plan + write, from the archives to finished shards) with 1 and 2 workers,
  on the same archives, timed end to end (plan + both write phases, including starting
  the worker pool) inside this process, like the raw loop.

A handful of distinct photos are generated and repeated under different names (decode
cost does not depend on whether bytes repeat), so the default run is long enough (240
large images) that fixed costs do not dominate, without minutes of generation.

Prints images/s and the ratios the targets are stated in (one worker ≥ 0.85× raw loop,
two workers ≥ 1.7× one, ≥ 4× the reference). No assertions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.images import ImageSpec, process_image
from treeoflife.taxonomy.ranks import RANKS


def photo_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """Photo-like: smooth low-frequency structure upscaled, plus sensor-like noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 255, (h // 50 + 2, w // 50 + 2, 3), dtype=np.uint8)
    im = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    arr = np.asarray(im, dtype=np.int16) + rng.normal(0, 6, (h, w, 3)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def reference_way(data: bytes) -> bytes:
    im = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=100)
    return buf.getvalue()


def rate(fn, items: list[bytes]) -> float:
    start = time.perf_counter()
    for data in items:
        fn(data)
    return len(items) / (time.perf_counter() - start)


def write_sources(root: Path, images: list[bytes], archives: int = 4) -> None:
    folder = root / "eol" / "images"
    folder.mkdir(parents=True)
    for a in range(archives):
        with tarfile.open(folder / f"set_{a:02d}.tar.gz", "w:gz", compresslevel=1) as tar:
            for i in range(a, len(images), archives):
                info = tarfile.TarInfo(f"{10_000 + i}_{1 + i % 50}_eol-full-size-copy.jpg")
                info.size = len(images[i])
                tar.addfile(info, io.BytesIO(images[i]))


def fill_taxa(out: Path) -> None:
    db = builddb.connect(out)
    rows = [
        (
            k,
            "Animalia",
            "Chordata",
            "Aves",
            "Passeriformes",
            "Paridae",
            "Parus",
            f"sp{n}",
            "",
            "resolved",
            "{}",
        )
        for n, (k,) in enumerate(db.execute("SELECT label_key FROM labels"))
    ]
    with builddb.transaction(db):
        db.execute("DELETE FROM taxa")
        db.execute("DELETE FROM holdout")
        db.executemany(f"INSERT INTO taxa VALUES ({', '.join('?' * (4 + len(RANKS)))})", rows)
    db.close()


def tol_shard_rate(src: Path, workers: int, tmp: Path) -> float:
    out = tmp / f"out{workers}"
    args = ["--out", str(out), "--workers", str(workers), "--no-progress"]
    main(["scan", *args, "--sources", str(src)])
    main(["split", *args])
    if main(["resolve", *args]) != 0:
        raise SystemExit("resolve failed")
    fill_taxa(out)
    start = time.perf_counter()
    main(["shard", *args, "--force"])
    seconds = time.perf_counter() - start
    planned = (
        builddb.connect(out)
        .execute("SELECT COUNT(DISTINCT treeoflife_id) FROM shard_plan")
        .fetchone()[0]
    )
    return planned / seconds


def bench(label: str, images: list[bytes], tmp: Path) -> dict[str, float]:
    spec = ImageSpec()
    ref = rate(reference_way, images)
    raw = rate(lambda d: process_image(d, "x.jpg", spec), images)
    src = tmp / label / "src"
    write_sources(src, images)
    one = tol_shard_rate(src, 1, tmp / label)
    two = tol_shard_rate(src, 2, tmp / label)
    res = {
        "reference": ref,
        "raw_loop": raw,
        "tol_shard_1": one,
        "tol_shard_2": two,
        "one_vs_raw": one / raw,
        "two_vs_one": two / one,
        "one_vs_reference": one / ref,
    }
    print(f"\n{label}: {len(images)} images")
    print(f"  reference (no draft, q100): {ref:8.1f} img/s")
    print(f"  raw loop, one core:         {raw:8.1f} img/s")
    print(
        f"  tol shard, 1 worker:        {one:8.1f} img/s   = {one / raw:.2f}× raw loop, {one / ref:.2f}× reference"
    )
    print(f"  tol shard, 2 workers:       {two:8.1f} img/s   = {two / one:.2f}× one worker")
    return res


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", type=int, default=240, help="3000×2000 images")
    ap.add_argument("--small", type=int, default=2000, help="500×375 images")
    ap.add_argument("--distinct", type=int, default=12, help="distinct photos of each size")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; generating images…")
    large_set = [photo_jpeg(i, (3000, 2000)) for i in range(args.distinct)]
    small_set = [photo_jpeg(10_000 + i, (500, 375)) for i in range(args.distinct)]
    large = [large_set[i % len(large_set)] for i in range(args.large)]
    small = [small_set[i % len(small_set)] for i in range(args.small)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["3000x2000"] = bench("3000x2000", large, Path(tmp))
        results["500x375"] = bench("500x375", small, Path(tmp))
    print(
        json.dumps(
            {k: {m: round(v, 2) for m, v in r.items()} for k, r in results.items()}, indent=1
        )
    )


if __name__ == "__main__":
    run()
