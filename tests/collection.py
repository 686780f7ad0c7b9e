"""Tiny source collections written in the published formats, for fast unit tests.

The full real-shaped sample lives in ``treeoflife.sample``; these are for tests that need
to add, remove or break a handful of files.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from PIL import Image


def jpeg_bytes(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small picture: a colour of the seed under a horizontal ramp (a flat frame would be
    left out by the default [filters] as blank)."""
    img = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    ramp = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.blend(img, ramp, 0.5)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_tar_gz(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))


def eol_member(content_id: int, page_id: int) -> str:
    return f"{content_id}_{page_id}_eol-full-size-copy.jpg"


INAT_CLASSES = (
    "00000_Animalia_Chordata_Aves_Suliformes_Sulidae_Morus_bassanus",
    "00001_Plantae_Tracheophyta_Magnoliopsida_Rosales_Moraceae_Morus_alba",
)


def write_small_collection(root: Path, *, eol_images: int = 6, inat_per_class: int = 3) -> Path:
    """An EOL image set and two iNat21 class folders."""
    members = {eol_member(1000 + i, 45509000 + i % 3): jpeg_bytes(i) for i in range(eol_images)}
    write_tar_gz(root / "eol/images/images_01.tar.gz", members)
    for c, cls in enumerate(INAT_CLASSES):
        folder = root / "inat21/train" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(inat_per_class):
            (folder / f"{c:02d}{i:06d}-aaaa.jpg").write_bytes(
                jpeg_bytes(100 + c * 50 + i)
            )  # no two alike
    return root
