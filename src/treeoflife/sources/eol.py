"""EOL image sets: ``eol/images/*.tar.gz`` of ``<content_id>_<page_id>_eol-full-size-copy.jpg``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from treeoflife.config import Config
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import Archive, ImageRecord, ScanReject, list_archives, relative

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


def identify(container: str, member: str, size: int) -> ImageRecord | ScanReject:
    """The image (and label) a member of an EOL image set is, by its name."""
    ids = parse_member(member)
    item = f"{container}#{member}"
    if ids is None:
        return ScanReject(
            item, "member_name_unparsed", "expected <content_id>_<page_id>_eol-full-size-copy.jpg"
        )
    if size == 0:
        return ScanReject(item, "empty_file")
    content_id, page_id = ids
    key = identity_key(NAME, f"{content_id}_{page_id}")
    return ImageRecord(
        treeoflife_id=treeoflife_id(key),
        identity_key=key,
        source=NAME,
        container=container,
        member=member,
        label_key=label_key(page_id),
        label={"page_id": page_id},
        size_bytes=size,
        columns={"eol_content_id": content_id, "eol_page_id": page_id},
    )


def scan(cfg: Config) -> Iterator[Archive]:
    root = Path(cfg.sources_root)
    for archive in input_files(cfg):
        container = relative(archive, root)
        yield Archive(NAME, container, partial(identify, container))
