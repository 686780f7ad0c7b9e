"""The shard tables of build.sqlite. Created here (``CREATE TABLE IF NOT EXISTS``) rather
than in builddb.SCHEMA so the shard code owns its own records."""

from __future__ import annotations

import sqlite3

from treeoflife.columns import ID_COLUMNS, INTEGER_COLUMNS
from treeoflife.taxonomy.ranks import RANKS

_SCHEMA = """
-- every planned sample, written once by plan: where it goes (split, shard, position) and
-- what it says (source, ids, ranks, common). write, verify, catalog, check-taxa and report
-- read it; per-label provenance stays in taxa and the source locator in images (both
-- joined by key: copying ~1 KB of provenance JSON per sample would be ~10 GB at 10M).
-- A sample is in a split at most once (plan reads splits, keyed by id); a train_small
-- sample is also a train sample.
{samples}

-- one row per planned shard; status: planned | done | bad (verify found it broken)
CREATE TABLE IF NOT EXISTS shards (
    split TEXT NOT NULL,
    shard INTEGER NOT NULL,
    name TEXT NOT NULL,              -- path relative to OUT
    planned INTEGER NOT NULL,        -- samples in the plan (before image rejects)
    est_bytes INTEGER NOT NULL,
    digest TEXT NOT NULL,            -- sha256 of everything the shard's bytes depend on
    status TEXT NOT NULL,
    samples INTEGER,                 -- as written
    bytes INTEGER,
    sha256 TEXT,
    problem TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (split, shard)
);

"""


def _samples_table() -> str:
    columns = [
        "split TEXT NOT NULL",
        "shard INTEGER NOT NULL",
        "position INTEGER NOT NULL",  # order inside the shard
        "treeoflife_id TEXT NOT NULL",
        "source TEXT NOT NULL",
        "label_key TEXT NOT NULL",
        *(f"{c} {'INTEGER' if c in INTEGER_COLUMNS else 'TEXT'}" for c in ID_COLUMNS),
        *(f'"{r}" TEXT NOT NULL' for r in RANKS),
        "common TEXT NOT NULL",
        "taxon_status TEXT NOT NULL",
        "PRIMARY KEY (split, shard, position)",
    ]
    return "CREATE TABLE IF NOT EXISTS samples (\n    " + ",\n    ".join(columns) + "\n);"


SCHEMA = _SCHEMA.format(samples=_samples_table())


def ensure(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
