"""A small real-shaped source collection with planted broken images, and build helpers.

Until the resolve stage lands, ``fill_taxa`` stands in for it (ranks from the labels the
sources give); once ``treeoflife.stages.resolve`` exists, ``build`` runs the real stages.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from PIL import Image

from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.sample.photos import picture
from treeoflife.taxonomy.ranks import RANKS

CONFIG = """
[split]
val_percent = 20.0
train_small_percent = 30.0

[images]
width = 64
height = 48
max_image_pixels = 1000000

[shards]
max_samples = 7
"""

# planted broken or unusual EOL members: name -> expected reason
PLANTED = {
    "9001_1_eol-full-size-copy.jpg": "image_truncated",
    "9002_1_eol-full-size-copy.jpg": "image_corrupt",
    "9003_2_eol-full-size-copy.jpg": "converted_cmyk",
    "9004_2_eol-full-size-copy.jpg": "format_mismatch",
    "9005_3_eol-full-size-copy.jpg": "exif_rotated",
    "9006_3_eol-full-size-copy.jpg": "image_too_large",
}
INAT_CLASSES = (
    "00001_Animalia_Chordata_Aves_Passeriformes_Corvidae_Corvus_corax",
    "00002_Plantae_Tracheophyta_Magnoliopsida_Rosales_Rosaceae_Rosa_canina",
)


def photo(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A photo-like image, a different photo for each seed (the sample's generator: smooth
    colour fields, blobs and noise; gradients of a few slopes would be near duplicates of
    each other, and a build keeps one of those)."""
    return picture(seed, *size)


def jpeg(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def planted_bytes() -> dict[str, bytes]:
    good = jpeg(photo(99))
    png = io.BytesIO()
    photo(98).convert("P").save(png, "PNG", transparency=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    huge = io.BytesIO()
    Image.new("L", (4000, 3000)).save(huge, "JPEG", quality=10)
    return {
        "9001_1_eol-full-size-copy.jpg": good[: len(good) // 2],
        "9002_1_eol-full-size-copy.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
        "9003_2_eol-full-size-copy.jpg": jpeg(photo(97).convert("CMYK")),
        "9004_2_eol-full-size-copy.jpg": png.getvalue(),
        "9005_3_eol-full-size-copy.jpg": jpeg(photo(96, (120, 160)), exif=exif),
        "9006_3_eol-full-size-copy.jpg": huge.getvalue(),
    }


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_sources(root: Path, n_eol: int = 24, n_inat: int = 6) -> Path:
    """EOL archives (2) with planted members, and iNat21 class folders."""
    images = root / "eol" / "images"
    images.mkdir(parents=True)
    planted = planted_bytes()
    for part in range(2):
        with tarfile.open(images / f"set_{part:02d}.tar.gz", "w:gz") as tar:
            for i in range(n_eol // 2):
                cid = 1000 + part * 100 + i
                add_member(tar, f"{cid}_{1 + cid % 4}_eol-full-size-copy.jpg", jpeg(photo(cid)))
            for name, data in list(planted.items())[part::2]:
                add_member(tar, name, data)
    for k, cls in enumerate(INAT_CLASSES):
        folder = root / "inat21" / "train" / cls
        folder.mkdir(parents=True)
        for i in range(n_inat):
            (folder / f"img{i:03d}.jpg").write_bytes(jpeg(photo(5000 + 100 * k + i, (120, 160))))
    (root / "tol.toml").write_text(CONFIG)
    return root


def fill_taxa(out: Path, holdout: int = 2) -> list[str]:
    """Stand-in for resolve: taxa from the labels; the first ``holdout`` ids held out."""
    db = builddb.connect(out)
    rows = []
    for key, given in db.execute("SELECT label_key, given FROM labels ORDER BY label_key"):
        g = json.loads(given)
        ranks = g.get("ranks") or {
            "kingdom": "Animalia",
            "phylum": "Chordata",
            "class": "Aves",
            "order": "Passeriformes",
            "family": "Paridae",
            "genus": f"Parus{g.get('page_id', 0)}",
            "species": "major",
        }
        common = "common raven" if "Corvus" in key else ""
        prov = json.dumps({r: {"source": "test", "how": "given"} for r in RANKS})
        rows.append((key, *(ranks.get(r, "") for r in RANKS), common, "resolved", prov))
    ids = [
        r[0]
        for r in db.execute(
            "SELECT treeoflife_id FROM images ORDER BY treeoflife_id LIMIT ?", (holdout,)
        )
    ]
    with builddb.transaction(db):
        db.execute("DELETE FROM taxa")
        db.executemany("INSERT INTO taxa VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("DELETE FROM holdout")
        db.executemany("INSERT INTO holdout VALUES (?, 'test holdout')", [(i,) for i in ids])
        # resolve owns the holdout's rejects; plan only leaves the held-out images out
        db.execute("DELETE FROM rejects WHERE reason = 'rare_species_holdout'")
        db.executemany(
            "INSERT INTO rejects VALUES (?, 'resolve', 'rare_species_holdout', 'dropped', '', NULL)",
            [(i,) for i in ids],
        )
    db.close()
    return ids


def has_resolve() -> bool:
    try:
        import treeoflife.stages.resolve  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def tol(*args: str) -> int:
    return main([*args, "--no-progress"])


def build(src: Path, out: Path, workers: int = 1) -> None:
    """scan → resolve → split → select → (taxa) → shard → verify → catalog."""
    common = ["--out", str(out)]
    config = str(src / "tol.toml")
    assert (
        tol("scan", *common, "--sources", str(src), "--config", config, "--workers", str(workers))
        == 0
    )
    if has_resolve():
        assert tol("resolve", *common) == 0
    assert tol("split", *common) == 0
    assert tol("select", *common) == 0
    fill_taxa(out)
    for cmd in ("shard", "verify"):
        assert tol(cmd, *common, "--workers", str(workers)) == 0, cmd
    assert tol("catalog", *common) == 0


def shard_files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.glob("*x*/*/*"))
        if p.is_file()
    }
