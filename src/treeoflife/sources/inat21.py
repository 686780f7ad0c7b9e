"""iNat21 class folders: ``inat21/train/<NNNNN>_<Kingdom>_<Phylum>_..._<Genus>_<species>/*.jpg``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from treeoflife.config import Config
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import (
    IMAGE_SUFFIXES,
    Confinement,
    ImageRecord,
    ScanReject,
    name_not_utf8,
    relative,
)
from treeoflife.taxonomy.ranks import RANKS

NAME = "inat21"


def parse_class_folder(name: str) -> tuple[int, dict[str, str]] | None:
    """(class number, seven ranks) from a class folder name, or None."""
    parts = name.split("_")
    if len(parts) != 1 + len(RANKS) or not parts[0].isdigit() or not all(parts[1:]):
        return None
    return int(parts[0]), dict(zip(RANKS, parts[1:], strict=True))


def input_files(cfg: Config) -> list[Path]:
    # class folders, not files: their mtimes change when images are added or removed
    root = cfg.source_path("inat21")
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    root = Path(cfg.sources_root)
    confined = Confinement(cfg.source_path("inat21"))
    for folder in input_files(cfg):
        parsed = parse_class_folder(folder.name)
        rel_folder = relative(folder, root)
        if not confined.contains(folder):
            yield ScanReject(rel_folder, "path_outside_source", "a symlink")
            continue
        bad_name = name_not_utf8(rel_folder)
        if bad_name is not None:
            yield bad_name
            continue
        if parsed is None:
            yield ScanReject(
                rel_folder,
                "member_name_unparsed",
                "expected <NNNNN>_<Kingdom>_<Phylum>_<Class>_<Order>_<Family>_<Genus>_<species>",
            )
            continue
        cls_num, ranks = parsed
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if e.is_file()), key=lambda e: e.name)
        for entry in entries:
            member = f"{rel_folder}/{entry.name}"
            bad_name = name_not_utf8(member)
            if bad_name is not None:
                yield bad_name
                continue
            if entry.is_symlink() and not confined.contains(Path(entry.path)):
                yield ScanReject(member, "path_outside_source", "a symlink")
                continue
            if not entry.name.lower().endswith(IMAGE_SUFFIXES):
                yield ScanReject(member, "not_an_image_file")
                continue
            st = entry.stat()
            size = st.st_size
            if size == 0:
                yield ScanReject(member, "empty_file")
                continue
            key = identity_key(NAME, folder.name, entry.name)
            yield ImageRecord(
                treeoflife_id=treeoflife_id(key),
                identity_key=key,
                source=NAME,
                container=None,
                member=member,
                label_key=f"{NAME}:{folder.name}",
                label={"ranks": ranks, "cls_num": cls_num},
                size_bytes=size,
                mtime_ns=st.st_mtime_ns,
                # as the published catalog has them (the reference's make_mapping.py): the
                # bare file name and the folder name without its number, so catalogs join
                columns={
                    "inat21_filename": entry.name,
                    "inat21_cls_name": folder.name.split("_", 1)[1],
                    "inat21_cls_num": cls_num,
                },
            )
