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
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from treeoflife import builddb
from treeoflife.config import SplitConfig
from treeoflife.reports import predicted
from treeoflife.selection.terms import Term, matches, rank_value, resolve_terms
from treeoflife.stages import BuildContext, Stage
from treeoflife.stages.filters import NOT_FILTERED
from treeoflife.taxonomy.ranks import RANKS

try:  # CPython's own SHA-256 (the same digests): a third less per call than OpenSSL's
    from _sha2 import sha256  # for these short keys; Python 3.12+
except ImportError:  # pragma: no cover - the interpreter decides
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:
        from hashlib import sha256

NAME = "split"
SCALE = 2**64
BATCH = 10_000  # rows placed and inserted at once
_INSERT = "INSERT INTO splits VALUES (?, ?, ?)"


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


# the images split places, walked in storage order (NOT INDEXED: a narrow query would
# otherwise walk the id index and fetch each encoded row at random): those the image pass
# made a JPEG of (NULL, not usable, when it has no encoded row) that no filter left out
# (a rejected or filtered image has no sample to place, and must not shift the exact
# method's counts)
_SPLIT_FROM = f"FROM images i NOT INDEXED {builddb.ENCODED_BY_ROWID}"
_SPLIT_WHERE = f"WHERE {builddb.image_encoded('{e}.reject IS NULL')} AND " + NOT_FILTERED.format(
    id="i.treeoflife_id"
)
# the rows ``splits`` gets, as check-taxa reads them: the same walk, so the predicted
# catalog's check counts its labels without probing ``splits`` by id in storage order
SPLIT_IMAGES = f"SELECT i.treeoflife_id, i.label_key, i.source {_SPLIT_FROM} {_SPLIT_WHERE}"


def _keyed(cfg: SplitConfig, held: list[Term], lines: bool = False) -> tuple[str, list[Any]]:
    """SQL: (treeoflife_id, unit key, held) of every image split places, and its
    parameters; with ``lines``, also the predicted catalog's ``head`` and ``tail``
    (:data:`treeoflife.reports.predicted.HEAD`, ``TAIL``), rendered in the same pass (its
    ``tail`` takes the last parameter, ``Catalog.no_taxon``, appended by the caller), and
    the image's ``label_key`` and ``source``, which check-taxa counts
    (:class:`treeoflife.reports.predicted.LabelTally`)."""
    cond, params = matches(held) if held else ("0", [])
    labels = "LEFT JOIN taxa t ON t.label_key = i.label_key" if held or cfg.unit != "image" else ""
    if cfg.unit == "image":  # an integer probe a row, in storage order
        labels += " LEFT JOIN temp.cluster_keys ck ON ck.image = i.rowid"
    line = (
        f", {predicted.HEAD} AS head, {predicted.TAIL} AS tail, i.label_key AS label_key, "
        "i.source AS source"
        if lines
        else ""
    )
    return (
        f"SELECT i.treeoflife_id AS treeoflife_id, {split_key(cfg)} AS unit, {cond} AS held"
        f"{line} {_SPLIT_FROM} {labels} {predicted.LABEL_TAILS if lines else ''} {_SPLIT_WHERE}",
        list(params),
    )


def cluster_keys(db: sqlite3.Connection, seed: int) -> None:
    """temp.cluster_keys: each source member of a duplicate cluster (by its image's rowid)
    with its cluster's split key, the member whose own val hash is smallest (so the cluster
    goes where the most val-bound of its images would). Keyed by rowid, the split's walk
    probes it with an integer in storage order (by member it was a text search an image,
    ~2 µs); the members are few (the duplicates), each found once in the id index."""
    db.create_function("tol_unit", 3, _unit, deterministic=True)
    db.execute("DROP TABLE IF EXISTS temp.cluster_keys")
    db.execute("CREATE TEMP TABLE cluster_keys (image INTEGER PRIMARY KEY, key TEXT NOT NULL)")
    db.execute(
        "INSERT INTO temp.cluster_keys SELECT image, key FROM (SELECT i.rowid AS image, "
        "FIRST_VALUE(c.member) OVER (PARTITION BY c.cluster ORDER BY tol_unit(?, 'val', c.member), "
        "c.member) AS key FROM (SELECT member, cluster FROM clusters WHERE is_eval = 0 "
        # in id order, a subquery SQLite does not flatten (OFFSET): the id index of images
        # is then read in its own order
        "ORDER BY member LIMIT -1 OFFSET 0) c LEFT JOIN images i ON i.treeoflife_id = c.member) "
        "WHERE image IS NOT NULL ORDER BY image",
        (seed,),
    )


def _unit(seed: int, salt: str, treeoflife_id: str) -> float:
    """A uniform number in [0, 1) from (seed, salt, key), identical on every machine."""
    return _hashed(_salted(seed, salt), treeoflife_id)


def _salted(seed: int, salt: str) -> bytes:
    return f"{seed}:{salt}:".encode()


def _hashed(salted: bytes, key: str) -> float:
    """:func:`_unit` of a key, with the (seed, salt) prefix encoded once for many keys."""
    return int.from_bytes(sha256(salted + key.encode()).digest()[:8], "big") / SCALE


def below(fraction: float) -> bytes:
    """The bytes ``b`` for which ``sha256(x).digest() < b`` exactly when
    ``_hashed`` of it is ``< fraction``: a comparison of bytes, not an int and a float made
    per image.

    ``_hashed`` is the first 8 digest bytes as an integer ``n``, over 2**64 (a float,
    rounded): monotonic in ``n``, so it is below ``fraction`` exactly when ``n < T`` for the
    smallest ``T`` at which it is not, found by bisection with the same expression. A
    32-byte digest compares below ``T``'s 8 big-endian bytes exactly when its first 8 are
    (on a tie the longer string is greater); when no ``T`` exists every digest passes."""
    lo, hi = 0, SCALE  # n / SCALE < fraction holds below lo; hi is past every n
    while lo < hi:
        mid = (lo + hi) // 2
        if mid / SCALE < fraction:
            lo = mid + 1
        else:
            hi = mid
    return lo.to_bytes(8, "big") if lo < SCALE else b"\xff" * 33


def stable_split(
    db: sqlite3.Connection, cfg: SplitConfig, held: list[Term] = ()
) -> Iterator[list[tuple[str, str, int]]]:
    """Batches of (id, split, in_train_small), from each image's unit key, in id order."""
    for assigned, _ in _stable_batches(db, cfg, held):
        yield assigned


def _stable_batches(
    db: sqlite3.Connection,
    cfg: SplitConfig,
    held: Sequence[Term] = (),
    no_taxon: str | None = None,
) -> Iterator[tuple[list[tuple[str, str, int]], list[tuple]]]:
    """Batches of (id, split, in_train_small) and the query's rows, whose fourth to seventh
    values are the predicted catalog's head and tail (:meth:`Catalog.write`) and the
    image's label_key and source (:class:`predicted.LabelTally`) when ``no_taxon``
    (``Catalog.no_taxon``) is given (NULL otherwise): one pass,
    one batch held, in id order, so ``splits`` (keyed by id) is appended to. SQLite sorts the rows (storage order in, one sort): walking ``images`` in
    id order would read it at random. A batch is one list comprehension of byte
    comparisons, as a Python step per image is most of this stage's cost at 10M images."""
    cluster_keys(db, cfg.seed)
    lines = no_taxon is not None
    query, params = _keyed(cfg, list(held), lines=lines)
    # the unit key only where it is not the id itself (most images): None is cheaper to
    # fetch; "+": sort, rather than walk the id index and fetch each row at random
    query = (
        "SELECT treeoflife_id, NULLIF(unit, treeoflife_id), held"
        + (", head, tail, label_key, source" if lines else ", NULL, NULL, NULL, NULL")
        + f" FROM ({query}) ORDER BY +treeoflife_id"
    )
    if lines:
        params.append(no_taxon)
    to_val, to_small = _salted(cfg.seed, "val"), _salted(cfg.seed, "train_small")
    val, small = below(cfg.val_percent / 100), below(cfg.train_small_percent / 100)
    cur = db.execute(query, params)
    while rows := cur.fetchmany(BATCH):
        yield (
            [
                (tid, "val", 0)
                if is_held or sha256(to_val + (key or tid).encode()).digest() < val
                else (tid, "train", int(sha256(to_small + tid.encode()).digest() < small))
                for tid, key, is_held, _, _, _, _ in rows
            ],
            rows,
        )


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
# images of the last split that changed split (the stable method: they follow a cluster):
# a split is train or val, so a moved image is val before or after; only those (~5%) are
# looked up in the other table, not every image
_MOVED = (
    "SELECT (SELECT COUNT(*) FROM splits_before o CROSS JOIN splits s "
    "ON s.treeoflife_id = o.treeoflife_id WHERE o.split = 'val' AND s.split != 'val') + "
    "(SELECT COUNT(*) FROM splits s CROSS JOIN splits_before o "
    "ON o.treeoflife_id = s.treeoflife_id WHERE s.split = 'val' AND o.split != 'val')"
)


def inputs(ctx: BuildContext) -> Any:
    return ctx.config.section_json("split")


def run(ctx: BuildContext) -> dict[str, Any]:
    cfg = ctx.config.split
    db = ctx.db
    # the pass probes temp.label_tails and temp.cluster_keys (per label and per duplicate:
    # ~60 MB at 10M images) once an image: in the temporary tables' cache builddb sizes
    with predicted.writing(ctx.out, db) as catalog, builddb.transaction(db):
        held = resolve_terms(db, "split.holdout_taxa", cfg.holdout_taxa)
        # the last run's splits, to count the images that changed split: set aside by a
        # rename (a copy cost ~0.9 s at 1M) and dropped once counted, in this transaction
        db.execute("DROP TABLE IF EXISTS splits_before")
        db.execute("ALTER TABLE splits RENAME TO splits_before")
        db.execute(builddb.SPLITS)
        if cfg.method == "stable":  # the catalog's lines and check-taxa's labels: same pass
            tally = predicted.LabelTally()
            for assigned, rows in _stable_batches(db, cfg, held, catalog.no_taxon):
                db.executemany(_INSERT, assigned)
                catalog.write(assigned, rows)
                tally.add(rows, label=5, source=6)
        else:
            tally = None
            for batch in METHODS[cfg.method](db, cfg, held):
                db.executemany(_INSERT, batch)
            catalog.write_splits(db)
        (moved,) = db.execute(_MOVED).fetchone()
        db.execute("DROP TABLE splits_before")
    if tally is None:
        predicted.check(ctx.out, db, SPLIT_IMAGES)
    else:
        predicted.check_tally(ctx.out, db, tally)
    n, n_val, n_small = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(split = 'val'), 0), COALESCE(SUM(in_train_small), 0) "
        "FROM splits"
    ).fetchone()
    counts = {"train": n - n_val, "val": n_val, "train_small": n_small}
    unit = "image" if cfg.unit == "image" else f"taxon at {cfg.taxon_rank}"
    ctx.log(
        f"split ({cfg.method}, by {unit}, seed {cfg.seed}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + (f"; holdout_taxa {', '.join(map(str, held))} in val" if held else "")
        + (
            f"; {moved} images changed split since the last run (duplicate clusters)"
            if moved
            else ""
        )
        + f"\n  predicted catalog: {catalog.path}"
    )
    return {"method": cfg.method, "unit": cfg.unit, "seed": cfg.seed, **counts, "moved": moved}


STAGE = Stage(
    NAME,
    "assign train / val / train_small, deterministically; write predicted-catalog.csv",
    run,
    inputs,
    lambda ctx: [ctx.out / p for p in predicted.OUTPUTS],
)
