"""The ``samples`` relation: every planned sample, written once by ``plan``, read by the rest.

``plan`` inserts one row per (split, sample) with what the sample says (source, ids, ranks,
common, status), what later stages need of its image (locator, small-JPEG digest, source
size, repair notes) and the image's record (:data:`RECORD`: source bytes and digests,
license and rights, read where plan joins its candidates, in storage order); ``write`` reads a shard's rows with their JPEG's place in a work file
to assemble it, ``verify`` the expected keys and digests, ``catalog``, check-taxa and
``report`` stream rows and SQL aggregates. Per-label provenance stays in ``taxa``; the
queries that join it, and the work-file location, are written here, once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from treeoflife import licenses
from treeoflife.columns import ID_COLUMNS
from treeoflife.taxonomy.ranks import RANKS


def each_sample_once(alias: str) -> str:
    """SQL condition keeping each sample once in a relation with a ``split`` column: a
    train_small row repeats a train sample (the catalog and ``samples`` both carry it)."""
    return f"{alias}.split != 'train_small'"


# what a sample says, in the samples table's column order (after split, shard, position)
FIELDS: tuple[str, ...] = (
    "treeoflife_id",
    "source",
    "label_key",
    *ID_COLUMNS,
    *RANKS,
    "common",
    "taxon_status",
    "identity_key",
    "container",
    "member",
    "image_sha256",
    "source_width",
    "source_height",
    "image_notes",
)
_QUOTED = ", ".join(f'"{f}"' for f in FIELDS)
# the image's record a sample also carries (builddb's samples table), for catalog,
# provenance.parquet and report, and how plan's candidate join reads each from encoded e and
# rights r (a left join: an image without a rights row has an unknown license and empty
# texts); in_train_small is the split's flag. Not in the shard digest: no shard byte
# depends on them.
RECORD_SQL: dict[str, str] = {
    "in_train_small": "s.in_train_small",
    "source_bytes": "e.source_bytes",
    "source_sha256": "e.source_sha256",
    "phash": "e.phash",
    "license": f"COALESCE(r.license, '{licenses.UNKNOWN}')",
    "license_text": "COALESCE(r.license_text, '')",
    "rights_holder": "COALESCE(r.rights_holder, '')",
    "source_url": "COALESCE(r.source_url, '')",
    "license_origin": "COALESCE(r.origin, '')",
    "source_details": "COALESCE(r.details, json_object())",  # '{}', no braces: str.format
}
RECORD: tuple[str, ...] = tuple(RECORD_SQL)
# where the sample's small JPEG is (work-file unit and offset; its size is plan_order's
# size), for write: read with the image, in the candidate join, like RECORD
_PLACE_SQL = "e.unit, e.offset"
_RECORD = ", ".join(RECORD) + ", unit, jpeg_offset"
_INSERT = (
    f"INSERT INTO samples (split, shard, position, {_QUOTED}) "
    f"VALUES ({', '.join('?' * (3 + len(FIELDS)))})"
)

# the candidates of one split, for plan: FIELDS (with the locator and the JPEG's digest),
# then what a shard's bytes also depend on (a digest of the label's provenance) and the
# JPEG's size, then the image's RECORD; images without a JPEG (the image pass rejected
# them) are never planned. SQLite sorts these rows into temp.plan_order (the joins run in
# table order, before the sort: images, encoded and rights are all stored in scan order),
# so the ~1 KB provenance itself stays out: temp.label_rows has its digest.
CANDIDATES = (
    "SELECT i.treeoflife_id, i.source, i.label_key, "
    + ", ".join(f"i.{c}" for c in ID_COLUMNS)
    + ", "
    + ", ".join(f't."{r}"' for r in RANKS)
    + ", t.common, t.status, i.identity_key, i.container, i.member, "
    "e.sha256, e.width, e.height, e.notes, t.digest, e.size, "
    + ", ".join(RECORD_SQL.values())
    + f", {_PLACE_SQL} FROM images i JOIN splits s ON s.treeoflife_id = i.treeoflife_id "
    "JOIN encoded e ON e.treeoflife_id = i.treeoflife_id AND e.reject IS NULL "
    "LEFT JOIN rights r ON r.treeoflife_id = i.treeoflife_id "
    "JOIN temp.label_rows t ON t.label_key = i.label_key "
    "WHERE NOT EXISTS (SELECT 1 FROM holdout h WHERE h.treeoflife_id = i.treeoflife_id) "
    "AND NOT EXISTS (SELECT 1 FROM unselected x WHERE x.treeoflife_id = i.treeoflife_id) "
    "AND NOT EXISTS (SELECT 1 FROM duplicates x WHERE x.treeoflife_id = i.treeoflife_id) "
    "AND {where} ORDER BY {order}"
)
# one split's candidates in plan order: rn counts from 1 (a rowid, so a shard's samples
# are a range of the table, read in order without another sort or lookup)
PLAN_ORDER = "temp.plan_order"
_CREATE_PLAN_ORDER = (
    f"CREATE TEMP TABLE {PLAN_ORDER.split('.')[1]} (rn INTEGER PRIMARY KEY, {_QUOTED}, "
    f"label_digest TEXT, size INTEGER NOT NULL, {_RECORD})"
)
_PLAN_COLUMNS = f"{_QUOTED}, label_digest, size, {_RECORD}"
# one shard's samples (plan_order rows first..last, positions from 0), in order
INSERT_SAMPLES = (
    f"INSERT INTO samples (split, shard, position, {_QUOTED}, {_RECORD}, jpeg_size) "
    f"SELECT ?, ?, rn - ?, {_QUOTED}, {_RECORD}, size FROM {PLAN_ORDER} "
    "WHERE rn BETWEEN ? AND ? ORDER BY rn"
)
# everything a shard's bytes depend on, as one text: per sample, in order, a JSON array of
# its position, FIELDS (with the locator and the JPEG's digest), its label's provenance
# digest and the JPEG's size, so the text is unambiguous; plan hashes it. One json_array
# call a row is ~4x cheaper in SQLite than quote() of each of the ~30 values joined by ||
# (3 vs 12 µs a sample; the digest is internal: it only decides whether a done shard is
# kept).
_SHARD_TEXT = (
    "SELECT group_concat(text, char(10)) FROM (SELECT json_array(rn - ?, "
    + ", ".join(f'"{f}"' for f in FIELDS)
    + f", label_digest, size) AS text FROM {PLAN_ORDER} "
    "WHERE rn BETWEEN ? AND ? ORDER BY rn)"
)

# a sample row as the .json member and the assembler need it: the JPEG's place is the
# sample's own (no probe of encoded by id in shard order: random pages at scale)
_SHARD_ROWS = (
    "SELECT "
    + ", ".join(f's."{f}"' for f in FIELDS)
    + ", t.provenance, s.jpeg_offset AS offset, s.jpeg_size AS size, "
    "s.image_sha256 AS sha256, u.unit, u.work "
    "FROM samples s JOIN taxa t ON t.label_key = s.label_key "
    "JOIN encode_units u ON u.unit = s.unit "
    "WHERE s.split = ? AND s.shard = ? ORDER BY s.position"
)
# after write ran units of the image pass again: their samples' JPEG places, from encoded
_REFRESH_PLACES = (
    "UPDATE samples SET jpeg_offset = e.offset, jpeg_size = e.size FROM encoded e "
    "WHERE e.treeoflife_id = samples.treeoflife_id "
    "AND samples.unit IN (SELECT value FROM json_each(?))"
)


def label_rows(db: sqlite3.Connection) -> None:
    """temp.label_rows: what CANDIDATES takes of each label in ``taxa`` (ranks, common,
    status) and a sha256 of its provenance, in one table without rowids, so a sample's
    label is one B-tree lookup (taxa and a digest table were a lookup and a fetch, and
    another lookup: ~2 µs a sample)."""
    db.create_function("tol_sha256", 1, _sha256, deterministic=True)
    ranks = ", ".join(f'"{r}"' for r in RANKS)
    db.execute("DROP TABLE IF EXISTS temp.label_rows")
    db.execute(
        f"CREATE TEMP TABLE label_rows (label_key TEXT PRIMARY KEY, {ranks}, common, status, "
        "digest) WITHOUT ROWID"
    )
    db.execute(
        f"INSERT INTO temp.label_rows SELECT label_key, {ranks}, common, status, "
        "tol_sha256(provenance) FROM taxa"
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def order_candidates(db: sqlite3.Connection, where: str, order: str, params: tuple = ()) -> int:
    """temp.plan_order: one split's candidates (CANDIDATES with ``where`` and ``order``) in
    plan order; returns how many."""
    db.execute(f"DROP TABLE IF EXISTS {PLAN_ORDER}")
    db.execute(_CREATE_PLAN_ORDER)
    cur = db.execute(
        f"INSERT INTO {PLAN_ORDER} ({_PLAN_COLUMNS}) "
        + CANDIDATES.format(where=where, order=order),
        params,
    )
    return cur.rowcount


def keep_order(db: sqlite3.Connection, split: str) -> None:
    """Keep temp.plan_order as this split's, for :func:`order_subset` (renaming is free;
    the temporary database goes when the connection closes)."""
    db.execute(f"DROP TABLE IF EXISTS temp.plan_order_{split}")
    db.execute(f"ALTER TABLE {PLAN_ORDER} RENAME TO plan_order_{split}")


def order_subset(db: sqlite3.Connection, of: str, where: str, order: str) -> int:
    """temp.plan_order: the candidates of split ``of`` (kept by :func:`keep_order`) that
    match ``where``, in ``order`` (on its columns); returns how many. A split that is a
    subset of another (train_small of train) is not joined again: ~8 µs a sample."""
    db.execute(f"DROP TABLE IF EXISTS {PLAN_ORDER}")
    db.execute(_CREATE_PLAN_ORDER)
    cur = db.execute(
        f"INSERT INTO {PLAN_ORDER} ({_PLAN_COLUMNS}) SELECT {_PLAN_COLUMNS} "
        f"FROM temp.plan_order_{of} WHERE {where} ORDER BY {order}"
    )
    return cur.rowcount


def shard_text(db: sqlite3.Connection, first: int, last: int) -> str:
    """The text of everything a shard's bytes depend on: plan_order rows first..last."""
    (text,) = db.execute(_SHARD_TEXT, (first, first, last)).fetchone()
    return text or ""


def insert(db: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Rows of (split, shard, position, *FIELDS)."""
    db.executemany(_INSERT, rows)


def refresh_places(db: sqlite3.Connection, units: list[str]) -> None:
    """The JPEG places of the samples of ``units``, from ``encoded`` again (write ran them
    again): one pass over samples for all of them."""
    if units:
        db.execute(_REFRESH_PLACES, (json.dumps(units),))


def shard_rows(db: sqlite3.Connection, split: str, shard: int) -> Iterator[dict[str, Any]]:
    """A shard's samples in order, each with its locator, provenance and encoded JPEG."""
    cur = db.execute(_SHARD_ROWS, (split, shard))
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))
