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

OpenCV is imported on first use and told to use one thread: the image pass already runs one worker per
core, and a thread pool per worker only adds wake-ups for a 224² output.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and cv2 load on first use: `tol` commands that touch no pixels
    import numpy as np  # start ~0.4 s faster

TAP_STEP = 128  # taps are multiples of 1/TAP_STEP (see the module docstring)
LOBES = 2  # Lanczos-2: Lanczos-3 measured no better after cubic interpolation, and slower


@functools.cache
def _cv2():
    import cv2

    cv2.setNumThreads(1)
    return cv2


@functools.lru_cache(maxsize=4096)
def lowpass_taps(src: int, dst: int, shift: float = 0.0) -> np.ndarray:
    """The 1-D taps for shrinking ``src`` pixels to ``dst``: a Lanczos-2 windowed sinc cut
    at the output's Nyquist frequency (in source pixels; at the source's own when not
    shrinking), delayed by ``shift`` pixels (a crop edge between pixels), quantised to
    multiples of 1/128 and summing to exactly 1. Just [1] when there is nothing to do."""
    import numpy as np

    scale = src / dst
    if scale <= 1.0 and shift == 0.0:
        return np.ones(1, np.float32)
    cutoff = 0.5 / max(scale, 1.0)  # cycles per source pixel
    half_width = LOBES / (2 * cutoff)  # the window spans LOBES zero crossings each side
    reach = math.ceil(half_width + abs(shift))
    # sepFilter2D correlates: out[i] = Σ taps[j] · in[i + j - reach] ≈ in(i + shift)
    x = np.arange(-reach, reach + 1, dtype=np.float64) - shift
    taps = 2 * cutoff * np.sinc(2 * cutoff * x) * np.sinc(x / half_width)
    taps[np.abs(x) >= half_width] = 0.0
    ints = np.round(taps / taps.sum() * TAP_STEP).astype(np.int64)
    ints[np.argmax(ints)] += TAP_STEP - ints.sum()  # rounding leftovers go to the peak
    return (ints / TAP_STEP).astype(np.float32)


def resample(
    pixels: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]
) -> np.ndarray:
    """The ``box`` region (fractions of the image, as :class:`geometry.Plan` gives it) of
    an H×W×3 uint8 image, resampled to ``size`` (width, height).

    A crop edge (``center_crop``) usually falls between pixels; rounding it would shift the
    picture by up to half a pixel (measured: ~1.5 dB against the reference). The filter
    takes that fraction as a delay instead, so the region can start on a whole pixel and
    ``cv2.resize`` (4× faster than a sub-pixel ``warpAffine``) does the rest.
    """
    cv2 = _cv2()
    h, w = pixels.shape[:2]
    if box == (0.0, 0.0, 1.0, 1.0) and (w, h) == size:
        return pixels.copy()
    x0, y0 = box[0] * w, box[1] * h
    left, top = math.floor(x0), math.floor(y0)
    width = max(1, min(w - left, round(box[2] * w - x0)))
    height = max(1, min(h - top, round(box[3] * h - y0)))
    kx = lowpass_taps(width, size[0], x0 - left)
    ky = lowpass_taps(height, size[1], y0 - top)
    # the region plus the filter's reach of real neighbours (reflected only at the image edge)
    mx, my = len(kx) // 2, len(ky) // 2
    fx0, fy0 = max(0, left - mx), max(0, top - my)
    fx1, fy1 = min(w, left + width + mx), min(h, top + height + my)
    region = pixels[fy0:fy1, fx0:fx1]
    if len(kx) > 1 or len(ky) > 1:
        region = cv2.sepFilter2D(region, -1, kx, ky, borderType=cv2.BORDER_REFLECT)
    region = region[top - fy0 : top - fy0 + height, left - fx0 : left - fx0 + width]
    return cv2.resize(region, size, interpolation=cv2.INTER_CUBIC)
