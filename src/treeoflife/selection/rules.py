"""The ``[select]`` rules as SQL over the build database: which images each one leaves out.

Rules run in a fixed order and an image is recorded under the first rule that drops it:
``exclude``, ``include``, ``require_ranks``, ``min_per_taxon``, ``max_per_taxon``. The
counting rules count what the rules before them kept, so ``max_per_taxon`` caps the taxa
an ``include`` selected. Only images a plan would otherwise take are considered: usable
(the image pass made a JPEG), labelled, not held out for the Rare Species benchmark.

``max_per_taxon`` keeps, per taxon at ``[select] rank``, the first N images in the order
(complete seven-rank label first, then a seeded SHA-256 of the image id). The key of an
image depends on that image alone, so a build with more images keeps every image it kept
before except where the cap forces a change: a new image enters only by ranking above the
last one kept, and pushes out exactly that one. The hash spreads the choice over sources
in proportion to what each contributes; balancing them actively (round-robin by source)
would make an image's place depend on its neighbours, and adding one image could then
swap out several.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from treeoflife import rejects
from treeoflife.config import SelectConfig
from treeoflife.selection.terms import Term, matches, rank_value, resolve_terms
from treeoflife.shards.planning import shuffle_key
from treeoflife.taxonomy.ranks import RANKS

STAGE = "select"
# the images a rule may still drop: those plan would take, minus what earlier rules dropped
CANDIDATES = (
    "FROM images i JOIN encoded e ON e.treeoflife_id = i.treeoflife_id AND e.reject IS NULL "
    "JOIN taxa t ON t.label_key = i.label_key "
    "JOIN splits sp ON sp.treeoflife_id = i.treeoflife_id "  # what the filters and split kept
    "WHERE NOT EXISTS (SELECT 1 FROM holdout h WHERE h.treeoflife_id = i.treeoflife_id) "
    "AND NOT EXISTS (SELECT 1 FROM unselected u WHERE u.treeoflife_id = i.treeoflife_id)"
)
COMPLETE = " AND ".join(f"t.\"{r}\" != ''" for r in RANKS)


def _which(terms: Sequence[Term]) -> tuple[str, list[str]]:
    """SQL naming the first of ``terms`` a taxa row is under (the detail of a reject)."""
    cases = " ".join(f"WHEN {rank_value(t.rank)} = ? THEN ?" for t in terms)
    params: list[str] = []
    for t in terms:
        params += [t.name, str(t)]
    return f"CASE {cases} END", params


def _deepest() -> str:
    """SQL: 'rank Name' of the lowest rank a taxa row knows, or 'no rank'."""
    cases = " ".join(
        f"WHEN {rank_value(r)} != '' THEN '{r} ' || {rank_value(r)}" for r in reversed(RANKS)
    )
    return f"CASE {cases} ELSE 'no rank' END"


def _drop(db: sqlite3.Connection, reason: str, query: str, params: Sequence) -> int:
    """Record the images ``query`` gives (treeoflife_id, detail) as left out for ``reason``."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS dropping (treeoflife_id TEXT, detail TEXT)")
    db.execute("DELETE FROM temp.dropping")
    db.execute(f"INSERT INTO temp.dropping {query}", tuple(params))
    db.execute("INSERT INTO unselected SELECT treeoflife_id, ? FROM temp.dropping", (reason,))
    db.execute(
        "INSERT OR REPLACE INTO rejects SELECT treeoflife_id, ?, ?, ?, detail, NULL "
        "FROM temp.dropping",
        (STAGE, reason, rejects.outcome(reason)),
    )
    (n,) = db.execute("SELECT COUNT(*) FROM temp.dropping").fetchone()
    return n


def apply(db: sqlite3.Connection, cfg: SelectConfig) -> dict[str, int]:
    """Fill ``unselected`` (and its rejects) from the rules of ``cfg``; counts per reason.

    Taxon names are found in the build's ``taxa`` first, so a name that is not there stops
    the stage with one line before anything is recorded.
    """
    exclude = resolve_terms(db, "select.exclude", cfg.exclude)
    include = resolve_terms(db, "select.include", cfg.include)
    db.create_function("tol_rank_key", 3, shuffle_key, deterministic=True)
    db.execute("DELETE FROM unselected")
    db.execute("DELETE FROM rejects WHERE stage = ?", (STAGE,))
    counts: dict[str, int] = {}
    if exclude:
        cond, params = matches(exclude)
        which, wparams = _which(exclude)
        counts["select_excluded"] = _drop(
            db,
            "select_excluded",
            f"SELECT i.treeoflife_id, 'under ' || {which} {CANDIDATES} AND {cond}",
            [*wparams, *params],
        )
    if include:
        cond, params = matches(include)
        listed = ", ".join(str(t) for t in include)
        counts["select_not_included"] = _drop(
            db,
            "select_not_included",
            f"SELECT i.treeoflife_id, {_deepest()} || ' is under none of: ' || ? "
            f"{CANDIDATES} AND NOT {cond}",
            [listed, *params],
        )
    if cfg.require_ranks:
        missing = " OR ".join(f"{rank_value(r)} = ''" for r in cfg.require_ranks)
        counts["select_rank_missing"] = _drop(
            db,
            "select_rank_missing",
            f"SELECT i.treeoflife_id, 'label stops at ' || {_deepest()} "
            f"{CANDIDATES} AND ({missing})",
            [],
        )
    key = rank_value(cfg.rank)
    per_taxon = (
        f"SELECT i.treeoflife_id AS id, {key} AS taxon, COUNT(*) OVER (PARTITION BY {key}) AS n, "
        f"ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY ({COMPLETE}) DESC, "
        f"tol_rank_key(?, 'select', i.treeoflife_id), i.treeoflife_id) AS place "
        f"{CANDIDATES} AND {key} != ''"
    )
    if cfg.min_per_taxon:
        counts["select_rare_taxon"] = _drop(
            db,
            "select_rare_taxon",
            f"SELECT id, '{cfg.rank} ' || taxon || ': ' || n || ' images, min_per_taxon ' || ? "
            f"FROM ({per_taxon}) WHERE n < ?",
            [cfg.min_per_taxon, cfg.seed, cfg.min_per_taxon],
        )
    if cfg.max_per_taxon:
        counts["select_over_cap"] = _drop(
            db,
            "select_over_cap",
            f"SELECT id, '{cfg.rank} ' || taxon || ': ' || n || ' images, max_per_taxon ' || ? "
            f"FROM ({per_taxon}) WHERE place > ?",
            [cfg.max_per_taxon, cfg.seed, cfg.max_per_taxon],
        )
    return counts
