"""A user's own images: a folder with ``labels.csv`` (or ``labels.parquet``).

The table has a ``path`` column (relative to the folder) and any of ``scientific_name``,
the seven rank columns and ``common``, and optionally ``license``, ``rights_holder`` and
``source_url`` (``tol fetch-images`` passes them through from its URL list, and writes
the URL it fetched as ``url``, the source URL when there is no ``source_url``); an empty
license is ``[rights] generic_license``, unknown by default. Images in the folder that the table does not list
have no label and are rejected as such; rows whose file is missing likewise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from treeoflife.config import Config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import (
    IMAGE_SUFFIXES,
    Confinement,
    ImageRecord,
    Rights,
    ScanReject,
    csv_records,
    name_not_utf8,
    relative,
)
from treeoflife.taxonomy.ranks import RANKS

NAME = "generic"
LABEL_COLUMNS = ("scientific_name", *RANKS, "common")
RIGHTS_COLUMNS = ("license", "rights_holder", "source_url")


def _table(folder: Path) -> Path | None:
    for name in ("labels.csv", "labels.parquet"):
        if (folder / name).is_file():
            return folder / name
    return None


def input_files(cfg: Config) -> list[Path]:
    folder = cfg.source_path("generic")
    table = _table(folder) if folder.is_dir() else None
    if table is None:
        return []
    return [table] + sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)
    )


def read_rows(table: Path) -> list[dict[str, str]]:
    """The label table's rows; a table that cannot be read is one line naming it."""
    what = "a label table (it needs a 'path' column: image path relative to its folder)"
    if table.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(table).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise TolError(f"{table} is not a readable Parquet file: {exc}") from None
        if rows and "path" not in rows[0]:
            raise TolError(f"{table} is not {what}: missing column(s) path")
    else:
        rows = list(csv_records(table, ("path",), what))
    return [{k: ("" if v is None else str(v)) for k, v in row.items()} for row in rows]


def _rights(row: dict[str, str], origin: str, default_license: str) -> Rights | None:
    """A row's license, rights holder and URL; the configured license where it has none."""
    text, holder, url = (row.get(c, "").strip() for c in RIGHTS_COLUMNS)
    # a folder `tol fetch-images` wrote has the URL each image was fetched from
    url = url or row.get("url", "").strip()
    if text:
        return Rights(text, holder, url, origin)
    if default_license:
        return Rights(default_license, holder, url, "[rights] generic_license")
    return Rights("", holder, url, origin) if holder or url else None


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    folder = cfg.source_path("generic")
    table = _table(folder) if folder.is_dir() else None
    if table is None:
        return
    root = Path(cfg.sources_root)
    confined = Confinement(folder)
    listed: set[str] = set()
    origin = relative(table, root)
    for row in read_rows(table):
        rel = row["path"].strip()
        path = folder / rel
        member = relative(path, root)
        if rel.startswith(("http://", "https://")):
            yield ScanReject(rel, "image_missing", "URLs are fetched with `tol fetch-images` first")
            continue
        if member in listed:
            yield ScanReject(member, "duplicate_locator", f"listed twice in {table.name}")
            continue
        listed.add(member)
        if not confined.contains(path):
            yield ScanReject(member, "path_outside_source", f"listed in {table.name}")
            continue
        if not path.is_file():
            yield ScanReject(member, "image_missing", f"listed in {table.name}")
            continue
        st = path.stat()
        size = st.st_size
        if size == 0:
            yield ScanReject(member, "empty_file")
            continue
        label = {c: row.get(c, "").strip() for c in LABEL_COLUMNS}
        key = identity_key(NAME, Path(rel).as_posix())
        yield ImageRecord(
            treeoflife_id=treeoflife_id(key),
            identity_key=key,
            source=NAME,
            container=None,
            member=member,
            label_key=f"{NAME}:"
            + json.dumps([label[c] for c in LABEL_COLUMNS], ensure_ascii=False),
            label={
                "name": label["scientific_name"],
                "ranks": {r: label[r] for r in RANKS},
                "common": label["common"],
            },
            size_bytes=size,
            mtime_ns=st.st_mtime_ns,
            rights=_rights(row, origin, cfg.rights.generic_license),
        )
    for p in input_files(cfg)[1:]:
        if relative(p, root) in listed:
            continue
        bad_name = name_not_utf8(relative(p, root))  # a UTF-8 table cannot list it
        if bad_name is not None:
            yield bad_name
        elif not confined.contains(p):
            yield ScanReject(relative(p, root), "path_outside_source", "a symlink")
        else:
            yield ScanReject(relative(p, root), "label_missing", f"not listed in {table.name}")
