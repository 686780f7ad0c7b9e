"""The kinds of image the source writers plant, and what a build makes of each.

Which source holds which broken input is each writer's choice (a broken file has to be in
some source's format); the bytes and the outcome of each kind are decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from treeoflife.sample import broken, photos


@dataclass(frozen=True)
class Planted:
    """The bytes a build reads for one planted image, and the outcome it must give them."""

    data: bytes
    status: str  # ok / kept / dropped
    reason: str | None  # the reject reason code, if any


# kind -> (bytes from seed, width, height; status; reason)
_KINDS: dict[str, tuple[Callable[[int, int, int], bytes], str, str | None]] = {
    "ok": (lambda seed, w, ht: photos.photo_jpeg(seed, w, ht), "ok", None),
    # a good picture under a member name the scan cannot parse (the writer records the drop)
    "bad_name": (lambda seed, w, ht: photos.photo_jpeg(seed, w, ht), "ok", None),
    "cmyk": (
        lambda seed, w, ht: broken.cmyk_jpeg(photos.picture(seed, w, ht)),
        "kept",
        "converted_cmyk",
    ),
    "corrupt": (
        lambda seed, w, ht: broken.corrupt_jpeg(photos.photo_jpeg(seed, w, ht), seed),
        "dropped",
        "image_corrupt",
    ),
    "too_large": (lambda seed, w, ht: broken.oversized_jpeg(seed), "dropped", "image_too_large"),
    "truncated": (
        lambda seed, w, ht: broken.truncated_jpeg(photos.photo_jpeg(seed, w, ht)),
        "dropped",
        "image_truncated",
    ),
    "png": (
        lambda seed, w, ht: broken.png_bytes(photos.picture(seed, w, ht)),
        "kept",
        "format_mismatch",
    ),
    # [filters]: pictures that decode fine, each caught by one quality filter
    "tiny": (lambda seed, w, ht: photos.photo_jpeg(seed, 8, 8), "dropped", "image_too_small"),
    "strip": (
        lambda seed, w, ht: photos.photo_jpeg(seed, 4000, 40),
        "dropped",
        "image_aspect_extreme",
    ),
    "blank": (lambda seed, w, ht: broken.blank_jpeg(), "dropped", "image_blank"),
    "placeholder": (lambda seed, w, ht: broken.placeholder_png(), "dropped", "image_placeholder"),
    # EXIF rotation is planted on a landscape picture whatever the slot's size
    "exif": (
        lambda seed, w, ht: broken.exif_rotated_jpeg(photos.picture(seed, 500, 375)),
        "kept",
        "exif_rotated",
    ),
}


def planted_image(kind: str, seed: int, width: int, height: int) -> Planted:
    """One image of ``kind`` drawn from ``seed`` at ``width`` x ``height``."""
    make, status, reason = _KINDS[kind]
    return Planted(make(seed, width, height), status, reason)
