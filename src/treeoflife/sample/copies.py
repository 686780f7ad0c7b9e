"""Photos made for duplicate tests and benchmarks: base pictures, the copies a collection really receives (resized,
re-encoded, cropped, brightened, converted to PNG, EXIF-rotated), and lookalikes (another
frame of the same scene). The same calls give the same bytes."""

from __future__ import annotations

import io

from PIL import Image, ImageEnhance

from treeoflife.sample.photos import jpeg_bytes, picture

WIDTH, HEIGHT = 480, 360
ORIENTATION = 0x0112


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _exif_rotated(im: Image.Image) -> bytes:
    """The picture stored turned a quarter left, with EXIF orientation 6 ("turn right to
    view"): a viewer, and the codec, show the original."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return jpeg_bytes(im.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def scene(seed: int) -> Image.Image:
    """A scene wider than one frame: frame 0 is the base photo, frame 1 a lookalike."""
    return picture(seed, int(WIDTH * 1.3), HEIGHT)


def base(seed: int) -> Image.Image:
    return scene(seed).crop((0, 0, WIDTH, HEIGHT))


def lookalike(seed: int) -> bytes:
    """Another photo of the same scene, panned by 30 % of the frame."""
    shift = int(WIDTH * 0.3)
    return jpeg_bytes(scene(seed).crop((shift, 0, shift + WIDTH, HEIGHT)))


def copies(seed: int) -> dict[str, bytes]:
    """The base photo and its transformed copies, by transformation."""
    im = base(seed)
    cw, ch = int(WIDTH * 0.05), int(HEIGHT * 0.05)
    return {
        "original": jpeg_bytes(im),
        "resized_50": jpeg_bytes(im.resize((WIDTH // 2, HEIGHT // 2), Image.Resampling.LANCZOS)),
        "quality_60": jpeg_bytes(im, quality=60),
        "cropped_5": jpeg_bytes(
            im.crop((cw // 2, ch // 2, WIDTH - (cw - cw // 2), HEIGHT - (ch - ch // 2)))
        ),
        "brighter_10": jpeg_bytes(ImageEnhance.Brightness(im).enhance(1.1)),
        "png": _png(im),
        "exif_rotated": _exif_rotated(im),
    }
