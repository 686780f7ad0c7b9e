"""The perceptual hash of an image: 64 bits that survive resizing, re-encoding, small crops
and colour tweaks, computed from the pixels the codec has already decoded.

Why this hash (measured with ``benchmarks/bench_dedup.py``; ``pdqhash`` has no wheel for
this platform and ``imagehash`` needs SciPy for the same arithmetic): a difference hash
(dHash) of a 9×8 grey thumbnail — one bit per horizontally adjacent pair, "is the right
cell brighter". On 30 photo-like pictures, copies resized to 50 %, re-encoded at quality
60, converted to PNG, EXIF-rotated or brightened by 10 % moved 0–3 bits of 64 (mostly 0–1),
copies cropped by 5 % 1–8; different photos, including another frame of the same scene,
stayed 15 or more apart. At the default threshold of 6 bits that is precision 1.0 and
recall 0.938 over all copy pairs (77 % of the 5 % crops; 0.975 and 90 % at 7 bits). An
earlier thumbnail (Pillow ``reduce`` by an integer factor, then a box resize: 8-bit
rounding in between, the last partial block at the right and bottom edges weighted as a
whole one) found 93 % of the crops; an exact box average of the whole picture (Pillow's box
resize, or this one) finds 77–80 % — 4 or 5 of 30 crops, and not explained by more than
those quirks — and keeps resized copies closer (0–2 bits, were up to 5). The DCT pHash (8×8 low
frequencies of 32×32) was as good on re-encoding but moved up to 10 bits on the crops; the
256-bit 16×16-of-64×64 DCT moved 22 % of its bits there. A small threshold matters beyond
accuracy: near pairs among 10M hashes are found with exact-match tables on blocks of the
hash (:mod:`.index`), whose number grows steeply with the threshold (84 tables at 6 bits,
792 at 7). It costs ~0.1 ms an image at 500×375 (:func:`thumbnail`).

A picture without left-to-right structure (a blank placeholder, a flat colour, a plain
top-to-bottom ramp: no two neighbouring thumbnail cells differ by ``MIN_CONTRAST`` grey
levels) has no hash: the bits compare only horizontal neighbours, so they would be noise or
all zero, and every such picture would look like every other. Such images are duplicates only of
byte-identical files.

The thumbnail is a box-filter average of the decoded image (after EXIF rotation, in RGB),
so it does not depend on the output size the JPEG is scaled to, only on the picture.
Integer sums throughout, so the same pixels give the same hash on every machine.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

BITS = 64
# the Hamming distance under which two images are the same photo (default of [dedup]
# threshold); calibrated in benchmarks/bench_dedup.py
THRESHOLD = 6
_COLS, _ROWS = 9, 8
MIN_CONTRAST = 8  # grey levels two horizontal neighbours must differ by, somewhere
_LUMA = (19595, 38470, 7471)  # R, G, B weights of grey, /65536 (as Pillow's convert("L"))


def dhash(pixels: np.ndarray) -> int | None:
    """The 64-bit hash of decoded RGB pixels (height × width × 3, uint8), as a signed
    64-bit integer (what SQLite stores); None for a picture without structure."""
    grey = thumbnail(pixels).astype(np.int16)
    if int(np.abs(np.diff(grey, axis=1)).max()) < MIN_CONTRAST:
        return None
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """The 8×9 grey thumbnail: each cell the mean of its ~1/72 of the picture (block edges
    rounded to whole pixels), as a 0-255 grey level (ITU-R 601 luma, Pillow's weights).

    Exact integer sums, no intermediate rounding: OpenCV sums each band of rows (one
    vectorised pass over the pixels, ~40 µs at 500×375 where converting to a Pillow image
    and box-resizing it took ~350 µs), numpy the columns of the 8 band sums."""
    import cv2  # loaded by the codec anyway; kept off this module's import for `tol`

    height, width = pixels.shape[:2]
    if height < _ROWS or width < _COLS:  # a sliver: each cell needs a pixel of its own
        pixels = pixels.repeat(-(-_ROWS // height), 0).repeat(-(-_COLS // width), 1)
        height, width = pixels.shape[:2]
    rows, cols, area = _cells(height, width)
    flat = pixels.reshape(height, width * 3)
    bands = np.concatenate(
        [
            cv2.reduce(flat[a:b], 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
            for a, b in itertools.pairwise(rows)
        ]
    ).reshape(_ROWS, width, 3)
    sums = np.add.reduceat(bands, cols, axis=1, dtype=np.int64)  # rows × cols × RGB
    luma = sums @ np.array(_LUMA, dtype=np.int64)  # × 65536
    return (2 * luma + (area << 16)) // (area << 17)  # rounded to the nearest grey level


@functools.lru_cache(maxsize=1024)
def _cells(height: int, width: int) -> tuple[list[int], list[int], np.ndarray]:
    """Where the thumbnail's cells begin and end: row edges, column starts, and each cell's
    pixel count (edges at the nearest whole pixel; cached, as sources repeat sizes)."""
    rows = [(2 * i * height + _ROWS) // (2 * _ROWS) for i in range(_ROWS + 1)]
    cols = [(2 * j * width + _COLS) // (2 * _COLS) for j in range(_COLS + 1)]
    area = np.outer(np.diff(rows), np.diff(cols)).astype(np.int64)
    return rows, cols[:-1], area


def distance(a: int | None, b: int | None) -> int:
    """Hamming distance between two hashes (signed or unsigned 64-bit integers); pictures
    without a hash are only ever clustered with identical files: distance 0."""
    if a is None or b is None:
        return 0
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()
