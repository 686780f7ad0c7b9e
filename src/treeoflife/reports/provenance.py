"""``provenance.parquet``: where every sample came from, who holds its rights, under what
license, and how its label and image were made — one row per sample, keyed by
``treeoflife_id`` (the catalog's ids exactly; a train_small sample is its train row, with
``in_train_small``). ``catalog.csv`` keeps only the published TreeOfLife-10M columns; this
is where the rest goes.

Written by the catalog stage from the same cursor and batches as the catalog: its train and
val rows also carry the image's record ``plan`` copied into ``samples`` (what scan recorded
in ``encoded`` and ``rights``: :data:`treeoflife.shards.samples.RECORD`), and, through
``JOINS``, what resolve decided (``taxa``) and the kept ``rejects``, so the columns both
files have are read and made into Arrow once; nothing holds the catalog in memory. Every
column comes from the sample's own row, never a probe of ``encoded`` or ``rights`` by id in
shard order (random pages of tables that outgrow the page cache). Per-label provenance is
reduced once per label (the reference set that gave each rank), and each image's kept
reasons once, into keyed temporary tables: one small probe a row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# (column, arrow type, what it says); the perceptual hash column is added when the image
# pass computed one (``encoded.phash``)
COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("treeoflife_id", pa.string(), "the sample's id, as in catalog.csv"),
    ("split", pa.string(), "train or val"),
    ("in_train_small", pa.bool_(), "also in train_small"),
    ("source", pa.string(), "data source: eol, inat21, bioscan, tol10m or generic"),
    ("identity_key", pa.string(), "the image's identity in its source (what its id is made from)"),
    ("container", pa.string(), "the archive it was read from, relative to the sources root"),
    ("member", pa.string(), "its member name in the archive, or its path under the sources root"),
    ("source_url", pa.string(), "where the source says the image was published, if it says"),
    ("license", pa.string(), "license code (cc-by-4.0, cc0-1.0, public-domain, unknown, ...)"),
    ("license_text", pa.string(), "the license as the source gave it"),
    ("rights_holder", pa.string(), "who holds the rights, as the source gave it"),
    ("license_origin", pa.string(), "where the license was read (a source file or a setting)"),
    ("source_details", pa.string(), "JSON: what else the source says (GBIF ids, creator, ...)"),
    ("source_width", pa.int64(), "width of the source image in pixels"),
    ("source_height", pa.int64(), "height of the source image in pixels"),
    ("source_bytes", pa.int64(), "size of the source file in bytes"),
    ("source_sha256", pa.string(), "sha256 of the source file's bytes"),
    ("image_sha256", pa.string(), "sha256 of the sample's JPEG in the shard"),
    ("label_key", pa.string(), "the label the source gave, as the build keys it"),
    ("taxon_status", pa.string(), "resolved, partial, ambiguous or unresolved"),
    (
        "label_sources",
        pa.string(),
        'JSON: the reference set that gave each rank, {"genus": "itis"}',
    ),
    ("kept_reasons", pa.string(), "JSON list of the kept reason codes (repairs, label notes)"),
)
PHASH = ("phash", pa.string(), "perceptual hash of the image (see the dedup stage)")

SPLITS = ("train", "val")  # train_small rows are train rows (in_train_small)
# provenance columns a catalog row already carries: the same columns of ``samples``
FROM_CATALOG = frozenset(
    {
        "treeoflife_id",
        "split",
        "source",
        "identity_key",
        "container",
        "member",
        "source_width",
        "source_height",
        "image_sha256",
        "label_key",
        "taxon_status",
    }
)
# the SQL of the others, over ``samples s`` (the image's record plan copied there) and
# JOINS (left joins on unique keys: a catalog row is never dropped or repeated by them)
_OWN_SQL = {
    "in_train_small": "s.in_train_small",
    "source_url": "NULLIF(s.source_url, '')",
    "license": "s.license",
    "license_text": "s.license_text",
    "rights_holder": "s.rights_holder",
    "license_origin": "s.license_origin",
    "source_details": "s.source_details",
    "source_bytes": "s.source_bytes",
    "source_sha256": "s.source_sha256",
    "label_sources": "ls.sources",
    "kept_reasons": "COALESCE(k.reasons, '[]')",
    "phash": "s.phash",
}
# a row's label in temp.label_sources: its sources, and its number there (``n``), which the
# catalog takes the label's columns by
LABEL_JOIN = "LEFT JOIN temp.label_sources ls ON ls.label_key = s.label_key"
JOINS = f"{LABEL_JOIN} LEFT JOIN temp.kept_reasons k ON k.item = s.treeoflife_id"


# the 64-bit hash, a signed integer in SQLite, is fetched as one and written as 16 hex
# digits (two's complement) by _hex16; none for a flat picture
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)


def has_phash(db: sqlite3.Connection) -> bool:
    """Whether the image pass records a perceptual hash (``encoded.phash``)."""
    return any(row[1] == "phash" for row in db.execute("PRAGMA table_info(encoded)"))


def columns(db: sqlite3.Connection) -> tuple[tuple[str, pa.DataType, str], ...]:
    """The columns this build's provenance.parquet has (and croissant.json describes)."""
    return COLUMNS + ((PHASH,) if has_phash(db) else ())


def _lookup_tables(db: sqlite3.Connection) -> None:
    """Keyed temporary tables, so a catalog row costs one small probe each, not a probe of
    a large table or a subquery: temp.kept_reasons, each image's kept reason codes in
    order, for the few that have any; temp.label_sources, each label's {rank: reference
    set}, reduced once per label, and its number ``n`` (0, 1, ... in label order)."""
    db.execute("DROP TABLE IF EXISTS temp.kept_reasons")
    db.execute(
        "CREATE TEMP TABLE kept_reasons (item TEXT PRIMARY KEY, reasons TEXT NOT NULL) "
        "WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO temp.kept_reasons SELECT item, json_group_array(reason) FROM ("
        "SELECT item, reason FROM rejects WHERE outcome = 'kept' ORDER BY item, reason) "
        "GROUP BY item"
    )
    db.execute("DROP TABLE IF EXISTS temp.label_sources")
    # keyed tables without a rowid: a probe is one b-tree search, not an index and a table
    db.execute(
        "CREATE TEMP TABLE label_sources (label_key TEXT PRIMARY KEY, n INTEGER NOT NULL, "
        "sources TEXT) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO temp.label_sources SELECT t.label_key, "
        "ROW_NUMBER() OVER (ORDER BY t.label_key) - 1, "
        "(SELECT json_group_object(p.key, json_extract(p.value, '$.source')) "
        " FROM json_each(t.provenance) p) FROM taxa t"
    )


def own_columns(db: sqlite3.Connection) -> list[tuple[str, str, pa.DataType]]:
    """(name, SQL, type it is fetched as) of each provenance column a catalog row does not
    carry: the catalog's query adds them, with JOINS, to its train and val rows."""
    return [
        (name, _OWN_SQL[name], pa.int64() if kind == pa.bool_() or name == PHASH[0] else kind)
        for name, kind, _ in columns(db)
        if name not in FROM_CATALOG
    ]


@contextmanager
def lookups(db: sqlite3.Connection) -> Iterator[None]:
    """The temporary tables JOINS probe, while the catalog's rows are read."""
    _lookup_tables(db)
    try:
        yield
    finally:
        for name in ("label_sources", "kept_reasons"):
            db.execute(f"DROP TABLE IF EXISTS temp.{name}")


def table(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """provenance.parquet's rows from catalog rows of train and val that carry the
    :func:`own_columns`: the shared columns are the catalog's arrays, not copies."""
    arrays = []
    for field in schema:
        column = rows.column(field.name)
        if field.type == pa.bool_():  # SQLite has no booleans: 0/1 become False/True
            column = column.cast(pa.bool_())
        elif field.name == PHASH[0]:
            column = _hex16(column.combine_chunks())
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


def _hex16(values: pa.Array) -> pa.Array:
    """Signed 64-bit integers as 16 lower-case hex digits of their two's complement (what
    SQLite's ``printf('%016x', v)`` writes), nulls kept: numpy, not a call per row."""
    n = len(values)
    bits = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)
    digits = _HEX_DIGITS[(bits[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)]
    offsets = np.arange(0, 16 * n + 1, 16, dtype=np.int32)
    text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes()))
    return pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string()))
