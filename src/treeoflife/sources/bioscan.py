"""BIOSCAN-1M: the ``.jsonld`` metadata list and ``bioscan/images/part<N>/<image_file>``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from treeoflife.config import Config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import IMAGE_SUFFIXES, ImageRecord, ScanReject, relative

NAME = "bioscan"
# ranks BIOSCAN gives; everything above order is fixed for this insect collection
GIVEN_RANKS = ("order", "family", "subfamily", "tribe", "genus", "species")
FIXED_RANKS = {"kingdom": "Animalia", "phylum": "Arthropoda", "class": "Insecta"}


def input_files(cfg: Config) -> list[Path]:
    meta = cfg.source_path("bioscan_metadata")
    images = cfg.source_path("bioscan_images")
    parts = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
    return ([meta] if meta.is_file() else []) + parts


def load_metadata(path: Path) -> list[dict]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TolError(
            f"{path} is not readable BIOSCAN metadata (expected a JSON list): {exc}"
        ) from None
    if not isinstance(records, list):
        raise TolError(f"{path} is not BIOSCAN metadata: expected a JSON list of records")
    return records


def label_of(record: dict) -> dict[str, str]:
    ranks = dict(FIXED_RANKS)
    for rank in GIVEN_RANKS:
        ranks[rank] = str(record.get(rank) or "").strip()
    return ranks


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    meta = cfg.source_path("bioscan_metadata")
    if not meta.is_file():
        return
    root = Path(cfg.sources_root)
    images = cfg.source_path("bioscan_images")
    listed: set[str] = set()
    for record in load_metadata(meta):
        image_file = str(record.get("image_file") or "").strip()
        part = record.get("chunk_number")
        if not image_file or part in (None, ""):
            yield ScanReject(
                f"{relative(meta, root)}#{record.get('processid', '?')}",
                "label_missing",
                "record has no image_file or chunk_number",
            )
            continue
        member = relative(images / f"part{part}" / image_file, root)
        if member in listed:
            yield ScanReject(member, "duplicate_locator", "listed twice in the metadata")
            continue
        listed.add(member)
        try:
            size = (root / member).stat().st_size
        except OSError:
            yield ScanReject(member, "image_missing")
            continue
        if size == 0:
            yield ScanReject(member, "empty_file")
            continue
        ranks = label_of(record)
        key = identity_key(NAME, image_file)
        yield ImageRecord(
            treeoflife_id=treeoflife_id(key),
            identity_key=key,
            source=NAME,
            container=None,
            member=member,
            label_key=f"{NAME}:" + "|".join(ranks[r] for r in GIVEN_RANKS),
            label={"ranks": ranks, "name": ranks["species"]},
            size_bytes=size,
            columns={"bioscan_part": int(part), "bioscan_filename": image_file},
        )
    # images on disk that the metadata does not know cannot be labelled
    for part_dir in input_files(cfg)[1:]:
        for p in sorted(part_dir.iterdir()):
            rel = relative(p, root)
            if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES) and rel not in listed:
                yield ScanReject(rel, "label_missing", "not in the BIOSCAN metadata")
