"""Duplicates: what the perceptual hash costs, how well its threshold separates copies from
other photos, and how clustering scales. Run by hand: ``python benchmarks/bench_dedup.py``.

1. **Hashing overhead**, in one run: the image pass's per-image work (``process_image``:
   decode, resize, encode) on photo-like JPEGs of EOL size, with the hash and with it
   switched off, alternating rounds; CPU seconds per image and the ratio (target ≤ 10 %).
2. **Threshold**: base photos, their copies (resized 50 %, quality 60, cropped 5 %,
   brightened 10 %, PNG, EXIF-rotated) and lookalikes (the same scene panned 30 %); per
   threshold, the precision and recall of "within the threshold" as "the same photo", and
   recall per kind of copy.
3. **Clustering** N synthetic 64-bit hashes with 1 % planted near duplicates (each 0 to
   threshold bits from a random original): CPU seconds, peak RSS, recall of the planted
   pairs, and for two or more N the growth of the cost (``--n 1000000 10000000``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import resource
import time

import numpy as np

from treeoflife.dedup import index, phash
from treeoflife.images import ImageSpec, codec, process_image
from treeoflife.sample.copies import copies, lookalike
from treeoflife.sample.photos import photo_jpeg


def _cpu() -> float:
    return time.process_time()


def overhead(images: int, rounds: int) -> None:
    spec = ImageSpec()
    photos = [photo_jpeg(s, 2000, 1500) for s in range(images)]
    real = phash.dhash
    with_hash = without = 0.0
    for data in photos[:5]:  # warm up: imports, first-call costs
        process_image(data, "x.jpg", spec)
    for r in range(rounds):
        for hashed in (True, False) if r % 2 else (False, True):
            codec.phash.dhash = real if hashed else (lambda pixels: None)
            t = _cpu()
            for data in photos:
                process_image(data, "x.jpg", spec)
            spent = _cpu() - t
            if hashed:
                with_hash += spent
            else:
                without += spent
    codec.phash.dhash = real
    decoded = [_decoded(data) for data in photos]
    t = _cpu()
    for _ in range(rounds):
        for pixels in decoded:
            phash.dhash(pixels)
    alone = (_cpu() - t) / (images * rounds)
    n = images * rounds
    print(
        f"hashing overhead: image pass {1000 * without / n:.2f} ms/image CPU without the hash, "
        f"{1000 * with_hash / n:.2f} with it: +{100 * (with_hash - without) / without:.1f} % "
        f"(2000x1500 JPEGs, {n} images each way); the hash alone on the decoded pixels "
        f"{1000 * alone:.2f} ms = {100 * alone / (without / n):.1f} % of the image pass"
    )


def _decoded(data: bytes) -> np.ndarray:
    """The pixels as the codec has them when it hashes (draft-decoded for 224x224, RGB)."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (224, 224))
    im.load()
    return np.asarray(im.convert("RGB"))


def threshold_quality(seeds: int) -> None:
    spec = ImageSpec()
    items: list[tuple[int, str, int]] = []  # (photo, kind, hash)
    for seed in range(1, seeds + 1):
        for kind, data in copies(seed).items():
            name = "x.png" if kind == "png" else "x.jpg"
            items.append((seed, kind, process_image(data, name, spec).phash))
        items.append((-seed, "lookalike", process_image(lookalike(seed), "x.jpg", spec).phash))
    pairs = [
        (a[0] == b[0], phash.distance(a[2], b[2]), b[1] if a[1] == "original" else None)
        for a, b in itertools.combinations(items, 2)
    ]
    print(f"threshold ({seeds} photos, 7 copies and a lookalike each):")
    for t in range(3, 11):
        tp = sum(1 for same, d, _ in pairs if same and d <= t)
        fp = sum(1 for same, d, _ in pairs if not same and d <= t)
        fn = sum(1 for same, d, _ in pairs if same and d > t)
        kinds = {}
        for same, d, kind in pairs:
            if same and kind:
                kinds.setdefault(kind, []).append(d <= t)
        per_kind = ", ".join(f"{k} {100 * sum(v) / len(v):.0f}%" for k, v in sorted(kinds.items()))
        mark = "  <- default" if t == phash.THRESHOLD else ""
        print(
            f"  t={t:2d}: precision {tp / max(tp + fp, 1):.3f} recall {tp / max(tp + fn, 1):.3f}"
            f" (pairs; copy of the original found: {per_kind}){mark}"
        )
    near = [d for same, d, _ in pairs if not same]
    print(f"  closest two different photos: {min(near)} bits")


def clustering(n: int, threshold: int) -> float:
    rng = np.random.default_rng(n)
    planted = n // 100
    h = rng.integers(0, 2**63, size=n, dtype=np.int64).view(np.uint64)
    h |= rng.integers(0, 2, size=n, dtype=np.uint64) << np.uint64(63)
    origin = rng.choice(n - planted, size=planted, replace=False)
    flips = np.zeros(planted, dtype=np.uint64)
    for _ in range(threshold):  # up to `threshold` random bits each
        bit = rng.integers(0, 64, size=planted, dtype=np.uint64)
        use = rng.random(planted) < 0.75
        flips ^= np.where(use, np.uint64(1) << bit, np.uint64(0))
    h[n - planted :] = h[origin] ^ flips
    t0, w0 = _cpu(), time.perf_counter()
    labels = index.clusters(h, threshold)
    cpu, wall = _cpu() - t0, time.perf_counter() - w0
    found = np.mean(labels[n - planted :] == labels[origin])
    sizes = np.bincount(labels, minlength=n)
    clustered = int((sizes[labels] > 1).sum())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    blocks = index.plan_blocks(len(np.unique(h)), threshold)
    print(
        f"clustering {n:,} hashes (threshold {threshold}, {blocks} blocks: "
        f"{math.comb(blocks, threshold)} tables): {cpu:.1f} s CPU ({wall:.1f} s wall), "
        f"peak RSS {rss:.0f} MiB; planted pairs found {100 * found:.2f} %, "
        f"{clustered:,} hashes in clusters ({2 * planted:,} planted)"
    )
    return cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=40, help="photos for the overhead run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seeds", type=int, default=30, help="base photos for the threshold table")
    p.add_argument("--n", type=int, nargs="*", default=[1_000_000, 10_000_000])
    p.add_argument("--threshold", type=int, default=phash.THRESHOLD)
    p.add_argument("--skip", nargs="*", default=[], choices=["overhead", "threshold", "cluster"])
    args = p.parse_args()
    if "overhead" not in args.skip:
        overhead(args.images, args.rounds)
    if "threshold" not in args.skip:
        threshold_quality(args.seeds)
    if "cluster" not in args.skip:
        costs = [(n, clustering(n, args.threshold)) for n in args.n]
        for (n0, c0), (n1, c1) in itertools.pairwise(costs):
            print(
                f"  cost x{c1 / c0:.1f} for x{n1 / n0:.0f} hashes "
                f"(N log N would be x{n1 * np.log2(n1) / (n0 * np.log2(n0)):.1f}, N² x{(n1 / n0) ** 2:.0f})"
            )


if __name__ == "__main__":
    main()
