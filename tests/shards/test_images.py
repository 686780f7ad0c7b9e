"""The image codec: every input gives a JPEG or a reason, never an exception."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from shard_helpers import jpeg, photo

from treeoflife.images import ImageSpec, process_image
from treeoflife.images.geometry import plan
from treeoflife.rejects import REASONS

SPEC = ImageSpec(width=64, height=48)


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def test_plain_jpeg_is_resized_to_the_target_with_420_subsampling() -> None:
    res = process_image(jpeg(photo(1, (640, 480))), "a.jpg", SPEC)
    assert res.reject is None and res.notes == ()
    im = decode(res.jpeg)
    assert im.size == (64, 48) and im.mode == "RGB"
    from PIL import JpegImagePlugin

    assert JpegImagePlugin.get_sampling(im) == 2  # 4:2:0
    assert res.source_size == (640, 480)


def test_output_is_deterministic_and_close_to_a_full_decode() -> None:
    y, x = np.mgrid[0:1200, 0:1600] / 200.0
    smooth = np.stack([np.sin(x) * 100 + 128, np.cos(y) * 100 + 128, np.sin(x + y) * 100 + 128], -1)
    data = jpeg(Image.fromarray(smooth.astype(np.uint8), "RGB"))
    a, b = process_image(data, "a.jpg", SPEC), process_image(data, "a.jpg", SPEC)
    assert a.jpeg == b.jpeg
    full = Image.open(io.BytesIO(data)).convert("RGB").resize((64, 48), Image.Resampling.BICUBIC)
    diff = np.abs(np.asarray(decode(a.jpeg), float) - np.asarray(full, float)).mean()
    assert diff < 3  # draft (DCT-domain) decode differs from a full decode only slightly


@pytest.mark.parametrize(
    "mode,size",
    [("stretch", (64, 48)), ("center_crop", (64, 48)), ("pad", (64, 48)), ("keep_ratio", (64, 64))],
)
def test_resize_modes(mode: str, size: tuple[int, int]) -> None:
    res = process_image(jpeg(photo(3, (300, 300))), "a.jpg", ImageSpec(64, 48, mode))
    assert decode(res.jpeg).size == size


def test_pad_borders_are_white() -> None:
    res = process_image(
        jpeg(Image.new("RGB", (100, 400), (0, 0, 0))), "a.jpg", ImageSpec(64, 48, "pad")
    )
    arr = np.asarray(decode(res.jpeg))
    assert arr[:, 0].mean() > 240 and arr[24, 32].mean() < 20


def test_geometry_center_crop_keeps_the_middle() -> None:
    p = plan(400, 100, 50, 50, "center_crop")
    assert p.box == pytest.approx((0.375, 0.0, 0.625, 1.0)) and p.scaled == (50, 50)


def test_cmyk_is_converted_and_kept() -> None:
    res = process_image(jpeg(photo(4).convert("CMYK")), "a.jpg", SPEC)
    assert res.jpeg and [n[0] for n in res.notes] == ["converted_cmyk"]
    assert decode(res.jpeg).mode == "RGB"


def test_palette_with_transparency_is_composited_on_white() -> None:
    im = Image.new("P", (50, 50), 0)
    im.putpalette([0, 0, 0] + [255, 0, 0] * 255)
    res = process_image(png(im, transparency=0), "a.png", SPEC)
    assert np.asarray(decode(res.jpeg)).mean() > 240


def test_rgba_is_composited_on_white() -> None:
    res = process_image(png(Image.new("RGBA", (50, 50), (0, 0, 0, 0))), "a.png", SPEC)
    assert np.asarray(decode(res.jpeg)).mean() > 240


def test_sixteen_bit_greyscale() -> None:
    arr = (np.arange(100 * 80).reshape(80, 100) * 8).astype(np.uint16)
    res = process_image(png(Image.fromarray(arr)), "a.png", SPEC)
    assert res.reject is None and decode(res.jpeg).mode == "RGB"
    assert 0 < np.asarray(decode(res.jpeg)).mean() < 255


def test_greyscale_jpeg() -> None:
    res = process_image(jpeg(photo(5).convert("L")), "a.jpg", SPEC)
    assert res.reject is None and decode(res.jpeg).mode == "RGB"


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: a 160×120 file shows as 120×160
    im = Image.new("RGB", (160, 120), (255, 255, 255))
    im.paste((0, 0, 0), (0, 0, 80, 120))  # left half black
    res = process_image(jpeg(im, exif=exif), "a.jpg", ImageSpec(60, 80, "pad"))
    assert [n[0] for n in res.notes] == ["exif_rotated"]
    arr = np.asarray(decode(res.jpeg), float).mean(axis=2)
    assert arr[:30].mean() < 60 and arr[50:].mean() > 200  # black on top after rotation


def test_png_named_jpg_is_a_format_mismatch_and_kept() -> None:
    res = process_image(png(photo(6)), "x_eol-full-size-copy.jpg", SPEC)
    assert res.jpeg and [n[0] for n in res.notes] == ["format_mismatch"]


def test_decompression_bomb_is_rejected_from_the_header() -> None:
    data = jpeg(Image.new("L", (3000, 2000)))
    res = process_image(data, "a.jpg", ImageSpec(64, 48, max_image_pixels=1_000_000))
    assert res.jpeg is None and res.reject[0] == "image_too_large"


@pytest.mark.parametrize(
    "data,reason",
    [
        (jpeg(photo(7, (400, 300)))[:2000], "image_truncated"),
        (png(photo(7))[:300], "image_truncated"),
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "image_corrupt"),
        (b"not an image at all", "image_corrupt"),
        (b"", "image_corrupt"),
    ],
)
def test_broken_images_are_rejects_with_a_reason(data: bytes, reason: str) -> None:
    res = process_image(data, "a.jpg", SPEC)
    assert res.jpeg is None and res.reject[0] == reason
    assert res.reject[0] in REASONS


def test_reason_codes_are_known() -> None:
    for code in (
        "converted_cmyk",
        "exif_rotated",
        "format_mismatch",
        "image_too_large",
        "image_unsupported",
    ):
        assert code in REASONS
