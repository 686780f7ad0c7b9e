"""A BIOSCAN-5M part: the metadata CSV
(``bioscan5m/metadata/csv/BIOSCAN_5M_Insect_Dataset_metadata.csv``, the columns in the
published order) and the ``cropped_256`` images of its rows in
``bioscan5m/images/cropped_256/<split>/<chunk>/<processid>.jpg``, one specimen per
BIOSCAN taxon of the table. Ranks the specimen was not identified to are empty (the
published CSV leaves them empty); the BIN (``dna_bin``) is always there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import formats, photos
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import Taxon
from treeoflife.sources.bioscan5m import image_path

METADATA = "bioscan5m/metadata/csv/BIOSCAN_5M_Insect_Dataset_metadata.csv"
IMAGES = "bioscan5m/images/cropped_256"
COLUMNS = tuple(
    [
        "processid",
        "sampleid",
        "taxon",
        "phylum",
        "class",
        "order",
        "family",
        "subfamily",
        "genus",
        "species",
        "dna_bin",
        "dna_barcode",
        "country",
        "province_state",
        "coord-lat",
        "coord-lon",
        "image_measurement_value",
        "area_fraction",
        "scale_factor",
        "inferred_ranks",
        "split",
        "index_bioscan_1M_insect",
        "chunk",
    ]
)
SPLITS = ("pretrain", "pretrain", "train", "val", "test", "key_unseen")
SITES = (("Canada", "Ontario", 43.53, -80.22), ("Costa Rica", "Guanacaste", 10.84, -85.61))


def write(dest: Path, taxa: Sequence[Taxon], names: CommonNames) -> list[ExpectedImage]:
    rows, images = [], []
    for t in taxa:
        if not t.has("bioscan"):
            continue
        seed = h("bioscan5m", t.key)
        row = _row(t, seed)
        rows.append(row)
        rel = f"{IMAGES}/{image_path(row)}"
        formats.write_bytes(dest / rel, photos.photo_jpeg(seed, 256, (256, 341, 320)[seed % 3]))
        lab = label_of(t, common=names.of(t))
        images.append(
            ExpectedImage(
                "bioscan5m",
                None,
                rel,
                identity_key("bioscan5m", row["processid"]),
                lab,
                label_status(lab),
                holdout=t.has("unseen"),
            )
        )
    rows.sort(key=lambda r: r["processid"])
    formats.write_table(dest / METADATA, COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    return images


def _row(t: Taxon, seed: int) -> dict[str, object]:
    r = t.ranks
    letters = "".join(chr(65 + (seed >> (5 * k)) % 26) for k in range(4))
    split = SPLITS[seed % len(SPLITS)]
    chunk = f"{seed >> 8 & 0xFF:02x}" if split == "pretrain" else ""
    if split == "train":
        chunk = f"{seed >> 8 & 0xF:x}"
    country, province, lat, lon = SITES[seed % len(SITES)]
    species = t.binomial if t.is_species else ""
    taxon = species or r["genus"] or r["family"] or r["order"]
    return {
        "processid": f"{letters}{100 + seed % 9000}-{19 + seed % 5}",
        "sampleid": f"BIOUG{70000 + seed % 30000}-{'ABCDEFGH'[seed % 8]}{1 + (seed >> 4) % 12:02d}",
        "taxon": taxon,
        "phylum": "Arthropoda",
        "class": "Insecta",
        "order": r["order"],
        "family": r["family"],
        "subfamily": "",
        "genus": r["genus"],
        "species": species,
        "dna_bin": f"BOLD:A{letters[:2]}{seed % 10000:04d}",
        "dna_barcode": "".join("ACGT"[(seed >> (2 * (k % 30))) % 4 ^ (k % 4)] for k in range(658)),
        "country": country,
        "province_state": province,
        "coord-lat": lat,
        "coord-lon": lon,
        "image_measurement_value": 20_000 + seed % 200_000,
        "area_fraction": round(0.05 + (seed % 500) / 1000, 3),
        "scale_factor": round(1.5 + (seed % 300) / 100, 3),
        "inferred_ranks": 0,
        "split": split,
        "index_bioscan_1M_insect": "",
        "chunk": chunk,
    }
