"""``provenance.parquet``: where every sample came from, who holds its rights, under what
license, and how its label and image were made — one row per sample, keyed by
``treeoflife_id`` (the catalog's ids exactly; a train_small sample is its train row, with
``in_train_small``). ``catalog.csv`` keeps only the published TreeOfLife-10M columns; this
is where the rest goes.

Written by the catalog stage from the same cursor and batches as the catalog: its train and
val rows also carry the image's record ``plan`` copied into ``samples`` (what scan recorded
in ``encoded`` and ``rights``: :data:`treeoflife.shards.samples.RECORD`), so the columns
both files have are read and made into Arrow once; nothing holds the catalog in memory.
Every column comes from the sample's own row, never a probe of ``encoded`` or ``rights`` by
id in shard order (random pages of tables that outgrow the page cache). What is not the
sample's own is looked up in Arrow, not joined row by row in SQL: each label's reference
set that gave each rank (:data:`LABEL_SOURCES_SQL`) is reduced once per label and taken by
the label's number with the catalog's other label columns, and each image's kept reasons
(:func:`kept_reasons`, sorted by id) are found by a binary search of a batch's ids
(:func:`kept_of`).
"""

from __future__ import annotations

import sqlite3

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
# the SQL of the others the sample's row has (the image's record plan copied there); the
# catalog takes label_sources with its label's columns and kept_reasons from kept_of
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
    "phash": "s.phash",
}
LOOKED_UP = frozenset({"label_sources", "kept_reasons"})
# a label's {rank: reference set} from its provenance in ``taxa t``, once per label
LABEL_SOURCES_SQL = (
    "(SELECT json_group_object(p.key, json_extract(p.value, '$.source')) "
    "FROM json_each(t.provenance) p)"
)
# each image's kept reason codes in order, for the images that have any, in id order
_KEPT_SQL = (
    "SELECT item, json_group_array(reason) FROM ("
    "SELECT item, reason FROM rejects WHERE outcome = 'kept' ORDER BY item, reason) "
    "GROUP BY item ORDER BY item"
)
NO_REASONS = "[]"


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


def own_columns(db: sqlite3.Connection) -> list[tuple[str, str, pa.DataType]]:
    """(name, SQL, type it is fetched as) of each provenance column a catalog row does not
    carry and the sample's row has: the catalog's query adds them to its train and val rows."""
    return [
        (name, _OWN_SQL[name], pa.int64() if kind == pa.bool_() or name == PHASH[0] else kind)
        for name, kind, _ in columns(db)
        if name not in FROM_CATALOG | LOOKED_UP
    ]


def kept_reasons(db: sqlite3.Connection, batch: int = 100_000) -> tuple[pa.Array, pa.Array]:
    """(item, JSON list of its kept reason codes) of every image that has any, sorted by
    item (SQLite's byte order, which :func:`kept_of` searches), read a batch of rows at a
    time: ~60 bytes an image that has any (9 % of the bench's images: ~55 MB at 10M)."""
    cur = db.execute(_KEPT_SQL)
    items: list[pa.Array] = []
    reasons: list[pa.Array] = []
    while rows := cur.fetchmany(batch):
        item, reason = zip(*rows, strict=True)
        items.append(pa.array(item, pa.string()))
        reasons.append(pa.array(reason, pa.string()))
    return (
        pa.concat_arrays(items) if items else pa.array([], pa.string()),
        pa.concat_arrays(reasons) if reasons else pa.array([], pa.string()),
    )


def kept_of(ids: pa.Array, items: pa.Array, reasons: pa.Array) -> pa.Array:
    """Each id's kept reasons (``[]`` when it has none), from :func:`kept_reasons`."""
    return pc.fill_null(reasons.take(find(items, ids)), NO_REASONS)


def find(keys: pa.Array, values: pa.Array) -> pa.Array:
    """Each value's index in ``keys`` (sorted, unique), null where it is not there: a
    binary search in Arrow (no hash table of ``keys`` made per call, as ``index_in`` does)."""
    if not len(keys):
        return pa.nulls(len(values), pa.uint64())
    at = pc.min_element_wise(pc.search_sorted(keys, values), pa.scalar(len(keys) - 1, pa.uint64()))
    return pc.if_else(pc.equal(keys.take(at), values), at, None)


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
