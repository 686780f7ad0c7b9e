"""A generic folder (``generic/images/``) labelled by a CSV (``generic/labels.csv``) with the
names people really write: authorities, hybrids, "cf.", genus only, partial or wrong ranks,
and the optional ``license``, ``rights_holder`` and ``source_url`` columns written as people
write them (some left empty: unknown).

Planted here, one for each quality filter: an 8x8 thumbnail, a 4000x40 strip, an all-black
frame and an "image not available" placeholder tile, whose sha256 is listed in
``placeholders.sha256`` at the collection's root."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import formats
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.planted import planted_image
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import RANKS, Taxon

GENERIC_COLUMNS = [
    "path",
    "scientific_name",
    *RANKS,
    "common",
    "license",
    "rights_holder",
    "source_url",
]
PLACEHOLDERS = "placeholders.sha256"
# (license as written, the code a build records), by row in turn
LICENSES = (
    ("CC BY 4.0", "cc-by-4.0"),
    ("CC0", "cc0-1.0"),
    ("CC BY-NC 4.0", "cc-by-nc-4.0"),
    ("", "unknown"),
    ("https://creativecommons.org/licenses/by-sa/4.0/", "cc-by-sa-4.0"),
    ("Public Domain", "public-domain"),
    ("All rights reserved", "all-rights-reserved"),
)
HOLDERS = ("Anna Keller", "Biodiversity Heritage Library", "J. M. Garg", "")


@dataclass(frozen=True)
class Row:
    """One image and its row in labels.csv, and the label a build must find."""

    file: str
    scientific_name: str  # as written
    ranks: dict[str, str] = field(default_factory=dict)  # the rank columns filled in
    common: str = ""  # the common column
    expect_taxon: str | None = None  # key of the taxon a build finds; None: none (ambiguous)
    expect_upto: str = "species"  # the lowest rank it finds
    kind: str = "ok"  # a planted kind (sample.planted): the filtered ones are dropped


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
        Row("IMG_0012.jpg", "Bellis perennis", expect_taxon="Bellis perennis", kind="tiny"),
        Row("IMG_0013.jpg", "Quercus alba", expect_taxon="Quercus alba", kind="strip"),
        Row("IMG_0014.jpg", "Canis lupus", expect_taxon="Canis lupus", kind="blank"),
        Row(
            "IMG_0015.png",
            "Taraxacum officinale",
            expect_taxon="Taraxacum officinale",
            kind="placeholder",
        ),
        # synonyms in another genus that only one backbone knows: ColDP, GBIF
        Row("IMG_0016.jpg", "Felis leo Linnaeus, 1758", expect_taxon="Panthera leo"),
        Row("IMG_0017.jpg", "Motacilla rubecula", expect_taxon="Erithacus rubecula"),
    ]


def write(dest: Path, taxa: Sequence[Taxon], names: CommonNames) -> list[ExpectedImage]:
    by_key = {t.key: t for t in taxa}
    table, images, placeholders = [], [], []
    for k, row in enumerate(_rows(by_key)):
        rel = f"images/{row.file}"
        planted = planted_image(row.kind, h("generic", row.file), 800, 600)
        formats.write_bytes(dest / "generic" / rel, planted.data)
        if row.kind == "placeholder":
            placeholders.append(f"{hashlib.sha256(planted.data).hexdigest()}  generic/{rel}\n")
        text, code = LICENSES[k % len(LICENSES)]
        holder = HOLDERS[k % len(HOLDERS)]
        url = f"https://www.flickr.com/photos/{k + 1:04d}/" if holder else ""
        table.append(
            [
                rel,
                row.scientific_name,
                *(row.ranks.get(r, "") for r in RANKS),
                row.common,
                text,
                holder,
                url,
            ]
        )
        t = by_key[row.expect_taxon] if row.expect_taxon else None
        if t is None:
            lab, lstatus = label_of(None), "ambiguous"
            status, reason = "kept", "label_ambiguous"
        else:
            common = names.of(t) if row.expect_upto == "species" else ""
            lab = label_of(t, upto=row.expect_upto, common=common)
            lstatus, status, reason = label_status(lab), planted.status, planted.reason
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
                license=code,
            )
        )
    formats.write_table(dest / "generic/labels.csv", GENERIC_COLUMNS, table)
    (dest / PLACEHOLDERS).write_text(
        "# sha256 of known placeholder images ('image not available' tiles), as sha256sum "
        "writes them\n" + "".join(placeholders),
        encoding="utf-8",
    )
    return images
