"""Split: assign train / val, and the train_small subset of train, deterministically.

Runs after ``resolve``: a taxon-unit split needs every image's resolved ranks. Then it
writes the predicted catalog (:mod:`treeoflife.reports.predicted`), the first output that
has both an image's label and its split.

What goes to val together is a **split unit**, named by :func:`split_key`:

- ``[split] unit = "image"`` (default): each image on its own (its id), except that the
  images of a duplicate cluster (``clusters``, from the ``cluster`` stage) are one unit,
  named by the member whose own val hash is smallest: a cluster is in val when any of its
  images alone would be, so a val image stays in val whatever joins its cluster later, and
  a train image moves only when a new copy that would be in val arrives (the log counts
  such moves);
- ``unit = "taxon"``: every image of one taxon at ``taxon_rank`` (default species) goes to
  the same split, so val measures generalisation to taxa train never saw. An image whose
  label stops above that rank is grouped by the lowest rank it has (all genus-only
  *Pieris* images together); an image with no rank at all is its own unit.

``[split] holdout_taxa`` sends every image under the named taxa to val, whatever the unit.

Two methods (``split.method``):

- ``stable`` (default): a unit's split is a function of the seed and its key alone (a
  SHA-256 bucket), so adding images never moves an old one between splits; train and val
  never leak into each other across incremental builds. Counts hit the percentages within
  sampling noise (about ±sqrt(units)).
- ``exact``: the reference's counts — exactly round(n * val%) val units and
  round(n_train * train_small%) train_small images, the first in a seeded order of the keys
  (the reference sampled from a Python set, so its seed did not reproduce). Adding images
  may move old ones.

train_small is always drawn per image, from train. Both methods stream: SQLite reads and
sorts the ids, Python never holds them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from hashlib import sha256
from itertools import islice
from typing import Any

from treeoflife import builddb
from treeoflife.config import SplitConfig
from treeoflife.reports import predicted
from treeoflife.selection.terms import Term, matches, rank_value, resolve_terms
from treeoflife.stages import BuildContext, Stage
from treeoflife.stages.filters import NOT_FILTERED
from treeoflife.taxonomy.ranks import RANKS

NAME = "split"
SCALE = 2**64
BATCH = 10_000  # rows placed and inserted at once


def split_key(cfg: SplitConfig) -> str:
    """SQL (over ``images i`` and ``taxa t``) for the key of an image's split unit.

    The image unit's key is the bare id, so its results are those of every earlier
    version; a taxon key is prefixed with its rank, so it can never equal an id.
    """
    if cfg.unit == "image":
        return "COALESCE(ck.key, i.treeoflife_id)"  # see cluster_keys
    ranks = RANKS[: RANKS.index(cfg.taxon_rank) + 1]
    cases = " ".join(
        f"WHEN {rank_value(r)} != '' THEN '{r}:' || {rank_value(r)}" for r in reversed(ranks)
    )
    return f"CASE {cases} ELSE i.treeoflife_id END"


def _keyed(cfg: SplitConfig, held: list[Term]) -> tuple[str, list[str]]:
    """SQL: (treeoflife_id, unit key, held) of every usable image, and its parameters."""
    cond, params = matches(held) if held else ("0", [])
    labels = "LEFT JOIN taxa t ON t.label_key = i.label_key" if held or cfg.unit != "image" else ""
    if cfg.unit == "image":
        labels += (
            " LEFT JOIN clusters c ON c.member = i.treeoflife_id"
            " LEFT JOIN temp.cluster_keys ck ON ck.cluster = c.cluster"
        )
    return (
        f"SELECT i.treeoflife_id AS treeoflife_id, {split_key(cfg)} AS unit, {cond} AS held "
        "FROM images i JOIN encoded e ON e.treeoflife_id = i.treeoflife_id AND e.reject IS NULL "
        + labels
        # a rejected or filtered image has no sample to place, and must not shift the exact
        # method's counts
        + " WHERE "
        + NOT_FILTERED.format(id="i.treeoflife_id"),
        params,
    )


def cluster_keys(db: sqlite3.Connection, seed: int) -> None:
    """temp.cluster_keys: each duplicate cluster's split key, the member whose own val hash
    is smallest (so the cluster goes where the most val-bound of its images would)."""
    db.create_function("tol_unit", 3, _unit, deterministic=True)
    db.execute("DROP TABLE IF EXISTS temp.cluster_keys")
    db.execute(
        "CREATE TEMP TABLE cluster_keys AS SELECT cluster, member AS key FROM (SELECT c.cluster, "
        "c.member, ROW_NUMBER() OVER (PARTITION BY c.cluster ORDER BY tol_unit(?, 'val', "
        "c.member), c.member) AS rank FROM clusters c WHERE c.is_eval = 0) WHERE rank = 1",
        (seed,),
    )
    db.execute("CREATE UNIQUE INDEX temp.cluster_keys_by_cluster ON cluster_keys(cluster)")


def _unit(seed: int, salt: str, treeoflife_id: str) -> float:
    """A uniform number in [0, 1) from (seed, salt, key), identical on every machine."""
    return _hashed(_salted(seed, salt), treeoflife_id)


def _salted(seed: int, salt: str) -> bytes:
    return f"{seed}:{salt}:".encode()


def _hashed(salted: bytes, key: str) -> float:
    """:func:`_unit` of a key, with the (seed, salt) prefix encoded once for many keys."""
    return int.from_bytes(sha256(salted + key.encode()).digest()[:8], "big") / SCALE


def stable_split(
    db: sqlite3.Connection, cfg: SplitConfig, held: list[Term] = ()
) -> Iterator[list[tuple[str, str, int]]]:
    """Batches of (id, split, in_train_small), from each image's unit key: one pass, one
    batch held. A batch is one list comprehension, as a Python step per image is most of
    this stage's cost at 10M images."""
    cluster_keys(db, cfg.seed)
    query, params = _keyed(cfg, list(held))
    to_val, to_small = _salted(cfg.seed, "val"), _salted(cfg.seed, "train_small")
    val, small = cfg.val_percent / 100, cfg.train_small_percent / 100
    cur = db.execute(query, params)
    while rows := cur.fetchmany(BATCH):
        yield [
            (tid, "val", 0)
            if is_held or _hashed(to_val, key) < val
            else (tid, "train", int(_hashed(to_small, tid) < small))
            for tid, key, is_held in rows
        ]


def exact_split(
    db: sqlite3.Connection, cfg: SplitConfig, held: list[Term] = ()
) -> Iterator[list[tuple[str, str, int]]]:
    """:func:`exact_rows` in batches, as :func:`stable_split` yields them."""
    rows = exact_rows(db, cfg, held)
    while batch := list(islice(rows, BATCH)):
        yield batch


def exact_rows(
    db: sqlite3.Connection, cfg: SplitConfig, held: list[Term] = ()
) -> Iterator[tuple[str, str, int]]:
    """Exactly round(units·val%) val units (of those not held out): the first ones in a
    seeded order (SQLite sorts by the same per-key hash the stable method uses, so nothing
    is held in memory), then exactly round(n_train·train_small%) of train likewise."""
    cluster_keys(db, cfg.seed)
    keyed, params = _keyed(cfg, list(held))
    db.execute("DROP TABLE IF EXISTS temp.split_units")
    db.execute(f"CREATE TEMP TABLE split_units AS {keyed}", params)
    (n,) = db.execute("SELECT COUNT(DISTINCT unit) FROM temp.split_units WHERE NOT held").fetchone()
    n_val = round(n * cfg.val_percent / 100)
    val_units = (
        "SELECT unit FROM (SELECT DISTINCT unit FROM temp.split_units WHERE NOT held) "
        "ORDER BY tol_unit(?, 'val', unit), unit LIMIT ?"
    )
    val = f"SELECT treeoflife_id FROM temp.split_units WHERE held OR unit IN ({val_units})"
    for (tid,) in db.execute(val, (cfg.seed, n_val)):
        yield tid, "val", 0
    (n_train,) = db.execute(
        f"SELECT COUNT(*) FROM temp.split_units WHERE treeoflife_id NOT IN ({val})",
        (cfg.seed, n_val),
    ).fetchone()
    n_small = round(n_train * cfg.train_small_percent / 100)
    train = (
        f"SELECT treeoflife_id FROM temp.split_units WHERE treeoflife_id NOT IN ({val}) "
        "ORDER BY tol_unit(?, 'train_small', treeoflife_id), treeoflife_id"
    )
    for k, (tid,) in enumerate(db.execute(train, (cfg.seed, n_val, cfg.seed))):
        yield tid, "train", int(k < n_small)
    db.execute("DROP TABLE temp.split_units")


METHODS = {"stable": stable_split, "exact": exact_split}


def inputs(ctx: BuildContext) -> Any:
    return ctx.config.section_json("split")


def run(ctx: BuildContext) -> dict[str, Any]:
    cfg = ctx.config.split
    with builddb.transaction(ctx.db) as db:
        held = resolve_terms(db, "split.holdout_taxa", cfg.holdout_taxa)
        db.execute("DROP TABLE IF EXISTS temp.old_splits")
        db.execute("CREATE TEMP TABLE old_splits AS SELECT treeoflife_id, split FROM splits")
        db.execute("DELETE FROM splits")
        for batch in METHODS[cfg.method](db, cfg, held):
            db.executemany("INSERT INTO splits VALUES (?, ?, ?)", batch)
    # images of the last split that changed split (the stable method: they follow a cluster)
    (moved,) = ctx.db.execute(
        "SELECT COUNT(*) FROM splits s JOIN temp.old_splits o USING (treeoflife_id) "
        "WHERE o.split != s.split"
    ).fetchone()
    ctx.db.execute("DROP TABLE temp.old_splits")
    counts = dict(ctx.db.execute("SELECT split, COUNT(*) FROM splits GROUP BY 1"))
    counts = {
        "train": counts.get("train", 0),
        "val": counts.get("val", 0),
        "train_small": ctx.db.execute(
            "SELECT COUNT(*) FROM splits WHERE in_train_small"
        ).fetchone()[0],
    }
    unit = "image" if cfg.unit == "image" else f"taxon at {cfg.taxon_rank}"
    out_csv = predicted.write(ctx.out, ctx.db)
    ctx.log(
        f"split ({cfg.method}, by {unit}, seed {cfg.seed}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + (f"; holdout_taxa {', '.join(map(str, held))} in val" if held else "")
        + (
            f"; {moved} images changed split since the last run (duplicate clusters)"
            if moved
            else ""
        )
        + f"\n  predicted catalog: {out_csv}"
    )
    return {"method": cfg.method, "unit": cfg.unit, "seed": cfg.seed, **counts, "moved": moved}


STAGE = Stage(
    NAME,
    "assign train / val / train_small, deterministically; write predicted-catalog.csv",
    run,
    inputs,
    lambda ctx: [ctx.out / p for p in predicted.OUTPUTS],
)
