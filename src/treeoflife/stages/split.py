"""Split: assign train / val, and the train_small subset of train, deterministically.

Two methods (``split.method``):

- ``stable`` (default): an image's split is a function of the seed and its own id alone
  (a SHA-256 bucket), so adding images never moves an old one between splits; train and
  val never leak into each other across incremental builds. Counts hit the percentages
  within sampling noise (about ±sqrt(n)).
- ``exact``: the reference's method — exactly round(n * val%) val images and
  round(n_train * train_small%) train_small images, drawn with a seeded shuffle of the
  sorted ids (the reference sampled from a Python set, so its seed did not reproduce).
  Adding images may move old ones.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from treeoflife import builddb
from treeoflife.stages import BuildContext, Stage

NAME = "split"
SCALE = 2**64


def _unit(seed: int, salt: str, treeoflife_id: str) -> float:
    """A uniform number in [0, 1) from (seed, salt, id), identical on every machine."""
    digest = hashlib.sha256(f"{seed}:{salt}:{treeoflife_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / SCALE


def stable_split(
    ids: list[str], val_percent: float, train_small_percent: float, seed: int
) -> dict[str, tuple[str, bool]]:
    out = {}
    for tid in ids:
        if _unit(seed, "val", tid) < val_percent / 100:
            out[tid] = ("val", False)
        else:
            out[tid] = ("train", _unit(seed, "train_small", tid) < train_small_percent / 100)
    return out


def exact_split(
    ids: list[str], val_percent: float, train_small_percent: float, seed: int
) -> dict[str, tuple[str, bool]]:
    order = sorted(ids)
    rng = random.Random(seed)
    rng.shuffle(order)
    n_val = round(len(order) * val_percent / 100)
    val, train = order[:n_val], order[n_val:]
    n_small = round(len(train) * train_small_percent / 100)
    small = set(train[:n_small])
    out = {tid: ("val", False) for tid in val}
    out.update({tid: ("train", tid in small) for tid in train})
    return out


METHODS = {"stable": stable_split, "exact": exact_split}


def inputs(ctx: BuildContext) -> Any:
    return ctx.config.section_json("split")


def run(ctx: BuildContext) -> dict[str, Any]:
    cfg = ctx.config.split
    ids = [
        row[0] for row in ctx.db.execute("SELECT treeoflife_id FROM images ORDER BY treeoflife_id")
    ]
    assignment = METHODS[cfg.method](ids, cfg.val_percent, cfg.train_small_percent, cfg.seed)
    with builddb.transaction(ctx.db) as db:
        db.execute("DELETE FROM splits")
        db.executemany(
            "INSERT INTO splits VALUES (?, ?, ?)",
            ((tid, split, int(small)) for tid, (split, small) in sorted(assignment.items())),
        )
    counts = {
        "train": sum(1 for s, _ in assignment.values() if s == "train"),
        "val": sum(1 for s, _ in assignment.values() if s == "val"),
        "train_small": sum(1 for _, small in assignment.values() if small),
    }
    ctx.log(
        f"split ({cfg.method}, seed {cfg.seed}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return {"method": cfg.method, "seed": cfg.seed, **counts}


STAGE = Stage(NAME, "assign train / val / train_small, deterministically", run, inputs)
