"""Image-step and shard-writing speed, run by hand: ``python benchmarks/bench_shard.py``.

Part 1, the codec (``--codec-only`` runs just this; CPU seconds, one core): at 500×375,
800×600 and 3000×2000, for every resize mode, the images per second of

- ours: ``process_image`` with ``ImageSpec(resize=mode)``;
- the fastest wheels-only loop we know (PERF-NOTES.md): simplejpeg decode at the largest
  power-of-2 DCT scale keeping both sides ≥ what the mode needs, ``cv2.resize(INTER_AREA)``,
  simplejpeg encode q95 4:2:0 — the same geometry as ours (target ≥ 0.9×);
- the reference's way (PIL open, bicubic stretch without draft, save q100; target ≥ 4×;
  at 500×375 and 800×600 the fastest loop itself is only ~1.5–3× it: an image less than
  twice the target per side decodes at 1/1 or 1/2, and that decode is most of both costs),

and the mean PSNR, on photo-like images, of ours, of the loop and of the previous
release's path (Pillow draft + bicubic + Pillow encode) against a reference resize of the
same geometry (full decode, Pillow LANCZOS, no draft): ours may trail the previous path by
at most 0.3 dB.

Part 2, builds (``--builds-only``): on the same generated EOL-like images (3000×2000
photo-like JPEGs, and ~500×375 ones) it times:

- reference: the reference's way (PIL open, bicubic resize without draft, save q100);
- raw loop: our decode→resize→encode (``process_image``) over in-memory bytes, one core;
  and the same in two processes at once (the most two cores of this machine give);
- inflate: reading the same images out of EOL ``.tar.gz`` image sets, nothing else;
- ``tol scan`` + ``tol shard`` (the image pass, plan and assembly: from the sources to
  finished shards) with 1 and 2 workers, timed end to end (including starting the worker
  pools) inside this process, like the raw loop; once with the images packed as EOL ``.tar.gz`` sets,
  once as loose files in iNat21 class folders (BIOSCAN and iNat21 ship loose JPEGs).

Every figure is the best of ``--repeat`` runs (as ``timeit`` does): these machines are
virtual and a neighbour's load only ever makes a run slower.

Why both layouts: a gzip stream inflates only front to back, so one worker reads ahead on a
thread of its own, hiding the inflate on the second core. Two workers on two cores cannot
hide it: from ``.tar.gz`` they reach at most 2 / (1 + t_inflate / t_decode) times a
one-worker run that hides inflate completely; the benchmark prints that ceiling from its
own measurements. Loose files cost no inflate and show the pool's own scaling.

The photos: smooth structure plus sensor-like noise, at ~1.7 bits per pixel, the density
PERF-NOTES.md measured on real photographs (our raw loop then runs at the rate it gives
for Pillow with draft). A handful of distinct photos are repeated under different names
(decode cost does not depend on whether bytes repeat), so the default run is long enough
(240 large images) that fixed costs do not dominate, without minutes of generation.

Prints images/s and the ratios the targets are stated in (one worker ≥ 0.85× raw loop,
two workers ≥ 1.7× one, ≥ 4× the reference). No assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import shutil
import tarfile
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.images import ImageSpec, geometry, process_image
from treeoflife.sample import photos
from treeoflife.sources.base import iter_tar, list_archives
from treeoflife.taxonomy.ranks import RANKS


def photo_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """Photo-like: smooth low-frequency structure upscaled, plus sensor-like noise (σ = 5
    gives ~1.7 bits per pixel at quality 90, like real photographs)."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 255, (h // 50 + 2, w // 50 + 2, 3), dtype=np.uint8)
    im = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    arr = np.asarray(im, dtype=np.int16) + rng.normal(0, 5, (h, w, 3)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def reference_way(data: bytes) -> bytes:
    im = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=100)
    return buf.getvalue()


def best_rate(count: int, run, repeat: int) -> float:
    """Items per second of the fastest of ``repeat`` calls of ``run()``, which returns the
    seconds it took."""
    return count / min(run() for _ in range(repeat))


def loop_seconds(fn, items: list) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def raw_image(data: bytes) -> object:
    """Our decode→resize→encode of one image (module level: the two-process run pickles it)."""
    return process_image(data, "x.jpg", ImageSpec())


def raw_loop_seconds(items: list[bytes]) -> float:
    return loop_seconds(raw_image, items)


def two_process_raw_rate(items: list[bytes], repeat: int) -> float:
    """The raw loop in two processes at once, each on half the images: what two cores of
    this machine give when nothing is shared (timed inside the processes, no start-up)."""
    halves = [items[0::2], items[1::2]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return best_rate(len(items), lambda: max(pool.map(raw_loop_seconds, halves)), repeat)


def write_sources(root: Path, images: list[bytes], archives: int = 4) -> None:
    folder = root / "eol" / "images"
    folder.mkdir(parents=True)
    for a in range(archives):
        with tarfile.open(folder / f"set_{a:02d}.tar.gz", "w:gz", compresslevel=1) as tar:
            for i in range(a, len(images), archives):
                info = tarfile.TarInfo(f"{10_000 + i}_{1 + i % 50}_eol-full-size-copy.jpg")
                info.size = len(images[i])
                tar.addfile(info, io.BytesIO(images[i]))


def write_loose_sources(root: Path, images: list[bytes], classes: int = 4) -> None:
    for i, data in enumerate(images):
        folder = root / "inat21" / "train" / f"{i % classes:05d}_Animalia_Chordata_Aves_A_B_C_d"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:06d}.jpg").write_bytes(data)


def inflate_rate(src: Path, count: int, repeat: int) -> float:
    archives = list_archives(src / "eol" / "images")
    read_all = partial(loop_seconds, lambda p: sum(1 for _ in iter_tar(p, read=True)), archives)
    return best_rate(count, read_all, repeat)


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


def tol_image_seconds(src: Path, workers: int, out: Path) -> float:
    """Seconds of the image work of a fresh build of ``src``: ``tol scan`` (the image pass:
    every source read, decoded and encoded once) plus ``tol shard`` (plan and assembly);
    resolve, split and select run between them, untimed."""
    shutil.rmtree(out, ignore_errors=True)
    args = ["--out", str(out), "--no-progress"]
    # the photos repeat a few distinct pictures: keep every copy, so every image is written
    config = out.parent / f"{out.name}.tol.toml"
    config.write_text('[dedup]\nkeep = "all"\n')
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        os.sync()
        start = time.perf_counter()
        main(
            [
                "scan",
                *args,
                "--sources",
                str(src),
                "--config",
                str(config),
                "--workers",
                str(workers),
            ]
        )
        scan_seconds = time.perf_counter() - start
        if main(["resolve", *args]) != 0:
            raise SystemExit("resolve failed")
        fill_taxa(out)
        main(["split", *args])
        main(["select", *args])
        os.sync()  # nothing of the setup left to write back while timing
        start = time.perf_counter()
        status = main(["shard", *args, "--workers", str(workers)])
        seconds = scan_seconds + time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"tol shard failed in {out}")
    return seconds


def bench(label: str, images: list[bytes], tmp: Path, repeat: int) -> dict[str, float]:
    n = len(images)
    # the reference is slow and steady: a quarter of the images give its rate
    quarter = images[: max(1, n // 4)]
    ref = best_rate(len(quarter), partial(loop_seconds, reference_way, quarter), repeat)
    raw = best_rate(n, partial(raw_loop_seconds, images), repeat)
    raw2 = two_process_raw_rate(images, repeat)
    gz, loose = tmp / label / "gz", tmp / label / "loose"
    write_sources(gz / "src", images)
    write_loose_sources(loose / "src", images)
    inflate = inflate_rate(gz / "src", n, repeat)
    res = {"reference": ref, "raw_loop": raw, "raw_loop_2": raw2, "inflate": inflate}
    print(f"\n{label}: {n} images, best of {repeat}")
    print(f"  reference (no draft, q100): {ref:8.1f} img/s")
    print(f"  raw loop, one core:         {raw:8.1f} img/s   = {raw / ref:.2f}× reference")
    print(
        f"  raw loop, two processes:    {raw2:8.1f} img/s   = {raw2 / raw:.2f}× one (the machine's own scaling)"
    )
    print(f"  inflate .tar.gz, one core:  {inflate:8.1f} img/s")
    for layout, where in (("tar.gz", gz), ("loose", loose)):
        one, two = (
            best_rate(n, partial(tol_image_seconds, where / "src", w, where / "out"), repeat)
            for w in (1, 2)
        )
        res |= {
            f"{layout}_tol_shard_1": one,
            f"{layout}_tol_shard_2": two,
            f"{layout}_one_vs_raw": one / raw,
            f"{layout}_two_vs_one": two / one,
            f"{layout}_one_vs_reference": one / ref,
        }
        print(f"  {layout} sources")
        print(
            f"    scan + shard, 1 worker:   {one:8.1f} img/s   = {one / raw:.2f}× raw loop, {one / ref:.2f}× reference"
        )
        print(
            f"    scan + shard, 2 workers:  {two:8.1f} img/s   = {two / one:.2f}× one worker, {two / raw2:.2f}× raw loop in two processes"
        )
    res["tar.gz_two_vs_one_ceiling"] = 2 / (1 + raw / inflate)
    print(
        "  ceiling of 2 workers vs 1 from .tar.gz on 2 cores, 2 / (1 + t_inflate / t_decode): "
        f"{res['tar.gz_two_vs_one_ceiling']:.2f}×"
    )
    return res


# ---- part 1: the codec -------------------------------------------------------------------

CODEC_SIZES = ((500, 375), (800, 600), (3000, 2000))


def fastest_loop(data: bytes, spec: ImageSpec) -> bytes:
    """The fastest wheels-only decode→resize→encode we know, with our geometry."""
    import cv2
    import simplejpeg

    height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    plan = geometry.plan(width, height, spec.width, spec.height, spec.resize)
    k = geometry.dct_scale(width, height, plan.min_decode)
    arr = simplejpeg.decode_jpeg(data, min_width=-(-width // k), min_height=-(-height // k))
    h, w = arr.shape[:2]
    x0, y0, x1, y1 = plan.box
    arr = arr[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
    out = cv2.resize(arr, plan.scaled, interpolation=cv2.INTER_AREA)
    if plan.canvas is not None:
        canvas = np.full((plan.canvas[1], plan.canvas[0], 3), 255, np.uint8)
        ox, oy = plan.offset
        canvas[oy : oy + out.shape[0], ox : ox + out.shape[1]] = out
        out = canvas
    return simplejpeg.encode_jpeg(out, spec.quality, colorsubsampling="420")


def _pillow_resize(data: bytes, spec: ImageSpec, draft: bool, resample) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    plan = geometry.plan(*im.size, spec.width, spec.height, spec.resize)
    if draft:
        im.draft("RGB", plan.min_decode)
    im = im.convert("RGB")
    w, h = im.size
    x0, y0, x1, y1 = plan.box
    out = im.resize(plan.scaled, resample, box=(x0 * w, y0 * h, x1 * w, y1 * h))
    if plan.canvas is not None:
        canvas = Image.new("RGB", plan.canvas, (255, 255, 255))
        canvas.paste(out, plan.offset)
        out = canvas
    return out


def previous_path(data: bytes, spec: ImageSpec) -> bytes:
    """``process_image`` of the release before the fast path: Pillow with draft, one
    bicubic pass, Pillow's encoder (what our PSNR may not fall below by > 0.3 dB)."""
    buf = io.BytesIO()
    _pillow_resize(data, spec, True, Image.Resampling.BICUBIC).save(
        buf, "JPEG", quality=spec.quality, subsampling="4:2:0"
    )
    return buf.getvalue()


def reference_resize(data: bytes, spec: ImageSpec) -> np.ndarray:
    """The quality yardstick: full decode, Pillow LANCZOS, no draft, not encoded."""
    return np.asarray(_pillow_resize(data, spec, False, Image.Resampling.LANCZOS), np.float64)


def psnr(jpeg: bytes, reference: np.ndarray) -> float:
    out = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), np.float64)
    return float(10 * np.log10(255.0**2 / np.mean((out - reference) ** 2)))


def codec_photos(size: tuple[int, int], distinct: int) -> list[bytes]:
    """Half noisy photo-like images (σ 5), half the sample's pictures (smoother, σ 3)."""
    half = max(1, distinct // 2)
    return [photo_jpeg(20_000 + i, size) for i in range(half)] + [
        photos.photo_jpeg(30_000 + i, *size) for i in range(half)
    ]


def cpu_rates(fns: dict[str, object], items: list[bytes], repeat: int) -> dict[str, float]:
    """Images per CPU second of each function, the best of ``repeat`` rounds; the
    functions take turns within a round, so a neighbour's load hits them alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.process_time()
            for data in items:
                fn(data)
            best[name] = min(best[name], time.process_time() - start)
    return {name: len(items) / max(seconds, 1e-9) for name, seconds in best.items()}


def codec_bench(distinct: int, repeat: int, count: dict[tuple[int, int], int]) -> dict:
    import cv2

    cv2.setNumThreads(1)  # one core, as ours runs (images/resample.py)
    results = {}
    print("\ncodec, one core (CPU s), best of", repeat, "rounds")
    print(
        f"  {'size':>9} {'mode':>11} {'ours':>7} {'loop':>7} {'ref':>6}"
        f" {'ours/loop':>9} {'ours/ref':>8}  PSNR dB: {'ours':>5} {'prev':>5} {'loop':>5}"
        f" {'ours-prev':>9}"
    )
    for size in CODEC_SIZES:
        distinct_set = codec_photos(size, distinct)
        items = [distinct_set[i % len(distinct_set)] for i in range(count[size])]
        ref_items = items[: max(2, len(items) // 4)]  # the reference is slow and steady
        ref_rate = cpu_rates({"ref": reference_way}, ref_items, repeat)["ref"]
        for mode in geometry.MODES:
            spec = ImageSpec(resize=mode)
            rates = cpu_rates(
                {
                    "ours": partial(process_image, name="x.jpg", spec=spec),
                    "loop": partial(fastest_loop, spec=spec),
                },
                items,
                repeat,
            )
            refs = [reference_resize(d, spec) for d in distinct_set]
            quality = {
                name: float(
                    np.mean([psnr(fn(d), r) for d, r in zip(distinct_set, refs, strict=True)])
                )
                for name, fn in (
                    ("ours", lambda d, s=spec: process_image(d, "x.jpg", s).jpeg),
                    ("prev", partial(previous_path, spec=spec)),
                    ("loop", partial(fastest_loop, spec=spec)),
                )
            }
            row = {
                "ours": rates["ours"],
                "loop": rates["loop"],
                "reference": ref_rate,
                "ours_vs_loop": rates["ours"] / rates["loop"],
                "ours_vs_reference": rates["ours"] / ref_rate,
                **{f"psnr_{k}": v for k, v in quality.items()},
                "psnr_ours_minus_prev": quality["ours"] - quality["prev"],
            }
            results[f"{size[0]}x{size[1]}_{mode}"] = row
            print(
                f"  {size[0]:>4}x{size[1]:<4} {mode:>11} {row['ours']:7.1f} {row['loop']:7.1f}"
                f" {ref_rate:6.1f} {row['ours_vs_loop']:8.2f}× {row['ours_vs_reference']:7.2f}×"
                f"           {quality['ours']:5.2f} {quality['prev']:5.2f} {quality['loop']:5.2f}"
                f" {row['psnr_ours_minus_prev']:+9.2f}"
            )
    return results


# ---- the command -------------------------------------------------------------------------


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", type=int, default=240, help="3000×2000 images")
    ap.add_argument("--small", type=int, default=2000, help="500×375 images")
    ap.add_argument("--distinct", type=int, default=12, help="distinct photos of each size")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each figure; the best counts")
    ap.add_argument("--codec-only", action="store_true", help="part 1 only")
    ap.add_argument("--builds-only", action="store_true", help="part 2 only")
    ap.add_argument(
        "--codec-images",
        type=int,
        default=120,
        help="images per codec measurement at 500×375 (fewer at larger sizes)",
    )
    args = ap.parse_args()
    results: dict = {}
    if not args.builds_only:
        n = args.codec_images
        count = {(500, 375): n, (800, 600): max(4, n // 2), (3000, 2000): max(4, n // 8)}
        results |= codec_bench(args.distinct, max(args.repeat, 5), count)
    if not args.codec_only:
        results |= builds(args)
    print(
        json.dumps(
            {k: {m: round(v, 2) for m, v in r.items()} for k, r in results.items()}, indent=1
        )
    )


def builds(args: argparse.Namespace) -> dict:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nbuilds (wall time); cores: {os.cpu_count()}, load average {load}; generating images…")
    large_set = [photo_jpeg(i, (3000, 2000)) for i in range(args.distinct)]
    small_set = [photo_jpeg(10_000 + i, (500, 375)) for i in range(args.distinct)]
    large = [large_set[i % len(large_set)] for i in range(args.large)]
    small = [small_set[i % len(small_set)] for i in range(args.small)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["3000x2000"] = bench("3000x2000", large, Path(tmp), args.repeat)
        results["500x375"] = bench("500x375", small, Path(tmp), args.repeat)
    return results


if __name__ == "__main__":
    run()
