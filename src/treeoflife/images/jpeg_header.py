"""The EXIF orientation of a JPEG, read from its marker segments without decoding it.

The fast path (``codec._decode_fast``) may only take a JPEG that needs no rotation, and
opening it in Pillow just to ask would cost a tenth of a small image's whole budget. This
walks the segments before the first frame header, as Pillow does, and answers the way
Pillow's ``getexif()`` would for orientation: the tag of IFD0 in the first ``Exif`` APP1
segment, 1 when there is none. When unsure (a malformed segment list, an odd tag type,
an XMP packet that may carry ``tiff:Orientation``, which Pillow also honours) it says
``None`` and the caller lets Pillow decide.
"""

from __future__ import annotations

ORIENTATION_TAG = 0x0112
_SHORT = 3  # TIFF field type of the orientation tag
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
# markers with no length field; SOF/SOS end the walk (orientation lives in APP segments)
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])
_FRAME_OR_SCAN = frozenset([*(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)), 0xDA])


def orientation(data: bytes) -> int | None:
    """EXIF orientation of JPEG ``data``: 1 when absent, None when this cannot tell."""
    i, n = 2, len(data)
    found: int | None = 1
    seen_exif = False
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in _FRAME_OR_SCAN:
            return found
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > n:
            return None
        if marker == 0xE1:
            body = data[i + 4 : i + 2 + length]
            if body.startswith(b"Exif\x00\x00") and not seen_exif:
                seen_exif = True
                found = _ifd0_orientation(body[6:])
                if found is None:
                    return None
            elif body.startswith(_XMP) and b"Orientation" in body:
                return None
        i += 2 + length
    return None  # no frame header: not a JPEG this can vouch for


def _ifd0_orientation(tiff: bytes) -> int | None:
    order = {b"II*\x00": "little", b"MM\x00*": "big"}.get(tiff[:4])
    if order is None:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    for j in range(int.from_bytes(tiff[ifd : ifd + 2], order)):
        entry = tiff[ifd + 2 + 12 * j : ifd + 14 + 12 * j]
        if len(entry) < 12:
            return None
        if int.from_bytes(entry[0:2], order) == ORIENTATION_TAG:
            if int.from_bytes(entry[2:4], order) != _SHORT:
                return None
            return int.from_bytes(entry[8:10], order)
    return 1
