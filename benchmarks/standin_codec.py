"""The image pass's worker with the codec stood in, for ``bench_at_scale.py``.

``encode_unit`` is the real worker (``treeoflife.shards.encode.encode_unit``: the unit's
archive inflated or its files read, every image's bytes sha256-hashed, its work file
written, fsynced and published) with one change: ``process_image`` does not decode. It
returns what the codec returns for a good 64×48 picture, made from the bytes alone: the
bytes as the "small JPEG" (so byte-identical sources share a digest and a work-file
size, as real duplicates do), 64×48, a pixel standard deviation well above the blank
filter's, and a 64-bit hash of the bytes as the perceptual hash (two different random
pictures' dHashes are as far apart). Everything the later stages read of the image pass
has the shapes and cardinalities a real pass gives; only the pixels were never looked at.

Lives in its own module so the scan's spawned worker processes can import it by name
(``spawn`` hands them the parent's ``sys.path``).
"""

from __future__ import annotations

import hashlib

from treeoflife.images import Encoded, ImageSpec
from treeoflife.shards import encode

real_encode_unit = encode.encode_unit


def standin_image(data: bytes, name: str, spec: ImageSpec) -> Encoded:
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return Encoded(
        data,
        source_size=(64, 48),
        pixel_std=30.0 + digest[0] % 40,
        phash=int.from_bytes(digest, "big", signed=True),
    )


def encode_unit(task: encode.UnitTask) -> encode.UnitResult:
    encode.process_image = standin_image  # this process's module: the worker's own import
    return real_encode_unit(task)


def install() -> None:
    """Make the scan hand its units to :func:`encode_unit` (in the driver, before a build)."""
    encode.encode_unit = encode_unit
    encode.process_image = standin_image  # inline runs (one worker) use the driver's module
