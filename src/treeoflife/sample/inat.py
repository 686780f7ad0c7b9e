"""iNat21 (``inat21/train/NNNNN_Kingdom_..._epithet/<uuid>.jpg``) and the iNaturalist
Darwin Core Archive taxa and English vernacular names (``inat/dwca/``).

Planted in iNat21: a truncated JPEG, a PNG named .jpg and an EXIF-rotated JPEG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import formats
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.planted import planted_image
from treeoflife.sample.seeded import fake_uuid, h
from treeoflife.sample.taxa import RANKS, Taxon

INAT21_CLASSES = 9_973  # class numbers are spread over 00000-09972 (iNat21 has 10,000)
INAT21_SIZES = ((500, 375), (500, 333), (375, 500), (500, 500), (500, 281))
# species -> the planted image it gets besides its good ones
INAT21_PLANTED = {
    "Bubo virginianus": "truncated",
    "Cardinalis cardinalis": "png",
    "Danaus plexippus": "exif",
}
# the licenses list of the annotation JSON (COCO-style: images name one by id), and the
# code a build records for each
INAT21_LICENSES = (
    (
        {
            "id": 0,
            "name": "Attribution-NonCommercial License",
            "url": "http://creativecommons.org/licenses/by-nc/4.0/",
        },
        "cc-by-nc-4.0",
    ),
    (
        {
            "id": 1,
            "name": "Attribution License",
            "url": "http://creativecommons.org/licenses/by/4.0/",
        },
        "cc-by-4.0",
    ),
    (
        {
            "id": 2,
            "name": "Public Domain Dedication",
            "url": "http://creativecommons.org/publicdomain/zero/1.0/",
        },
        "cc0-1.0",
    ),
)
INAT21_OBSERVERS = ("Ken-ichi Ueda", "Scott Loarie", "Tony Iwane", "Colin Purrington")
INAT_TAXA_COLUMNS = [
    "id",
    "taxonID",
    "identifier",
    "parentNameUsageID",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "specificEpithet",
    "infraspecificEpithet",
    "modified",
    "scientificName",
    "taxonRank",
    "references",
]
INAT_VERNACULAR_COLUMNS = [
    "id",
    "vernacularName",
    "language",
    "locality",
    "countryCode",
    "source",
    "lexicon",
    "contributor",
    "created",
]


def write_inat21(dest: Path, species: Sequence[Taxon], names: CommonNames) -> list[ExpectedImage]:
    taxa = sorted(
        (t for t in species if t.has("inat21")), key=lambda t: [t.ranks[r] for r in RANKS]
    )
    n = len(taxa)
    images, records = [], []
    for i, t in enumerate(taxa):
        # class numbers keep the taxonomic order, spread over the whole range
        num = i * INAT21_CLASSES // n + (h("cls", t.key) % (INAT21_CLASSES // n))
        folder = f"{num:05d}_" + "_".join(t.ranks[r] for r in RANKS)
        kinds = ["ok"] * t.count("inat21")
        if t.key in INAT21_PLANTED:
            kinds.append(INAT21_PLANTED[t.key])
        for j, kind in enumerate(kinds):
            seed = h("inat21", t.key, j)
            fname = fake_uuid("inat21", t.key, j) + ".jpg"
            planted = planted_image(kind, seed, *INAT21_SIZES[seed % len(INAT21_SIZES)])
            rel = f"inat21/train/{folder}/{fname}"
            formats.write_bytes(dest / rel, planted.data)
            lic, code = INAT21_LICENSES[seed % len(INAT21_LICENSES)]
            records.append(
                {
                    "id": len(records) + 1,
                    "width": INAT21_SIZES[seed % len(INAT21_SIZES)][0],
                    "height": INAT21_SIZES[seed % len(INAT21_SIZES)][1],
                    "file_name": f"train/{folder}/{fname}",
                    "license": lic["id"],
                    "rights_holder": INAT21_OBSERVERS[seed % len(INAT21_OBSERVERS)],
                    "date": f"2019-0{1 + seed % 9}-1{seed % 10} 10:2{seed % 10}:00+00:00",
                    "latitude": round(30 + (seed % 2000) / 100, 5),
                    "longitude": round(-120 + (seed % 5000) / 100, 5),
                    "location_uncertainty": 5 + seed % 50,
                }
            )
            lab = label_of(t, common=names.of(t))
            images.append(
                ExpectedImage(
                    "inat21",
                    None,
                    rel,
                    identity_key("inat21", folder, fname),
                    lab,
                    label_status(lab),
                    planted.status,
                    planted.reason,
                    holdout=t.has("unseen"),
                    license=code,
                )
            )
    _write_annotations(dest, records)
    return images


def _write_annotations(dest: Path, records: list[dict]) -> None:
    """``inat21/train.json`` in the competition's COCO-style layout: images first, then
    categories and annotations (left empty: labels come from the class folders), and the
    licenses list last, as the published files have it."""
    formats.write_json(
        dest / "inat21/train.json",
        {
            "info": {"year": 2021, "version": "1.0", "description": "iNat2021 (sample)"},
            "images": records,
            "categories": [],
            "annotations": [],
            "licenses": [lic for lic, _ in INAT21_LICENSES],
        },
    )


def write_dwca(dest: Path, species: Sequence[Taxon]) -> None:
    """The DwC-A taxa (each species and, once, its genus) and English vernacular names of the
    ``inat`` and ``inat21`` species."""
    taxa_rows, vern_rows = [], []
    genera: dict[tuple[str, str], int] = {}  # (kingdom, genus) -> taxon id
    for t in species:
        if not (t.has("inat") or t.has("inat21")):
            continue
        r = t.ranks
        gkey = (r["kingdom"], r["genus"])
        if gkey not in genera:
            gid = 1000 + h("inat-genus", *gkey) % 900_000
            genera[gkey] = gid
            fam_id = 1000 + h("inat-family", r["kingdom"], r["family"]) % 900_000
            taxa_rows.append(
                [
                    gid,
                    f"https://www.inaturalist.org/taxa/{gid}",
                    gid,
                    f"https://www.inaturalist.org/taxa/{fam_id}",
                    *(r[x] for x in RANKS[:6]),
                    "",
                    "",
                    "2023-05-17T09:12:44Z",
                    r["genus"],
                    "genus",
                    f"https://www.inaturalist.org/taxa/{gid}",
                ]
            )
        tid = t.inat_taxon_id
        sci = f"{r['genus']} × {r['species']}" if t.hybrid else t.binomial
        taxa_rows.append(
            [
                tid,
                f"https://www.inaturalist.org/taxa/{tid}",
                tid,
                f"https://www.inaturalist.org/taxa/{genera[gkey]}",
                *(r[x] for x in RANKS[:6]),
                r["species"],
                "",
                "2023-08-02T21:40:13Z",
                sci,
                "hybrid" if t.hybrid else "species",
                f"https://www.inaturalist.org/taxa/{tid}",
            ]
        )
        if t.common_name:
            vern_rows.append(
                [tid, t.common_name, "en", "", "", "", "English", "", "2019-02-11T18:03:55Z"]
            )
            if t.eol_common and t.has("itis"):
                vern_rows.append(
                    [tid, t.eol_common, "en", "", "", "", "English", "", "2020-06-30T11:20:05Z"]
                )
    taxa_rows.sort(key=lambda row: row[0])
    vern_rows.sort(key=lambda row: (row[0], row[8]))
    formats.write_table(dest / "inat/dwca/taxa.csv", INAT_TAXA_COLUMNS, taxa_rows)
    formats.write_table(
        dest / "inat/dwca/VernacularNames-english.csv", INAT_VERNACULAR_COLUMNS, vern_rows
    )
