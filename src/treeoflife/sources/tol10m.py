"""Published TreeOfLife-10M EOL image sets: ``image_set_NN.tar.gz`` of ``<treeoflife_id>.jpg``.

They come with the dataset's ``catalog.csv``, whose ranks and ids we keep: these images
already have a treeoflife_id, and rebuilding must not change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from treeoflife.config import Config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key
from treeoflife.sources.base import (
    Archive,
    ImageRecord,
    ScanReject,
    csv_records,
    list_archives,
    relative,
)
from treeoflife.taxonomy.ranks import RANKS

NAME = "tol10m"


def input_files(cfg: Config) -> list[Path]:
    catalog = cfg.source_path("tol10m_catalog")
    return ([catalog] if catalog.is_file() else []) + list_archives(
        cfg.source_path("tol10m_images")
    )


def load_catalog(path: Path) -> dict[str, dict[str, str]]:
    rows = csv_records(path, ("treeoflife_id", *RANKS), "a TreeOfLife-10M catalog")
    return {row["treeoflife_id"]: row for row in rows}


def identify(
    catalog: dict[str, dict[str, str]], container: str, member: str, size: int
) -> ImageRecord | ScanReject:
    """A member ``<treeoflife_id>.jpg`` with its label from the set's catalog."""
    item = f"{container}#{member}"
    stem = member.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    row = catalog.get(stem)
    if row is None:
        return ScanReject(item, "label_missing", "treeoflife_id not in catalog.csv")
    if size == 0:
        return ScanReject(item, "empty_file")
    ranks = {r: row.get(r, "") for r in RANKS}
    return ImageRecord(
        treeoflife_id=stem,
        identity_key=identity_key(NAME, stem),
        source=NAME,
        container=container,
        member=member,
        label_key=f"{NAME}:" + "|".join(ranks[r] for r in RANKS),
        label={"ranks": ranks, "common": row.get("common", "")},
        size_bytes=size,
        columns={
            k: (int(row[k]) if row.get(k, "").isdigit() else None)
            for k in ("eol_content_id", "eol_page_id")
        },
    )


def scan(cfg: Config) -> Iterator[Archive]:
    catalog_path = cfg.source_path("tol10m_catalog")
    archives = list_archives(cfg.source_path("tol10m_images"))
    if not archives:
        return
    if not catalog_path.is_file():
        raise TolError(
            f"{catalog_path} is missing: TreeOfLife-10M image sets need their catalog.csv for labels"
        )
    catalog = load_catalog(catalog_path)
    st = catalog_path.stat()
    labels_from = (st.st_size, st.st_mtime_ns)  # a changed catalog relabels every member
    root = Path(cfg.sources_root)
    for archive in archives:
        container = relative(archive, root)
        yield Archive(NAME, container, partial(identify, catalog, container), labels_from)
