"""Split: assign train / val, and the train_small subset of train, deterministically.

Two methods (``split.method``):

- ``stable`` (default): an image's split is a function of the seed and its own id alone
  (a SHA-256 bucket), so adding images never moves an old one between splits; train and
  val never leak into each other across incremental builds. Counts hit the percentages
  within sampling noise (about ±sqrt(n)).
- ``exact``: the reference's counts — exactly round(n * val%) val images and
  round(n_train * train_small%) train_small images, the first in a seeded order of the ids
  (the reference sampled from a Python set, so its seed did not reproduce). Adding images
  may move old ones.

Both stream: SQLite reads and sorts the ids, Python never holds them.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from treeoflife import builddb
from treeoflife.config import SplitConfig
from treeoflife.stages import BuildContext, Stage
from treeoflife.stages.filters import NOT_FILTERED

NAME = "split"
SCALE = 2**64


# the images a split assigns: those the image pass could read and no filter left out (a
# rejected image has no sample to place, and must not shift the exact method's counts)
USABLE = (
    "SELECT i.treeoflife_id FROM images i JOIN encoded e ON e.treeoflife_id = i.treeoflife_id "
    "AND e.reject IS NULL WHERE " + NOT_FILTERED.format(id="i.treeoflife_id")
)


def _unit(seed: int, salt: str, treeoflife_id: str) -> float:
    """A uniform number in [0, 1) from (seed, salt, id), identical on every machine."""
    digest = hashlib.sha256(f"{seed}:{salt}:{treeoflife_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / SCALE


def stable_split(db: sqlite3.Connection, cfg: SplitConfig) -> Iterator[tuple[str, str, int]]:
    """(id, split, in_train_small) of each image, from its own id: one pass, nothing held."""
    for (tid,) in db.execute(USABLE):
        if _unit(cfg.seed, "val", tid) < cfg.val_percent / 100:
            yield tid, "val", 0
        else:
            yield (
                tid,
                "train",
                int(_unit(cfg.seed, "train_small", tid) < cfg.train_small_percent / 100),
            )


def exact_split(db: sqlite3.Connection, cfg: SplitConfig) -> Iterator[tuple[str, str, int]]:
    """Exactly round(n·val%) val images: the first ones in a seeded order (SQLite sorts by
    the same per-id hash the stable method uses, so nothing is held in memory), then exactly
    round(n_train·train_small%) of train likewise."""
    db.create_function("tol_unit", 3, _unit, deterministic=True)
    (n,) = db.execute(f"SELECT COUNT(*) FROM ({USABLE})").fetchone()
    n_val = round(n * cfg.val_percent / 100)
    n_small = round((n - n_val) * cfg.train_small_percent / 100)
    by_key = "ORDER BY tol_unit(?, ?, treeoflife_id), treeoflife_id"
    val = f"SELECT treeoflife_id FROM ({USABLE}) {by_key} LIMIT ?"
    for (tid,) in db.execute(val, (cfg.seed, "val", n_val)):
        yield tid, "val", 0
    train = f"SELECT treeoflife_id FROM ({USABLE}) WHERE treeoflife_id NOT IN ({val}) {by_key}"
    params = (cfg.seed, "val", n_val, cfg.seed, "train_small")
    for k, (tid,) in enumerate(db.execute(train, params)):
        yield tid, "train", int(k < n_small)


METHODS = {"stable": stable_split, "exact": exact_split}


def inputs(ctx: BuildContext) -> Any:
    return ctx.config.section_json("split")


def run(ctx: BuildContext) -> dict[str, Any]:
    cfg = ctx.config.split
    with builddb.transaction(ctx.db) as db:
        db.execute("DELETE FROM splits")
        db.executemany("INSERT INTO splits VALUES (?, ?, ?)", METHODS[cfg.method](db, cfg))
    counts = dict(ctx.db.execute("SELECT split, COUNT(*) FROM splits GROUP BY 1"))
    counts = {
        "train": counts.get("train", 0),
        "val": counts.get("val", 0),
        "train_small": ctx.db.execute(
            "SELECT COUNT(*) FROM splits WHERE in_train_small"
        ).fetchone()[0],
    }
    ctx.log(
        f"split ({cfg.method}, seed {cfg.seed}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return {"method": cfg.method, "seed": cfg.seed, **counts}


STAGE = Stage(NAME, "assign train / val / train_small, deterministically", run, inputs)
