"""Licenses and rights holders from the metadata files sources publish beside their images.

Each reader streams one published file a record at a time (they run to millions of rows;
iNat21's ``train.json`` is about a gigabyte) and yields plain tuples keyed the way the
build's ``images`` relation can be joined: scan loads them into temporary tables and joins
them in SQLite, so neither side is held in Python. The layouts are in docs/sources.md:

- EOL media manifest (``eol/media_manifest.csv``): ``EOL content ID``, ``License Name``,
  ``Copyright Owner``, ``Medium Source URL`` — keyed by content id (TreeOfLife-10M images
  carry their EOL content id too);
- TreeOfLife-10M ``metadata/licenses.csv`` (``tol10m/licenses.csv``): ``treeoflife_id``,
  ``license_name``, ``copyright_owner``, ``license_link``, ``medium_source_url``;
- iNat21 annotations (``inat21/train.json``, ``inat21/val.json``), COCO-style: each of
  ``images`` has ``file_name`` (``train/<class folder>/<uuid>.jpg``), ``license`` (an id
  into ``licenses``: ``{"id", "name", "url"}``) and ``rights_holder`` — keyed by class
  number and file name, as ``images`` has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from treeoflife.errors import TolError
from treeoflife.sources.base import csv_records

EOL_MANIFEST_COLUMNS = ("EOL content ID", "License Name", "Copyright Owner", "Medium Source URL")
TOL10M_LICENSE_COLUMNS = ("treeoflife_id", "license_name", "copyright_owner")


def eol_manifest(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """(content id, license name, copyright owner, medium source URL) of each manifest row."""
    for row in csv_records(path, EOL_MANIFEST_COLUMNS[:2], "an EOL media manifest"):
        cid = (row.get("EOL content ID") or "").strip()
        if cid.isdigit():
            yield (int(cid), *((row.get(c) or "").strip() for c in EOL_MANIFEST_COLUMNS[1:]))


def tol10m_licenses(path: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(treeoflife_id, license name, copyright owner, license link, medium source URL)."""
    what = "a TreeOfLife-10M licenses.csv"
    for row in csv_records(path, TOL10M_LICENSE_COLUMNS, what):
        tid = (row.get("treeoflife_id") or "").strip()
        if tid:
            yield (
                tid,
                *(
                    (row.get(c) or "").strip()
                    for c in (
                        "license_name",
                        "copyright_owner",
                        "license_link",
                        "medium_source_url",
                    )
                ),
            )


def inat21_licenses(path: Path) -> Iterator[tuple]:
    """``(id, name, url)`` of each of an iNat21 annotation file's ``licenses``."""
    return _coco_items(path, "licenses.item", _license)


def inat21_images(path: Path) -> Iterator[tuple]:
    """``(class number, file name, license id, rights holder)`` of each of its ``images``."""
    return _coco_items(path, "images.item", _image)


def _coco_items(path: Path, prefix: str, make: Any) -> Iterator[tuple]:
    """The records under ``prefix``, built by ijson's C parser (one pass each for the
    licenses and the images, which COCO files put after them, is faster than one pass
    building both in Python: 2.1 against 3.0 CPU s for 200K images)."""
    import ijson  # streams the ~1 GB file; only scans that have one pay its import

    try:
        with path.open("rb") as fh:
            for record in ijson.items(fh, prefix, use_float=True):
                out = make(record)
                if out is not None:
                    yield out
    except (ijson.JSONError, ijson.IncompleteJSONError, OSError, UnicodeDecodeError) as exc:
        raise TolError(
            f"{path} is not a readable iNat21 annotation file (COCO-style JSON): {exc}"
        ) from None


def _image(record: Any) -> tuple | None:
    if not isinstance(record, dict):
        return None
    parts = str(record.get("file_name") or "").split("/")
    number = parts[-2].split("_", 1)[0] if len(parts) >= 2 else ""
    if not number.isdigit():
        return None
    holder = record.get("rights_holder")
    return (
        int(number),
        parts[-1],
        record.get("license"),
        holder.strip() if isinstance(holder, str) else "",
    )


def _license(record: Any) -> tuple | None:
    if not isinstance(record, dict) or record.get("id") is None:
        return None
    return (
        record["id"],
        str(record.get("name") or "").strip(),
        str(record.get("url") or "").strip(),
    )
