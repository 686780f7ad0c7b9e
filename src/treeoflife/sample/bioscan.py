"""BIOSCAN-1M: images in ``bioscan/images/partN/`` and the metadata list
(``bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld``), with ``not_classified`` ranks, BIN
ids as species and order- or family-only taxa. Planted: one empty file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import formats, lineage, photos
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import Taxon

BIOSCAN_PARTS = (3, 17, 42, 58, 113)
BIOSCAN_KEYS = [
    "sampleid",
    "processid",
    "uri",
    "name",
    "phylum",
    "class",
    "order",
    "family",
    "subfamily",
    "tribe",
    "genus",
    "species",
    "nucraw",
    "image_file",
    "large_diptera_family",
    "medium_diptera_family",
    "small_diptera_family",
    "large_insect_order",
    "medium_insect_order",
    "small_insect_order",
    "chunk_number",
    "copyright_license",
    "copyright_holder",
    "copyright_institution",
    "copyright_contact",
    "photographer",
    "author",
]
# what BIOSCAN writes as the species of a Megaselia image not named to species, in turn
MEGASELIA_SPECIES = ["BOLD:AAN8214", "BOLD:ACZ3567", "Megaselia sp.", "not_classified"]
EMPTY_FILE_FAMILY = "Sciaridae"
DATASET_LICENSE = "cc-by-3.0"  # BIOSCAN-1M's, from the [rights] default (CC BY 3.0)  # the first image of this family is planted as an empty file


def write(dest: Path, taxa: Sequence[Taxon], names: CommonNames) -> list[ExpectedImage]:
    records, images = [], []
    empty_planted = False
    for t in taxa:
        for j in range(t.count("bioscan")):
            seed = h("bioscan", t.key, j)
            rec = _record(t, j, seed)
            records.append(rec)
            rel = f"bioscan/images/part{rec['chunk_number']}/{rec['image_file']}"
            status, reason = "ok", None
            if t.ranks["family"] == EMPTY_FILE_FAMILY and not empty_planted:
                data, status, reason, empty_planted = b"", "dropped", "empty_file", True
            else:
                data = photos.photo_jpeg(seed, (256, 288, 320, 341)[seed % 4], 256)
            formats.write_bytes(dest / rel, data)
            lab = label_of(t, common=names.of(t))
            images.append(
                ExpectedImage(
                    "bioscan",
                    None,
                    rel,
                    identity_key("bioscan", rec["image_file"]),
                    lab,
                    label_status(lab),
                    status,
                    reason,
                    holdout=t.has("unseen"),
                    license=DATASET_LICENSE if data else "unknown",  # empty: never listed
                )
            )
    records.sort(key=lambda rec: rec["processid"])
    formats.write_json(
        dest / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld",
        [{k: rec[k] for k in BIOSCAN_KEYS} for rec in records],
    )
    return images


def _nc(v: str) -> str:
    return v or "not_classified"


def _record(t: Taxon, j: int, seed: int) -> dict:
    """The metadata record of image ``j`` of ``t``."""
    letters = "".join(chr(65 + (seed >> (5 * k)) % 26) for k in range(3))
    sampleid = f"BIOUG{68000 + seed % 3000}-{'ABCDEFGH'[seed % 8]}{1 + (seed >> 8) % 12:02d}"
    bin_uri = f"BOLD:A{letters[:2]}{seed % 10000:04d}"
    r = t.ranks
    sub, tribe = lineage.subfamily_tribe("Animalia", r["genus"])
    if t.is_species:
        species_value = t.binomial
    elif r["genus"] == "Megaselia":
        species_value = MEGASELIA_SPECIES[j % len(MEGASELIA_SPECIES)]
        if species_value.startswith("BOLD:"):
            bin_uri = species_value
    else:
        species_value = "not_classified"
    diptera_family = _nc(r["family"]) if r["order"] == "Diptera" else "not_diptera"
    return {
        "sampleid": sampleid,
        "processid": f"BIOSCAN{1_000_000 + seed % 900_000}-21",
        "uri": bin_uri,
        "name": t.binomial if t.is_species else (r["genus"] or r["family"] or r["order"]),
        "phylum": "Arthropoda",
        "class": "Insecta",
        "order": _nc(r["order"]),
        "family": _nc(r["family"]),
        "subfamily": _nc(sub),
        "tribe": _nc(tribe),
        "genus": _nc(r["genus"]),
        "species": species_value,
        "nucraw": "".join("ACGT"[(seed >> (2 * (k % 30))) % 4 ^ (k % 4)] for k in range(658)),
        "image_file": f"{sampleid}.jpg",
        "large_diptera_family": diptera_family,
        "medium_diptera_family": diptera_family,
        "small_diptera_family": diptera_family,
        "large_insect_order": _nc(r["order"]),
        "medium_insect_order": _nc(r["order"]),
        "small_insect_order": _nc(r["order"]),
        "chunk_number": BIOSCAN_PARTS[(seed >> 16) % len(BIOSCAN_PARTS)],
        "copyright_license": "CreativeCommons - Attribution Non-Commercial Share-Alike",
        "copyright_holder": "CBG Photography Group",
        "copyright_institution": "Centre for Biodiversity Genomics",
        "copyright_contact": "ccdbcurator@uoguelph.ca",
        "photographer": "CBG Robotic Imager",
        "author": "CBG Robotic Imager",
    }
