"""A generic folder (``generic/images/``) labelled by a CSV (``generic/labels.csv``) with the
names people really write: authorities, hybrids, "cf.", genus only, partial or wrong ranks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import formats, photos
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import RANKS, Taxon

GENERIC_COLUMNS = ["path", "scientific_name", *RANKS, "common"]


@dataclass(frozen=True)
class Row:
    """One image and its row in labels.csv, and the label a build must find."""

    file: str
    scientific_name: str  # as written
    ranks: dict[str, str] = field(default_factory=dict)  # the rank columns filled in
    common: str = ""  # the common column
    expect_taxon: str | None = None  # key of the taxon a build finds; None: none (ambiguous)
    expect_upto: str = "species"  # the lowest rank it finds


def _rows(by_key: dict[str, Taxon]) -> list[Row]:
    return [
        Row("IMG_0001.jpg", "Pieris"),
        Row(
            "IMG_0002.jpg",
            "Prunella vulgaris L.",
            {"kingdom": "Plantae"},
            expect_taxon="Prunella vulgaris",
        ),
        Row("IMG_0003.jpg", "Mentha × piperita", expect_taxon="Mentha piperita"),
        Row("IMG_0004.jpg", "Salix x rubens", expect_taxon="Salix rubens"),
        Row(
            "IMG_0005.jpg",
            "Lepus cf. europaeus",
            expect_taxon="Lepus europaeus",
            expect_upto="genus",
        ),
        Row(
            "IMG_0006.jpg",
            "Oenanthe",
            {"kingdom": "Animalia"},
            expect_taxon="Oenanthe oenanthe",
            expect_upto="genus",
        ),
        Row(
            "IMG_0007.jpg",
            "Boletus edulis",
            {"kingdom": "Fungi", "class": "(unidentified)", "order": "unknown"},
            expect_taxon="Boletus edulis",
        ),
        Row(
            "IMG_0008.jpg",
            "Taraxacum officinale",
            dict(by_key["Taraxacum officinale"].ranks),
            "Common Dandelion",
            "Taraxacum officinale",
        ),
        Row(
            "IMG_0009.jpg",
            "Canis lupus",
            {"kingdom": "Metazoa", "phylum": "Chordata"},
            expect_taxon="Canis lupus",
        ),
        Row(
            "IMG_0010.jpg",
            "Bellis perennis",
            {"family": "Asteraceae"},
            expect_taxon="Bellis perennis",
        ),
        Row(
            "IMG_0011.jpg",
            "Quercus alba",
            {"genus": "Quercus", "species": "alba"},
            expect_taxon="Quercus alba",
        ),
    ]


def write(dest: Path, taxa: Sequence[Taxon], names: CommonNames) -> list[ExpectedImage]:
    by_key = {t.key: t for t in taxa}
    table, images = [], []
    for row in _rows(by_key):
        rel = f"images/{row.file}"
        formats.write_bytes(
            dest / "generic" / rel, photos.photo_jpeg(h("generic", row.file), 800, 600)
        )
        table.append([rel, row.scientific_name, *(row.ranks.get(r, "") for r in RANKS), row.common])
        t = by_key[row.expect_taxon] if row.expect_taxon else None
        if t is None:
            lab, lstatus = label_of(None), "ambiguous"
            status, reason = "kept", "label_ambiguous"
        else:
            common = names.of(t) if row.expect_upto == "species" else ""
            lab = label_of(t, upto=row.expect_upto, common=common)
            lstatus, status, reason = label_status(lab), "ok", None
        images.append(
            ExpectedImage(
                "generic",
                None,
                f"generic/{rel}",
                identity_key("generic", rel),
                lab,
                lstatus,
                status,
                reason,
            )
        )
    formats.write_table(dest / "generic/labels.csv", GENERIC_COLUMNS, table)
    return images
