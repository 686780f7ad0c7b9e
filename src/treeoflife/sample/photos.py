"""Procedural photo-like pictures: smooth colour fields, a few soft blobs and sensor noise.

They compress like photographs (about 1.5-2 bits per pixel at JPEG quality 90) rather than
like flat colour, so image code is exercised at realistic sizes and speeds. Each picture is
a pure function of its seed and size: the same call gives the same pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

QUALITY = 90


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed & 0xFFFFFFFFFFFF)


def picture(seed: int, width: int, height: int, noise: float = 3.0) -> Image.Image:
    """An RGB picture of ``width`` x ``height`` that looks (to a codec) like a photo."""
    rng = _rng(seed)
    # a coarse random colour field, upscaled smoothly: the "background"
    gw, gh = 6 + int(rng.integers(0, 5)), 5 + int(rng.integers(0, 4))
    base = rng.uniform(20, 235, size=(gh, gw, 3)).astype(np.float32)
    tint = rng.uniform(0.6, 1.0, size=3).astype(np.float32)
    low = Image.fromarray(np.clip(base * tint, 0, 255).astype(np.uint8), "RGB")
    # draw detail at a quarter of the size, then upscale: fast and smooth
    sw, sh = max(8, width // 4), max(8, height // 4)
    field = np.asarray(low.resize((sw, sh), Image.BICUBIC), dtype=np.float32).copy()
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
        rx, ry = rng.uniform(sw * 0.05, sw * 0.3), rng.uniform(sh * 0.05, sh * 0.3)
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        mask = np.clip(1.5 - d, 0.0, 1.0)[..., None]
        colour = rng.uniform(0, 255, size=3).astype(np.float32)
        field = field * (1 - mask) + colour * mask
    # mid-frequency texture (leaves, fur, grain), still at quarter size
    tex = rng.normal(0, 18, size=(sh, sw, 1)).astype(np.float32)
    field += tex
    img = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB").resize(
        (width, height), Image.BILINEAR
    )
    arr = np.asarray(img, dtype=np.int16)
    if noise:
        grain = rng.integers(-int(noise), int(noise) + 1, size=(height, width, 1), dtype=np.int16)
        arr = arr + grain
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def jpeg_bytes(img: Image.Image, quality: int = QUALITY, **save_args) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **save_args)
    return buf.getvalue()


def photo_jpeg(seed: int, width: int, height: int, quality: int = QUALITY) -> bytes:
    """The JPEG file bytes of :func:`picture`."""
    return jpeg_bytes(picture(seed, width, height), quality=quality)
