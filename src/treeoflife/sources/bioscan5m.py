"""BIOSCAN-5M: the metadata CSV and the images of one package, as the dataset unpacks.

``bioscan5m/metadata/csv/BIOSCAN_5M_Insect_Dataset_metadata.csv`` (from
``BIOSCAN_5M_Insect_Dataset_metadata_MultiTypes.zip``) has a row per specimen; its image is
``bioscan5m/images/<package>/<split>/<chunk>/<processid>.jpg`` where ``package`` is
``cropped_256`` (the default here), ``original_256``, ``cropped`` or ``original_full``,
``split`` the row's partition and ``chunk`` its packaging folder (empty for the small
partitions: the image is then straight in ``<split>/``). The layout is the one the
dataset's own loader (``bioscan-dataset``) reads.

A different module from BIOSCAN-1M's (``bioscan.py``): the two share neither a file format
(a CSV table here, one JSON list there), a layout (split/chunk vs ``part<N>``) nor an id
(``processid`` here, the image file name there). With ~5.2M rows, the names seen are kept
in a temporary SQLite file (:class:`~treeoflife.sources.base.DiskSet`), not in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from treeoflife.config import Config
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import (
    Confinement,
    ImageRecord,
    ScanReject,
    csv_records,
    disk_set,
    name_not_utf8,
    relative,
)

NAME = "bioscan5m"
GIVEN_RANKS = ("phylum", "class", "order", "family", "genus", "species")
KINGDOM = "Animalia"  # every BIOSCAN-5M specimen is an animal (98% insects)
REQUIRED = ("processid", *GIVEN_RANKS, "split")
WHAT = "BIOSCAN-5M metadata (BIOSCAN_5M_Insect_Dataset_metadata.csv)"


def _image_dirs(images: Path) -> list[Path]:
    """The split folders and their chunk folders: a new or removed image changes one."""
    if not images.is_dir():
        return []
    splits = sorted(p for p in images.iterdir() if p.is_dir())
    return splits + sorted(c for s in splits for c in s.iterdir() if c.is_dir())


def input_files(cfg: Config) -> list[Path]:
    meta = cfg.source_path("bioscan5m_metadata")
    if not meta.is_file():
        return []
    return [meta, *_image_dirs(cfg.source_path("bioscan5m_images"))]


def image_path(row: dict[str, str]) -> str:
    """``<split>/<chunk>/<processid>.jpg`` (no chunk folder when ``chunk`` is empty)."""
    chunk = (row.get("chunk") or "").strip()
    parts = [row["split"].strip(), *([chunk] if chunk else []), row["processid"].strip() + ".jpg"]
    return "/".join(parts)


def label_of(row: dict[str, str]) -> tuple[str, dict]:
    ranks = {"kingdom": KINGDOM, **{r: (row.get(r) or "").strip() for r in GIVEN_RANKS}}
    name = ranks["species"] or (row.get("taxon") or "").strip()
    key = f"{NAME}:" + json.dumps(list(ranks.values()), ensure_ascii=False)
    return key, {"name": name, "ranks": ranks}


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    meta = cfg.source_path("bioscan5m_metadata")
    if not meta.is_file():
        return
    root = Path(cfg.sources_root)
    images = cfg.source_path("bioscan5m_images")
    meta_item = relative(meta, root)
    confined = Confinement(images)
    with disk_set() as listed:
        for index, row in enumerate(csv_records(meta, REQUIRED, WHAT)):
            yield _item(row, index, meta_item, root, images, listed, confined)
        # images on disk that the metadata does not list cannot be labelled
        for folder in _image_dirs(images):
            for p in sorted(folder.iterdir()):
                rel = relative(p, root)
                if p.is_file() and p.suffix.lower() == ".jpg" and rel not in listed:
                    yield name_not_utf8(rel) or ScanReject(
                        rel, "label_missing", "not in the BIOSCAN-5M metadata"
                    )


def _item(
    row: dict[str, str],
    index: int,
    meta_item: str,
    root: Path,
    images: Path,
    listed,
    confined: Confinement,
) -> ImageRecord | ScanReject:
    processid = (row.get("processid") or "").strip()
    if not processid or not (row.get("split") or "").strip():
        return ScanReject(
            f"{meta_item}#[{index}]", "label_missing", "the row has no processid or no split"
        )
    path = images / image_path(row)
    member = relative(path, root)
    if not listed.add(member):
        return ScanReject(member, "duplicate_locator", "listed twice in the metadata")
    if not confined.contains(path):
        return ScanReject(member, "path_outside_source", f"split/chunk of {processid}")
    try:
        st = path.stat()
    except OSError:
        return ScanReject(member, "image_missing")
    if st.st_size == 0:
        return ScanReject(member, "empty_file")
    key = identity_key(NAME, processid)
    label_key, label = label_of(row)
    return ImageRecord(
        treeoflife_id=treeoflife_id(key),
        identity_key=key,
        source=NAME,
        container=None,
        member=member,
        label_key=label_key,
        label=label,
        size_bytes=st.st_size,
        mtime_ns=st.st_mtime_ns,
        provenance={
            "processid": processid,
            "sampleid": (row.get("sampleid") or "").strip(),
            "dna_bin": (row.get("dna_bin") or "").strip(),
            "split": row["split"].strip(),
        },
    )
