"""Decode → resize → encode one image, with a reason code for everything unusual.

Two decoders, one resampler, one encoder:

- **The fast path** takes the common case, a plain 8-bit JPEG (YCbCr or greyscale, no
  EXIF rotation, within ``max_image_pixels``): ``simplejpeg`` (libjpeg-turbo) decodes
  it straight into a numpy array, asking for the DCT-domain reduced image at the largest
  power-of-2 scale that keeps both sides at least what the resize mode needs
  (``geometry.dct_scale``). On multi-megapixel photos that decode is the whole cost
  (PERF-NOTES.md); on the few-hundred-pixel images most sources ship, Pillow's decode
  and its own bookkeeping cost ~40% more than simplejpeg's (measured by
  ``benchmarks/bench_shard.py``). It runs with ``strict=True``, so anything libjpeg
  only warns about (a truncated file, corrupt data) raises, and the image goes to…
- **the Pillow path**, the original one, and the only one for everything else (PNG,
  WebP, GIF, TIFF, BMP, CMYK/YCCK JPEGs, EXIF-rotated ones, 16-bit, truncated or corrupt
  files, decompression bombs): it decides every reject reason and every repair note, so
  a file's outcome never depends on which path tried it first.
- Both hand RGB pixels to :func:`resample.resample` (one anti-aliased pass) and the
  result to Pillow's JPEG encoder at the configured quality with 4:2:0 chroma. Pillow's
  encoder, not simplejpeg's: at the same quality its output measured ~0.3 dB closer to
  the source and slightly smaller, for ~0.15 ms per 224² image.

Robustness: any input gives either JPEG bytes or a reject reason from
:mod:`treeoflife.rejects` (``image_corrupt``, ``image_truncated``, ``image_too_large``,
``image_unsupported``), never an exception and never partial output. Repairs are
reported as notes with a kept reason (``converted_cmyk``, ``exif_rotated``,
``format_mismatch``). The decompression-bomb guard is ours (``max_image_pixels``), checked
from the header before any pixel is decoded; Pillow's global limit is left alone.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from treeoflife.config import ImageSpec
from treeoflife.dedup import phash
from treeoflife.images import geometry, jpeg_header
from treeoflife.images.resample import resample
from treeoflife.images.stats import pixel_std

if TYPE_CHECKING:
    import numpy as np

# magic bytes -> format name as Pillow reports it
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_SUFFIX_FORMAT = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "bmp": "BMP",
    "tif": "TIFF",
    "tiff": "TIFF",
    "webp": "WEBP",
}


# Bump when process_image gives other bytes for the same input and settings: it is part of
# every scan unit's name (shards/encode.py unit_id), so a build made by an older version
# re-reads its images instead of mixing old and new small JPEGs. 2: the fast path and the
# Lanczos-2 + cubic resample (was Pillow draft + bicubic). 3: the perceptual hash's
# thumbnail is summed from the pixels in integers (was Pillow reduce + BOX resize).
CODEC_VERSION = 3


@dataclass(frozen=True)
class Encoded:
    """The result for one image: ``jpeg`` or ``reject``, plus kept repairs in ``notes``."""

    jpeg: bytes | None
    reject: tuple[str, str] | None = None  # (reason code, detail)
    notes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    source_size: tuple[int, int] | None = None  # (width, height) of the source image
    pixel_std: float | None = None  # of the resized pixels (see images.stats), for [filters]
    phash: int | None = None  # perceptual hash of the decoded pixels (treeoflife.dedup.phash)


def sniff(data: bytes) -> str | None:
    """The format the bytes actually are, from their magic number (None: unknown)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def named_format(name: str) -> str | None:
    return _SUFFIX_FORMAT.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


def process_image(data: bytes, name: str, spec: ImageSpec) -> Encoded:
    """Turn one source image's bytes into the output JPEG, or say why not. Never raises."""
    notes: list[tuple[str, str]] = []
    actual, claimed = sniff(data), named_format(name)
    if actual and claimed and actual != claimed:
        notes.append(("format_mismatch", f"named {claimed}, content is {actual}"))
    try:
        return _process(data, spec, notes)
    except _Reject as exc:
        return Encoded(None, (exc.reason, exc.detail), tuple(notes))
    except Exception as exc:  # a decoder bug on hostile input is still a corrupt image
        return Encoded(None, ("image_corrupt", f"{type(exc).__name__}: {exc}"), tuple(notes))


class _Reject(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _open(data: bytes, spec: ImageSpec) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _Reject("image_too_large", str(exc)) from None
    except Exception as exc:
        detail = "unknown image format" if "cannot identify" in str(exc) else str(exc)
        raise _Reject("image_corrupt", detail) from None
    w, h = im.size
    if w * h > spec.max_image_pixels:
        raise _Reject(
            "image_too_large",
            f"{w}x{h} = {w * h} pixels > max_image_pixels {spec.max_image_pixels}",
        )
    if w < 1 or h < 1:
        raise _Reject("image_corrupt", f"size {w}x{h}")
    return im


def _load(im: Image.Image) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except EOFError as exc:
        raise _Reject("image_truncated", str(exc) or "unexpected end of data") from None
    except (OSError, SyntaxError, ValueError, IndexError, TypeError, struct.error) as exc:
        msg = str(exc)
        reason = "image_truncated" if "truncat" in msg.lower() else "image_corrupt"
        raise _Reject(reason, msg or type(exc).__name__) from None


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(jpeg_header.ORIENTATION_TAG, 1) or 1)
    except Exception:
        return 1


def _to_rgb(im: Image.Image, notes: list[tuple[str, str]]) -> Image.Image:
    """8-bit RGB from any mode: CMYK converted, transparency composited on white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "CMYK":
        notes.append(("converted_cmyk", "CMYK converted to RGB"))
        return im.convert("RGB")
    if mode in ("I", "F") or mode.startswith("I;16"):
        import numpy as np  # only here: saves every worker process ~90 ms of start-up

        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if (mode.startswith("I;16") or arr.max(initial=0) > 255) else 255.0
        arr = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("L", "1", "P", "YCbCr", "LAB", "HSV", "RGBX"):
        return im.convert("RGB")
    raise _Reject("image_unsupported", f"image mode {mode}")


def _process(data: bytes, spec: ImageSpec, notes: list[tuple[str, str]]) -> Encoded:
    decoded = _decode_fast(data, spec)
    if decoded is None:
        decoded = _decode_pillow(data, spec, notes)
    pixels, plan, source_size = decoded
    # `pixels` (upright RGB, at the DCT scale) and `out` are where any measure of the
    # picture belongs, whichever decoder ran; it goes out as a new Encoded field with a
    # default, so callers that do not know it keep working.
    perceptual = phash.dhash(pixels)  # the pixels decoded here
    out = resample(pixels, plan.box, plan.scaled)
    std = pixel_std(out)  # before any padding: a blank frame on a white canvas is still blank
    image = Image.fromarray(out, "RGB")
    if plan.canvas is not None:
        canvas = Image.new("RGB", plan.canvas, (255, 255, 255))
        canvas.paste(image, plan.offset)
        image = canvas
    buf = io.BytesIO()
    image.save(
        buf, "JPEG", quality=spec.quality, subsampling="4:2:0", optimize=False, progressive=False
    )
    return Encoded(buf.getvalue(), None, tuple(notes), source_size, std, perceptual)


@functools.cache
def _simplejpeg():
    import simplejpeg  # on first use: it brings numpy, ~80 ms a process

    return simplejpeg


def _decode_fast(
    data: bytes, spec: ImageSpec
) -> tuple[np.ndarray, geometry.Plan, tuple[int, int]] | None:
    """A plain JPEG's RGB pixels at the DCT scale its plan needs, or None: not a case this
    path takes, or libjpeg found anything wrong (the Pillow path then decides)."""
    if not data.startswith(b"\xff\xd8\xff") or jpeg_header.orientation(data) not in (0, 1):
        return None
    sj = _simplejpeg()
    try:
        height, width, colorspace, _ = sj.decode_jpeg_header(data)
        if colorspace not in ("YCbCr", "Gray") or width * height > spec.max_image_pixels:
            return None
        plan = geometry.plan(width, height, spec.width, spec.height, spec.resize)
        k = geometry.dct_scale(width, height, plan.min_decode)
        # libjpeg picks the smallest of its scales giving at least this size: exactly 1/k
        pixels = sj.decode_jpeg(
            data, "RGB", min_width=-(-width // k), min_height=-(-height // k), strict=True
        )
    except Exception:
        return None
    return pixels, plan, (width, height)


def _decode_pillow(
    data: bytes, spec: ImageSpec, notes: list[tuple[str, str]]
) -> tuple[np.ndarray, geometry.Plan, tuple[int, int]]:
    """Any format Pillow reads, with every repair (EXIF rotation, CMYK, alpha, 16-bit) and
    every reject reason."""
    import numpy as np

    im = _open(data, spec)
    source_size = im.size
    orientation = _orientation(im)
    transposed = orientation in (5, 6, 7, 8)
    upright = (im.size[1], im.size[0]) if transposed else im.size
    plan = geometry.plan(*upright, spec.width, spec.height, spec.resize)
    if im.format == "JPEG":
        # DCT-domain downscale: largest power-of-2 reduction keeping both sides >= the need
        im.draft(
            "RGB" if im.mode != "CMYK" else "CMYK",
            geometry.draft_request(plan.min_decode, transposed),
        )
    _load(im)
    if orientation not in (1, 0):
        try:
            im = ImageOps.exif_transpose(im)
        except Exception as exc:
            raise _Reject("image_corrupt", f"bad EXIF orientation: {exc}") from None
        if orientation != 1:
            notes.append(("exif_rotated", f"EXIF orientation {orientation} applied"))
    return np.asarray(_to_rgb(im, notes)), plan, source_size
