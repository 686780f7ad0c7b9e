"""Resize geometry for each ``images.resize`` mode: plain arithmetic, no pixels.

Every mode is expressed as (size to decode at least, crop box, size to scale to, canvas
offset), so the codec can ask libjpeg for a DCT-domain reduced decode of exactly the size
the mode needs and then do one resampling pass.

- ``stretch`` (default, the reference's): scale both sides to W×H, aspect ratio not kept.
- ``center_crop``: scale so the image covers W×H, cut the centre.
- ``keep_ratio``: scale so the image covers W×H with its aspect kept (for a square target:
  the shorter side becomes the target); the output is not W×H.
- ``pad``: scale so the image fits inside W×H, centre it on a white W×H canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("stretch", "center_crop", "keep_ratio", "pad")


@dataclass(frozen=True)
class Plan:
    """How to turn a ``width``×``height`` image into the output."""

    min_decode: tuple[int, int]  # the smallest decode that still only downscales
    box: tuple[float, float, float, float]  # source region, as fractions of the image
    scaled: tuple[int, int]  # size the region is resampled to
    canvas: tuple[int, int] | None  # pad only: output size; the scaled image is centred
    offset: tuple[int, int] = (0, 0)


def plan(width: int, height: int, target_w: int, target_h: int, mode: str) -> Plan:
    """The resize plan of one image for one mode (see the module docstring)."""
    if mode == "stretch":
        return Plan((target_w, target_h), (0.0, 0.0, 1.0, 1.0), (target_w, target_h), None)
    cover = max(target_w / width, target_h / height)
    if mode == "center_crop":
        fw, fh = target_w / (width * cover), target_h / (height * cover)
        box = ((1 - fw) / 2, (1 - fh) / 2, (1 + fw) / 2, (1 + fh) / 2)
        need = (math.ceil(width * cover), math.ceil(height * cover))
        return Plan(need, box, (target_w, target_h), None)
    if mode == "keep_ratio":
        scaled = (max(1, round(width * cover)), max(1, round(height * cover)))
        return Plan(scaled, (0.0, 0.0, 1.0, 1.0), scaled, None)
    if mode == "pad":
        fit = min(target_w / width, target_h / height)
        scaled = (max(1, round(width * fit)), max(1, round(height * fit)))
        offset = ((target_w - scaled[0]) // 2, (target_h - scaled[1]) // 2)
        return Plan(scaled, (0.0, 0.0, 1.0, 1.0), scaled, (target_w, target_h), offset)
    raise ValueError(f"unknown resize mode {mode!r}; modes are {', '.join(MODES)}")


def dct_scale(width: int, height: int, need: tuple[int, int]) -> int:
    """The largest power-of-2 reduction k ∈ {8, 4, 2} at which libjpeg's DCT-domain decode
    (``ceil(side / k)`` pixels a side) keeps both sides at least ``need``; 1 if none does.

    Only powers of 2: libjpeg's other scales (3/8, 5/8, …) alias visibly (PERF-NOTES.md).
    """
    for k in (8, 4, 2):
        if -(-width // k) >= need[0] and -(-height // k) >= need[1]:
            return k
    return 1


def draft_request(need: tuple[int, int], transposed: bool) -> tuple[int, int]:
    """The size to pass to ``Image.draft`` for a needed size, in the file's own orientation.

    EXIF orientations 5–8 swap the sides, so the request is swapped back.
    """
    return (need[1], need[0]) if transposed else need
