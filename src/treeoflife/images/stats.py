"""What the image pass measures of the pixels it already decoded, for ``[filters]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def pixel_std(pixels: np.ndarray) -> float:
    """The largest per-channel standard deviation of 8-bit pixels (height × width ×
    channels), 0-255.

    Near 0 for a blank frame (black, white or one colour: all channels flat); a photograph
    is in the tens. From each channel's exact integer sum and sum of squares (OpenCV's
    vectorised ``sumElems``; squares as uint16, which 255² fits): ~25 µs at 224², where a
    Pillow histogram and three 256-bin sums took ~140 µs, ``cv2.meanStdDev`` ~60 µs and
    ``ImageStat`` ~300 µs (as much as encoding a small image). The sums are exact
    integers, so the same pixels give the same number on every machine; rounded to 1/1000.
    """
    import cv2  # loaded by the codec anyway; kept off this module's import for `tol`
    import numpy as np

    height, width = pixels.shape[:2]
    n = height * width
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if not n:
        return 0.0
    sums = cv2.sumElems(pixels)[:channels]
    squares = cv2.sumElems(np.square(pixels, dtype=np.uint16))[:channels]
    worst = 0.0
    for total, total_sq in zip(sums, squares, strict=True):
        mean = total / n
        worst = max(worst, total_sq / n - mean * mean)
    return round(worst**0.5, 3)
