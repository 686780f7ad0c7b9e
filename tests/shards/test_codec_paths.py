"""The codec's two decoders and its resampler: the fast path takes plain JPEGs, the Pillow
path everything else, and the output neither aliases nor depends on which path ran."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from shard_helpers import jpeg, photo

from treeoflife.images import ImageSpec, codec, jpeg_header, process_image
from treeoflife.images.geometry import MODES, dct_scale

SPEC = ImageSpec(width=64, height=48)


def grey(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float64)


def fine_stripes(size: tuple[int, int], target_width: int) -> bytes:
    """Stripes in six directions, every one above the output's Nyquist frequency along
    some axis (≥ 1.16× it): an ideal resize turns them into flat grey, and whatever
    survives in the output is aliasing (moiré)."""
    w, h = size
    nyquist = 0.5 * target_width / w  # output Nyquist, in cycles per source pixel
    low, high = min(2 * nyquist, 0.4), 0.45
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    angles = np.radians([0, 30, 60, 90, 120, 150])
    waves = sum(
        np.cos(2 * np.pi * (low + (high - low) * i / 5) * (x * np.cos(a) + y * np.sin(a)))
        for i, a in enumerate(angles)
    )
    pixels = np.clip(128 + waves * 110 / np.abs(waves).max(), 0, 255).astype(np.uint8)
    return jpeg(Image.fromarray(pixels).convert("RGB"), subsampling=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(120, 90), (400, 300), (800, 600)])  # DCT scale 1, 4, 8
def test_fine_stripes_above_nyquist_do_not_alias(mode: str, size: tuple[int, int]) -> None:
    import cv2

    data = fine_stripes(size, SPEC.width)
    source = grey(data)
    out = grey(process_image(data, "a.jpg", ImageSpec(64, 48, mode)).jpeg)
    # energy above Nyquist that reached the output, as a share of the input's
    assert out.var() / source.var() < 0.02
    # the measure sees aliasing where it is: cubic interpolation without a low-pass
    naive = cv2.resize(np.ascontiguousarray(source, np.float32), (64, 48), cv2.INTER_CUBIC)
    assert naive.var() / source.var() > 0.3


@pytest.mark.parametrize("mode", MODES)
def test_fast_and_pillow_paths_give_the_same_bytes(mode: str) -> None:
    """A JPEG (fast path) and the PNG of its decoded pixels (Pillow path) are one picture;
    with no DCT scaling both resample and encode the same pixels."""
    data = jpeg(photo(11, (120, 90)))
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    buf = io.BytesIO()
    decoded.save(buf, "PNG")
    spec = ImageSpec(64, 48, mode)
    assert codec._decode_fast(data, spec) is not None
    assert (
        process_image(data, "a.jpg", spec).jpeg == process_image(buf.getvalue(), "a.png", spec).jpeg
    )


def test_fast_path_matches_pillow_draft_decode() -> None:
    """At a DCT scale both decoders are libjpeg-turbo at the same scale: the fast path's
    pixels are the Pillow path's draft decode, so the path never shows in the output."""
    data = jpeg(photo(12, (800, 600)))
    fast = codec._decode_fast(data, SPEC)
    assert fast is not None and dct_scale(800, 600, (64, 48)) == 8
    slow = codec._decode_pillow(data, SPEC, [])
    assert fast[0].shape == slow[0].shape == (75, 100, 3)
    assert np.array_equal(fast[0], slow[0])


@pytest.mark.parametrize(
    "kind", ["baseline", "progressive", "greyscale", "exif_upright", "mpo_like_trailer"]
)
def test_plain_jpegs_take_the_fast_path(kind: str) -> None:
    """Speed relies on it: the common JPEGs never fall back to Pillow."""
    im = photo(13, (400, 300))
    exif = Image.Exif()
    exif[0x0112] = 1
    data = {
        "baseline": lambda: jpeg(im),
        "progressive": lambda: jpeg(im, progressive=True),
        "greyscale": lambda: jpeg(im.convert("L")),
        "exif_upright": lambda: jpeg(im, exif=exif),
        "mpo_like_trailer": lambda: jpeg(im) + b"\x00" * 16,
    }[kind]()
    assert codec._decode_fast(data, SPEC) is not None
    res = process_image(data, "a.jpg", SPEC)
    assert res.reject is None and res.notes == () and res.source_size == (400, 300)


def test_unusual_jpegs_fall_back_and_keep_their_notes() -> None:
    im = photo(14, (160, 120))
    rotated = Image.Exif()
    rotated[0x0112] = 6
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    )
    cases = {
        "cmyk": (jpeg(im.convert("CMYK")), ["converted_cmyk"]),
        "exif": (jpeg(im, exif=rotated), ["exif_rotated"]),
        "xmp": (jpeg(im, xmp=xmp), None),  # Pillow decides; we only must not skip it
        "truncated": (jpeg(im, progressive=True)[:1500], None),
    }
    for name, (data, notes) in cases.items():
        assert codec._decode_fast(data, SPEC) is None, name
        res = process_image(data, "a.jpg", SPEC)
        if notes is not None:
            assert [n[0] for n in res.notes] == notes, name
    assert process_image(cases["truncated"][0], "a.jpg", SPEC).reject[0] == "image_truncated"


def test_decompression_bomb_goes_to_the_pillow_path_and_is_rejected() -> None:
    data = jpeg(Image.new("RGB", (1200, 1000)))
    spec = ImageSpec(64, 48, max_image_pixels=1_000_000)
    assert codec._decode_fast(data, spec) is None
    assert process_image(data, "a.jpg", spec).reject[0] == "image_too_large"


@pytest.mark.parametrize("value", range(1, 9))
def test_orientation_from_markers_agrees_with_pillow(value: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = value
    exif[0x010F] = "camera"  # another tag before it, so the IFD walk is exercised
    data = jpeg(photo(15, (32, 24)), exif=exif)
    assert jpeg_header.orientation(data) == Image.open(io.BytesIO(data)).getexif()[0x0112]


def test_orientation_absent_or_unreadable() -> None:
    plain = jpeg(photo(16, (32, 24)))
    assert jpeg_header.orientation(plain) == 1
    no_tag = Image.Exif()
    no_tag[0x010F] = "camera"
    assert jpeg_header.orientation(jpeg(photo(16, (32, 24)), exif=no_tag)) == 1
    assert jpeg_header.orientation(plain[:2] + b"\x00" * 20) is None  # no marker list
    assert jpeg_header.orientation(plain[:20]) is None  # no frame header reached


def test_output_is_identical_across_calls_in_every_mode() -> None:
    data = jpeg(photo(17, (640, 480)))
    for mode in MODES:
        spec = ImageSpec(64, 48, mode)
        assert process_image(data, "a.jpg", spec).jpeg == process_image(data, "a.jpg", spec).jpeg


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "TIFF", "BMP", "WEBP"])
def test_other_formats_take_the_pillow_path(fmt: str) -> None:
    from PIL import features

    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("this Pillow has no WebP")
    buf = io.BytesIO()
    photo(18, (160, 120)).save(buf, fmt)
    data = buf.getvalue()
    assert codec._decode_fast(data, SPEC) is None
    res = process_image(data, f"a.{fmt.lower()}", SPEC)
    assert res.reject is None and res.notes == () and res.source_size == (160, 120)
    assert Image.open(io.BytesIO(res.jpeg)).size == (64, 48)
