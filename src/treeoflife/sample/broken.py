"""The broken inputs real collections have, made on purpose (each one is verified here)."""

from __future__ import annotations

import io
import tarfile
import zlib

import numpy as np
from PIL import Image

from treeoflife.sample.photos import jpeg_bytes

EXIF_ORIENTATION = 0x0112


def corrupt_jpeg(good: bytes, seed: int) -> bytes:
    """Same length, valid header and EOI, but garbage with a stray SOF marker mid-scan.

    libjpeg stops with an error (Pillow: ``OSError: broken data stream``), not a warning.
    """
    rng = np.random.default_rng(seed)
    mid = len(good) // 2
    garbage = b"\xff\xc0" + rng.integers(0, 256, 2046, dtype=np.uint8).tobytes()
    bad = good[:mid] + garbage + good[mid + len(garbage) :]
    assert len(bad) == len(good) and bad.endswith(b"\xff\xd9")
    return bad


def truncated_jpeg(good: bytes) -> bytes:
    """The first half of a JPEG file: no EOI, the bottom of the picture missing."""
    return good[: len(good) // 2]


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def cmyk_jpeg(img: Image.Image) -> bytes:
    return jpeg_bytes(img.convert("CMYK"))


def exif_rotated_jpeg(img: Image.Image) -> bytes:
    """Pixels stored landscape with EXIF Orientation=6 (display rotated 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return jpeg_bytes(img, exif=exif.tobytes())


def oversized_jpeg(seed: int, side: int = 9500) -> bytes:
    """A greyscale ``side`` x ``side`` JPEG (90 Mpx > Pillow's 89,478,485 default), ~1 MB."""
    rng = np.random.default_rng(seed)
    low = Image.fromarray(rng.uniform(40, 200, (6, 6)).astype(np.uint8), "L")
    return jpeg_bytes(low.resize((side, side), Image.BILINEAR), quality=75)


def cut_gzip(gz: bytes, keep_uncompressed: int) -> bytes:
    """The shortest prefix of gzip stream ``gz`` that decompresses to >= ``keep_uncompressed``
    bytes (and not to all of it): a download that stopped there."""

    def produced(n: int) -> int:
        return len(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(gz[:n]))

    lo, hi = 10, len(gz) - 9
    while lo < hi:
        mid = (lo + hi) // 2
        if produced(mid) >= keep_uncompressed:
            hi = mid
        else:
            lo = mid + 1
    return gz[:lo]


def readable_members(gz: bytes) -> list[str]:
    """Names of the members a streaming reader gets out whole before the archive breaks."""
    names = []
    try:
        with tarfile.open(fileobj=io.BytesIO(gz), mode="r|gz") as tf:
            for info in tf:
                f = tf.extractfile(info)
                if f is not None:
                    data = f.read()
                    if len(data) != info.size:
                        break
                names.append(info.name)
    except (tarfile.TarError, EOFError, OSError):
        pass
    return names


# -- images that decode fine but no one would train on ([filters] catches them) ---------


def blank_jpeg(width: int = 640, height: int = 480) -> bytes:
    """An all-black frame (a camera trap at night, a failed scan)."""
    return jpeg_bytes(Image.new("RGB", (width, height), (0, 0, 0)))


def placeholder_png() -> bytes:
    """An "image not available" tile of the kind image hosts return for a missing photo:
    a grey card with a framed, crossed-out picture icon (drawn, so it is not blank)."""
    from PIL import ImageDraw

    img = Image.new("RGB", (300, 300), (221, 221, 221))
    draw = ImageDraw.Draw(img)
    draw.rectangle((90, 100, 210, 190), outline=(150, 150, 150), width=6)
    draw.polygon([(100, 180), (140, 130), (170, 165), (185, 150), (200, 180)], fill=(170, 170, 170))
    draw.ellipse((175, 110, 195, 130), fill=(170, 170, 170))
    draw.line((80, 210, 220, 80), fill=(200, 60, 60), width=8)
    return png_bytes(img)
