"""The one resampling pass: decoded RGB pixels → the output size, anti-aliased.

Why this filter (measured by ``benchmarks/bench_shard.py``, PERF-NOTES.md): after the
DCT-domain reduced decode, what is left is a shrink by 1–2.3× per side. Pillow's
anti-aliased bicubic does it well but costs more than the decode at 500×375 (2.5 ms);
OpenCV's ``INTER_AREA`` (a box filter) is 2× faster but loses ~0.5–0.9 dB PSNR against a
Lanczos reference and lets fine stripes through. A separable Lanczos-2 low-pass cut at the
output's Nyquist frequency (``cv2.sepFilter2D``), then OpenCV's cubic interpolation at the
output pixel centres, is as good as Pillow's bicubic (PSNR within ±0.3 dB, less energy
above Nyquist) and faster than ``INTER_AREA``.

Determinism: the filter's taps are multiples of 1/128, so every product and sum OpenCV
forms in its float loop is an exactly representable number whatever order its SIMD code
adds in (255 · Σ|tap|² · 128² < 2²⁴); the cubic resize of 8-bit images runs in fixed
point. The same bytes give the same pixels on any machine with the same wheels.

OpenCV is imported on first use (it costs ~0.3 s, which commands that never touch pixels
should not pay) and told to use one thread: the image pass already runs one worker per
core, and a thread pool per worker only adds wake-ups for a 224² output.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

TAP_STEP = 128  # taps are multiples of 1/TAP_STEP (see the module docstring)
LOBES = 2  # Lanczos-2: Lanczos-3 measured no better after cubic interpolation, and slower


@functools.cache
def _cv2():
    import cv2

    cv2.setNumThreads(1)
    return cv2


@functools.cache
def lowpass_taps(src: int, dst: int) -> np.ndarray:
    """The 1-D low-pass taps for shrinking ``src`` pixels to ``dst`` (just [1] when not
    shrinking): a Lanczos-2 windowed sinc cut at the output's Nyquist frequency, in
    source pixels, quantised to multiples of 1/128 and summing to exactly 1."""
    import numpy as np

    scale = src / dst
    if scale <= 1.0:
        return np.ones(1, np.float32)
    cutoff = 0.5 / scale  # cycles per source pixel
    half_width = LOBES / (2 * cutoff)  # the window spans LOBES zero crossings each side
    x = np.arange(-math.floor(half_width), math.floor(half_width) + 1, dtype=np.float64)
    taps = 2 * cutoff * np.sinc(2 * cutoff * x) * np.sinc(x / half_width)
    ints = np.round(taps / taps.sum() * TAP_STEP).astype(np.int64)
    ints[len(ints) // 2] += TAP_STEP - ints.sum()  # rounding leftovers go to the centre tap
    return (ints / TAP_STEP).astype(np.float32)


def resample(
    pixels: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]
) -> np.ndarray:
    """The ``box`` region (fractions of the image, as :class:`geometry.Plan` gives it) of
    an H×W×3 uint8 image, resampled to ``size`` (width, height)."""
    cv2 = _cv2()
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = box
    # whole source pixels: a crop edge moves by at most half a decoded pixel
    left, top = min(round(x0 * w), w - 1), min(round(y0 * h), h - 1)
    right, bottom = max(round(x1 * w), left + 1), max(round(y1 * h), top + 1)
    region = pixels[top:bottom, left:right]
    rh, rw = region.shape[:2]
    if (rw, rh) == size:
        return region.copy()
    kx, ky = lowpass_taps(rw, size[0]), lowpass_taps(rh, size[1])
    if len(kx) > 1 or len(ky) > 1:
        region = cv2.sepFilter2D(region, -1, kx, ky, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(region, size, interpolation=cv2.INTER_CUBIC)
