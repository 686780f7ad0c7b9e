"""The ``samples`` relation: every planned sample, written once by ``plan``, read by the rest.

``plan`` inserts one row per (split, sample) with what the sample says (source, ids, label),
what later stages need of its image (locator, small-JPEG digest, source
size, repair notes) and the image's record (:data:`RECORD`: source bytes and digests,
license and rights, read where plan joins its candidates, in storage order); ``write`` reads a shard's rows with their JPEG's place in a work file
to assemble it, ``verify`` the expected keys and digests, ``catalog``, check-taxa and
``report`` stream rows and SQL aggregates. What is the same for every sample of a label
(ranks, common name, status, provenance) stays in ``taxa``, read by label where a stage
needs it: copied into every sample, the ranks, common name and status made the rows ~13 %
wider, and plan took 20.7-24.8 s at 1M against 18.0-19.2 s without them. The queries that
join it, and the work-file location, are written here, once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from treeoflife import licenses
from treeoflife.builddb import ENCODED_BY_ROWID, image_encoded
from treeoflife.columns import ID_COLUMNS
from treeoflife.taxonomy.ranks import RANKS


def each_sample_once(alias: str) -> str:
    """SQL condition keeping each sample once in a relation with a ``split`` column: a
    train_small row repeats a train sample (the catalog and ``samples`` both carry it)."""
    return f"{alias}.split != 'train_small'"


_IDS = ("treeoflife_id", "source", "label_key", *ID_COLUMNS)
_PLACE = ("identity_key", "container", "member", "image_sha256")
_IMAGE = ("source_width", "source_height", "image_notes")
# what a sample says, in the samples table's column order (after split, shard, position)
FIELDS: tuple[str, ...] = (*_IDS, *_PLACE, *_IMAGE)
_QUOTED = ", ".join(f'"{f}"' for f in FIELDS)
# what a sample takes from its label's taxa row ``t``, the same for all its samples: the
# .json member's ranks, common name and status (read from a table with taxa's names)
LABEL_SQL: dict[str, str] = {
    **{r: f't."{r}"' for r in RANKS},
    "common": "t.common",
    "taxon_status": "t.status",
}
# what a sample's shard bytes depend on, in the order of the shard digest's text: schema 6
# stored the label's columns in samples, between the ids and the locator, and the text is
# still that one, so a build made before keeps its shards (no byte of them changed)
DIGESTED: tuple[str, ...] = (*_IDS, *LABEL_SQL, *_PLACE, *_IMAGE)
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
_RECORD = ", ".join(RECORD) + ", unit, jpeg_offset"  # samples' columns after FIELDS
_INSERT = (
    f"INSERT INTO samples (split, shard, position, {_QUOTED}) "
    f"VALUES ({', '.join('?' * (3 + len(FIELDS)))})"
)

# the images plan leaves out: held out (resolve), left out by [select] (select), dropped
# as duplicates (dedup), without a JPEG (the image pass rejected them) or without a taxa
# row for their label. Gathered into one small temporary set, so a candidate is one probe
# of it, in id order
EXCLUDED = "temp.plan_excluded"
_EXCLUDED_FROM = (
    "SELECT treeoflife_id FROM holdout",
    "SELECT treeoflife_id FROM unselected",
    "SELECT treeoflife_id FROM duplicates",
    "SELECT treeoflife_id FROM encoded WHERE reject IS NOT NULL",
    # the labels without a taxa row first (few), then their images, by images_by_label
    "SELECT treeoflife_id FROM images WHERE label_key IN (SELECT label_key FROM "
    "(SELECT DISTINCT label_key FROM images) WHERE label_key NOT IN (SELECT label_key FROM taxa))",
)
# every planned sample's image (rowid), split, train_small flag and rank: rn counts from 1 in plan order
# (split, then the split's order), so a split's samples are a range of rn
RANK = "temp.plan_rank"
_CREATE_RANK = (
    "CREATE TEMP TABLE plan_rank (rn INTEGER PRIMARY KEY, image INTEGER NOT NULL, "
    "split TEXT NOT NULL, in_train_small INTEGER NOT NULL)"
)
# the ranks in image order (rn is in every entry: a covering index)
_RANK_BY_IMAGE = "CREATE INDEX temp.plan_rank_by_image ON plan_rank (image, split, in_train_small)"
# the candidates of every planned split ``p``, ranked: walks splits and images' id index
# together (both in id order, the excluded set too: no page is read twice), an image in
# each planned split its splits row puts it in ({member}: a condition on ``p.split`` and
# splits ``s``; train_small is a subset of train, so its images come twice). With the
# shuffle order the sort key needs only the id; the source order reads the image's row.
_INSERT_RANK = (
    f"INSERT INTO {RANK} (image, split, in_train_small) "
    "SELECT i.rowid, p.split, s.in_train_small FROM splits s "
    "CROSS JOIN images i ON i.treeoflife_id = s.treeoflife_id "
    "CROSS JOIN ({splits}) p ON {member} "
    f"WHERE NOT EXISTS (SELECT 1 FROM {EXCLUDED} x WHERE x.treeoflife_id = s.treeoflife_id) "
    "AND EXISTS (SELECT 1 FROM encoded e WHERE e.treeoflife_id = s.treeoflife_id) "
    "ORDER BY p.split, {order}"
)


def _encoded(column: str) -> str:
    return image_encoded(f"{{e}}.{column}")


# every planned sample, for plan: its place (its rank in its split's order, cut every
# {max_samples} samples: plan renumbers a split where the byte limit binds), FIELDS (with
# the locator and the JPEG's digest), the image's RECORD, its JPEG's place and size. The
# join walks the ranks in image order, so `images` is read in storage order and each
# image's encoded row by rowid (builddb's ENCODED_BY_ROWID); rights are probed. The rows
# are then sorted once, by rank (an integer), and written in (split, shard, position)
# order, their storage order. {first}: the rn before each split's first, as SQL over
# ``c.split``.
_CANDIDATE_SQL: dict[str, str] = {
    **{f: f"i.{f}" for f in _IDS},
    **{f: f"i.{f}" for f in ("identity_key", "container", "member")},
    "image_sha256": _encoded("sha256"),
    "source_width": _encoded("width"),
    "source_height": _encoded("height"),
    "image_notes": _encoded("notes"),
    **{
        k: _encoded(v[2:])
        if v.startswith("e.")
        else v.replace("s.in_train_small", "c.in_train_small")
        for k, v in RECORD_SQL.items()
    },
    "unit": _encoded("unit"),
    "jpeg_offset": _encoded("offset"),
    "jpeg_size": _encoded("size"),
}
INSERT_SAMPLES = (
    f"INSERT INTO samples (split, shard, position, {_QUOTED}, {_RECORD}, jpeg_size) "
    "SELECT c.split, (c.rn - {first} - 1) / {max_samples}, (c.rn - {first} - 1) % {max_samples}, "
    + ", ".join(_CANDIDATE_SQL.values())
    + f" FROM {RANK} c INDEXED BY plan_rank_by_image "
    "CROSS JOIN images i ON i.rowid = c.image "
    + ENCODED_BY_ROWID
    + " LEFT JOIN rights r ON r.treeoflife_id = i.treeoflife_id "
    "ORDER BY c.rn"
)
# everything a shard's bytes depend on, as one text: per sample, in order, a JSON array of
# its position, DIGESTED (FIELDS and its label's columns), a digest of its label's
# provenance and the JPEG's size, so the text is unambiguous; plan hashes it. One
# json_array call a row is ~4x cheaper in SQLite than quote() of each of the ~30 values
# joined by || (3 vs 12 µs a sample; the digest is internal: it only decides whether a
# done shard is kept). Read back from samples in storage order, the label's columns and
# digest probed in temp.label_rows (without taxa's provenance: a shallower B-tree; ~0.5 µs
# a sample more than a table of the digest alone at 1M, the price of keeping schema 6's
# text). The same pass sums the shard's estimated bytes (JPEG sizes plus an overhead a
# sample), so plan needs no pass of its own over samples for them when the count cut
# holds (~0.8 s at 1M: the rows are read whole either way).
_SHARD_TEXT = (
    "SELECT COUNT(*), SUM(jpeg_size) + COUNT(*) * ?, group_concat(text, char(10)) "
    "FROM (SELECT json_array(s.position, "
    + ", ".join(LABEL_SQL.get(f, f's."{f}"') for f in DIGESTED)
    + ", t.digest, s.jpeg_size) AS text, s.jpeg_size FROM samples s "
    "JOIN temp.label_rows t ON t.label_key = s.label_key WHERE {where})"
)
# a shard's rows as plan wrote them: a range of rowids in order (read in storage order,
# no index), the split and shard only checked (the unary + keeps them off the index)
_BY_ROWID = "s.rowid BETWEEN ? AND ? AND +s.split = ? AND +s.shard = ? ORDER BY s.rowid"
_BY_PLACE = "s.split = ? AND s.shard = ? ORDER BY s.position"

# a sample row as the .json member and the assembler need it: the JPEG's place is the
# sample's own (no probe of encoded by id in shard order: random pages at scale)
_SHARD_ROWS = (
    "SELECT "
    + ", ".join(f's."{f}"' for f in FIELDS)
    + ", "
    + ", ".join(f'{sql} AS "{name}"' for name, sql in LABEL_SQL.items())
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
    """temp.label_rows: what each label in ``taxa`` gives its samples' shard bytes, for
    the shard digests: its columns of LABEL_SQL and a sha256 of its provenance."""
    db.create_function("tol_sha256", 1, _sha256, deterministic=True)
    names = ", ".join(sql.removeprefix("t.") for sql in LABEL_SQL.values())
    db.execute("DROP TABLE IF EXISTS temp.label_rows")
    db.execute(
        f"CREATE TEMP TABLE label_rows (label_key TEXT PRIMARY KEY, {names}, digest) WITHOUT ROWID"
    )
    db.execute(
        f"INSERT INTO temp.label_rows SELECT label_key, {names}, tol_sha256(provenance) FROM taxa"
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def exclude(db: sqlite3.Connection) -> None:
    """temp.plan_excluded: the ids of every image plan leaves out (see EXCLUDED)."""
    db.execute(f"DROP TABLE IF EXISTS {EXCLUDED}")
    db.execute(
        f"CREATE TEMP TABLE {EXCLUDED.split('.')[1]} (treeoflife_id TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    for select in _EXCLUDED_FROM:
        db.execute(f"INSERT OR IGNORE INTO {EXCLUDED} {select}")


def plan_samples(
    db: sqlite3.Connection, member: dict[str, str], order: str, max_samples: int
) -> None:
    """Insert every planned sample into ``samples``: the candidates of each split of
    ``member`` (split -> condition on splits ``s``), in ``order`` (over images ``i`` and
    the split ``p.split``), cut every ``max_samples``. First the ranks (narrow rows, sorted
    by the order's key), then the samples' records (read in storage order, sorted by rank).
    Needs :func:`exclude`."""
    splits = " UNION ALL ".join(f"SELECT '{split}' AS split" for split in member)
    cond = "CASE p.split " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in member.items()) + " END"
    db.execute(f"DROP TABLE IF EXISTS {RANK}")
    db.execute(_CREATE_RANK)
    db.execute(_INSERT_RANK.format(splits=splits, member=cond, order=order))
    db.execute(_RANK_BY_IMAGE)
    before = db.execute(f"SELECT split, MIN(rn) - 1 FROM {RANK} GROUP BY split").fetchall()
    first = "CASE c.split " + " ".join(f"WHEN '{k}' THEN {int(v)}" for k, v in before) + " END"
    db.execute(INSERT_SAMPLES.format(first=first if before else "0", max_samples=int(max_samples)))


def count(db: sqlite3.Connection, split: str) -> int:
    """The samples of ``split`` (from the (split, shard, position) index alone)."""
    return db.execute("SELECT COUNT(*) FROM samples WHERE split = ?", (split,)).fetchone()[0]


def jpeg_sizes(db: sqlite3.Connection, split: str) -> Iterator[int]:
    """The JPEG size of each sample of ``split``, in plan order."""
    for (size,) in db.execute(
        "SELECT jpeg_size FROM samples WHERE split = ? ORDER BY shard, position", (split,)
    ):
        yield size


def recut(db: sqlite3.Connection, split: str, max_samples: int, counts: Iterable[int]) -> None:
    """Renumber the samples of ``split`` (cut every ``max_samples`` by :func:`plan_samples`)
    into shards of ``counts`` samples, keeping their order. Their rows stay where they are
    (storage order is plan order either way): first every shard number is made negative
    (no new number can meet an old one), then each new shard takes its range of the order,
    from at most the few old shards it spans."""
    db.execute("UPDATE samples SET shard = -1 - shard WHERE split = ?", (split,))
    first = 0  # the order's index of the shard's first sample
    for shard, count in enumerate(counts):
        last = first + count - 1
        db.execute(
            "UPDATE samples SET shard = ?, position = (-1 - shard) * ? + position - ? "
            "WHERE split = ? AND shard BETWEEN ? AND ? AND (-1 - shard) * ? + position BETWEEN ? AND ?",
            (
                shard,
                max_samples,
                first,
                split,
                -1 - last // max_samples,
                -1 - first // max_samples,
                max_samples,
                first,
                last,
            ),
        )
        first = last + 1


def first_rowid(db: sqlite3.Connection, split: str) -> int | None:
    """The rowid of the split's first sample (shard 0, position 0)."""
    row = db.execute(
        "SELECT rowid FROM samples WHERE split = ? ORDER BY shard, position LIMIT 1", (split,)
    ).fetchone()
    return row[0] if row else None


def shard_text(
    db: sqlite3.Connection, split: str, shard: int, first: int, count: int, overhead: int = 0
) -> tuple[int | None, str]:
    """The shard's estimated bytes (JPEG sizes plus ``overhead`` a sample) and the text of
    everything its bytes depend on (see _SHARD_TEXT): its ``count`` samples, stored from
    rowid ``first`` on as plan writes them; where they are not (all of them, and only
    them), found by the (split, shard, position) index."""
    sql = _SHARD_TEXT.format(where=_BY_ROWID)
    found, est, text = db.execute(
        sql, (overhead, first, first + count - 1, split, shard)
    ).fetchone()
    if found != count:
        sql = _SHARD_TEXT.format(where=_BY_PLACE)
        found, est, text = db.execute(sql, (overhead, split, shard)).fetchone()
    return est, text or ""


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
