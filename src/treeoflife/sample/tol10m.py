"""A published TreeOfLife-10M image set (``tol10m/image_set_01.tar.gz``, members named by
their ``treeoflife_id``) and its catalog (``tol10m/catalog.csv``), which also lists rows of
images that are not in the set, as the real catalog does."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from treeoflife.columns import CATALOG_COLUMNS
from treeoflife.ids import identity_key
from treeoflife.sample import formats, photos
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.seeded import ContentIds, fake_uuid, h
from treeoflife.sample.taxa import RANKS, Taxon

IMAGE_SET = "tol10m/image_set_01.tar.gz"
# TreeOfLife-10M's metadata/licenses.csv (one row per EOL image of the dataset)
LICENSE_COLUMNS = [
    "treeoflife_id",
    "eol_content_id",
    "eol_page_id",
    "md5",
    "medium_source_url",
    "eol_full_size_copy_url",
    "license_name",
    "copyright_owner",
    "license_link",
    "title",
]
# (license_name as TreeOfLife-10M writes it, license_link, the code a build records)
LICENSES = (
    ("cc-by-nc-sa-3.0", "https://creativecommons.org/licenses/by-nc-sa/3.0", "cc-by-nc-sa-3.0"),
    ("cc-publicdomain", "https://creativecommons.org/publicdomain/zero/1.0", "cc0-1.0"),
    ("cc-by-3.0", "https://creativecommons.org/licenses/by/3.0", "cc-by-3.0"),
)
# the published TreeOfLife-10M catalog has the columns our catalog writes
TOL10M_COLUMNS = list(CATALOG_COLUMNS)
# catalog rows of other sources, without images in this set (the real catalog lists all)
OTHER_ROWS = [
    [
        "train",
        fake_uuid("tol10m-row", 1),
        "",
        "",
        "",
        "",
        "02341_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major/0a1b2c3d.jpg",
        "02341_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major",
        "2341",
        "Animalia",
        "Chordata",
        "Aves",
        "Passeriformes",
        "Paridae",
        "Parus",
        "major",
        "Great Tit",
    ],
    [
        "val",
        fake_uuid("tol10m-row", 2),
        "",
        "",
        "58",
        "BIOUG68999-C07.jpg",
        "",
        "",
        "",
        "Animalia",
        "Arthropoda",
        "Insecta",
        "Diptera",
        "Cecidomyiidae",
        "",
        "",
        "",
    ],
]


def write(
    dest: Path, species: Sequence[Taxon], names: CommonNames, first_content_id: int
) -> list[ExpectedImage]:
    """The set's images of ``species``, and its catalog.

    The catalog's EOL content ids continue the EOL writer's sequence: the caller passes
    ``EolImages.last_content_id`` as ``first_content_id``. This keeps the sample
    byte-identical to when one counter served both writers; it is the one dependency
    between writers, and it is an argument, not shared state.
    """
    ids = ContentIds(first_content_id)
    rows, members, images, licensed = [], [], [], []
    for t in species:
        if not t.has("tol10m"):
            continue
        tid = fake_uuid("tol10m", t.key)
        cid = ids.next("tol10m", t.key)
        data = photos.photo_jpeg(h("tol10m", t.key), 640, 480)
        members.append((f"{tid}.jpg", data))
        name, link, code = LICENSES[h("tol10m-license", t.key) % len(LICENSES)]
        licensed.append(
            [
                tid,
                cid,
                t.eol_page_id,
                hashlib.md5(data).hexdigest(),
                f"http://calphotos.berkeley.edu/imgs/512x768/{cid % 9999:04d}.jpeg",
                f"https://content.eol.org/data/media/{cid % 97:02x}/{cid}.jpg",
                name,
                f"{2000 + cid % 20} Eric White",
                link,
                "not provided",
            ]
        )
        lab = label_of(t, common=names.of(t, t.eol_page_id))
        rows.append(
            [
                "train",
                tid,
                cid,
                t.eol_page_id,
                "",
                "",
                "",
                "",
                "",
                *(lab[r] for r in RANKS),
                lab["common"],
            ]
        )
        images.append(
            ExpectedImage(
                "tol10m",
                IMAGE_SET,
                f"{tid}.jpg",
                identity_key("tol10m", tid),
                lab,
                label_status(lab),
                license=code,
            )
        )
    rows += OTHER_ROWS
    rows.sort(key=lambda row: row[1])
    members.sort()
    formats.write_bytes(dest / IMAGE_SET, formats.gzip_bytes(formats.tar_bytes(members)))
    formats.write_table(dest / "tol10m/catalog.csv", TOL10M_COLUMNS, rows)
    formats.write_table(dest / "tol10m/licenses.csv", LICENSE_COLUMNS, sorted(licensed))
    return images
