"""EOL image sets: ``eol/images/*.tar.gz`` of ``<content_id>_<page_id>_eol-full-size-copy.jpg``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from treeoflife.config import Config
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import (
    ArchiveError,
    ImageRecord,
    ScanReject,
    iter_tar,
    list_archives,
    relative,
)

NAME = "eol"
MEMBER_PATTERN = re.compile(r"^(\d+)_(\d+)_eol-full-size-copy\.jpg$")


def label_key(page_id: int) -> str:
    return f"eol:page:{page_id}"


def parse_member(name: str) -> tuple[int, int] | None:
    """(content_id, page_id) from a member name, or None when it does not follow the scheme."""
    m = MEMBER_PATTERN.match(name.rsplit("/", 1)[-1])
    return (int(m.group(1)), int(m.group(2))) if m else None


def input_files(cfg: Config) -> list[Path]:
    return list_archives(cfg.source_path("eol_images"))


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    root = Path(cfg.sources_root)
    for archive in input_files(cfg):
        container = relative(archive, root)
        try:
            for info, _ in iter_tar(archive):
                ids = parse_member(info.name)
                item = f"{container}#{info.name}"
                if ids is None:
                    yield ScanReject(
                        item,
                        "member_name_unparsed",
                        "expected <content_id>_<page_id>_eol-full-size-copy.jpg",
                    )
                    continue
                if info.size == 0:
                    yield ScanReject(item, "empty_file")
                    continue
                content_id, page_id = ids
                key = identity_key(NAME, f"{content_id}_{page_id}")
                yield ImageRecord(
                    treeoflife_id=treeoflife_id(key),
                    identity_key=key,
                    source=NAME,
                    container=container,
                    member=info.name,
                    label_key=label_key(page_id),
                    label={"page_id": page_id},
                    size_bytes=info.size,
                    columns={"eol_content_id": content_id, "eol_page_id": page_id},
                )
        except ArchiveError as exc:
            yield ScanReject(container, exc.reason, exc.detail)
