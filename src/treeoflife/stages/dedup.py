"""Dedup: one sample per duplicate cluster, nothing that matches an eval image.

Runs after ``resolve`` because the sample a cluster keeps is the one with the most complete
label (most of the seven ranks known, then a common name; ties: the smallest treeoflife_id,
so the choice is the same on every machine; an image a filter or a ``[select]`` rule leaves
out only when every copy is). Streams ``clusters`` a cluster at a time:

- a cluster holding an eval image (``[dedup] eval_sets``) or an image held out for the Rare
  Species benchmark: every other source image is dropped as ``eval_duplicate``, naming the
  eval image (the nearest) or the held-out id;
- otherwise, with ``[dedup] keep = "one"``, the others are dropped as ``duplicate``,
  naming the kept id (``keep = "all"`` keeps them; the split already keeps a cluster
  together).

Records ``duplicates`` (plan leaves those images out) and their rejects, and writes
``reports/duplicates.parquet``: one row per image of a cluster. A cluster whose images
carry different species is counted as a ``label_disagreement`` (with examples in the
summary; the report and the card say this count): the same photo under two names is a
labelling problem. Only images whose label has a species count: a genus-only label does
not disagree with a species of its genus.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from treeoflife import atomic, builddb
from treeoflife.dedup.phash import distance
from treeoflife.stages import BuildContext, Stage
from treeoflife.stages.filters import NOT_FILTERED
from treeoflife.taxonomy.ranks import RANKS

NAME = "dedup"
REPORT = Path("reports") / "duplicates.parquet"
BATCH = 10_000
EXAMPLES = 10

_KNOWN = " + ".join(f"(COALESCE(t.\"{r}\", '') != '')" for r in RANKS)
# every member of every cluster, a cluster at a time, the best sample to keep first
_MEMBERS = (
    "SELECT c.cluster, c.member, c.is_eval, c.phash, "
    "h.treeoflife_id IS NOT NULL AS held, "
    "COALESCE(t.genus, '') || ' ' || COALESCE(t.species, '') AS species, "
    f"({_KNOWN}) AS known, COALESCE(t.common, '') != '' AS common, "
    "COALESCE(t.species, '') != '' AS has_species "
    "FROM clusters c LEFT JOIN images i ON i.treeoflife_id = c.member AND c.is_eval = 0 "
    "LEFT JOIN taxa t ON t.label_key = i.label_key "
    "LEFT JOIN holdout h ON h.treeoflife_id = c.member "
    # an image a filter or a [select] rule leaves out is kept only when all are left out
    "ORDER BY c.cluster, c.is_eval DESC, held DESC, "
    "(c.is_eval = 0 AND (NOT " + NOT_FILTERED.format(id="c.member") + " OR EXISTS "
    "(SELECT 1 FROM unselected u WHERE u.treeoflife_id = c.member))), "
    "known DESC, common DESC, c.member"
)
_SCHEMA = pa.schema(
    [
        ("cluster", pa.string()),
        ("treeoflife_id", pa.string()),  # null for an eval image
        ("eval_image", pa.string()),  # the eval image's name, for an eval image
        ("status", pa.string()),  # kept | duplicate | eval_duplicate | held_out | eval
        ("kept", pa.string()),  # the kept id, or the eval image / held-out id matched
        ("distance", pa.int64()),  # Hamming distance to it (bits of 64)
        ("species", pa.string()),  # genus and species as resolved, for a source image
    ]
)


def inputs(ctx: BuildContext) -> Any:
    return {"keep": ctx.config.dedup.keep}


def _decide(members: list[tuple]) -> Iterator[tuple]:
    """Report rows (cluster, id, eval name, status, kept, distance, species) of one
    cluster, ordered best-to-keep first."""
    cluster = members[0][0]
    anchors = [m for m in members if m[2] or m[4]]  # eval images, held-out images
    sources = [m for m in members if not m[2]]
    if anchors:
        for m in members:
            if m[2]:
                yield cluster, None, m[1], "eval", None, None, None
            elif m[4]:
                yield cluster, m[1], None, "held_out", None, None, m[5].strip()
            else:
                near = min(anchors, key=lambda a: (distance(a[3], m[3]), a[1]))
                d = distance(near[3], m[3])
                yield cluster, m[1], None, "eval_duplicate", near[1], d, m[5].strip()
        return
    kept = sources[0]
    yield cluster, kept[1], None, "kept", kept[1], 0, kept[5].strip()
    for m in sources[1:]:
        yield cluster, m[1], None, "duplicate", kept[1], distance(kept[3], m[3]), m[5].strip()


def run(ctx: BuildContext) -> dict[str, Any]:
    db = ctx.db
    keep_all = ctx.config.dedup.keep == "all"
    final = ctx.out / REPORT
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_path(final)
    tally = {"kept": 0, "duplicate": 0, "eval_duplicate": 0, "clusters": 0}
    disagree, examples = 0, []
    with builddb.transaction(db), atomic.removed_on_failure(tmp):
        db.execute("DELETE FROM duplicates")
        db.execute("DELETE FROM rejects WHERE stage = ?", (NAME,))
        rows: list[tuple] = []
        with pq.ParquetWriter(tmp, _SCHEMA) as writer:
            for _, group in groupby(db.execute(_MEMBERS), key=lambda r: r[0]):
                members = list(group)  # one cluster: a handful of images
                tally["clusters"] += 1
                decided = list(_decide(members))
                held = {m[1] for m in members if m[4]}
                # the species names (a genus-only label names none: it does not
                # disagree with the species of its genus)
                labels = {m[5].strip() for m in members if m[8]}
                if len(labels) > 1:
                    disagree += 1
                    if len(examples) < EXAMPLES:
                        examples.append({"cluster": decided[0][0], "species": sorted(labels)})
                for cluster, tid, _, status, kept, dist, _ in decided:
                    if status == "duplicate" and keep_all:
                        status = "kept"
                    if status in ("kept", "duplicate", "eval_duplicate"):
                        tally[status] += 1
                    if status in ("duplicate", "eval_duplicate"):
                        db.execute(
                            "INSERT INTO duplicates VALUES (?, ?, ?, ?)", (tid, status, kept, dist)
                        )
                        what = (
                            "kept sample"
                            if status == "duplicate"
                            else "held-out rare-species image"
                            if kept in held
                            else "eval image"
                        )
                        builddb.add_reject(
                            db,
                            tid,
                            NAME,
                            status,
                            f"{what} {kept} (distance {dist}), cluster {cluster}",
                        )
                rows.extend(
                    (c, t, e, ("kept" if s == "duplicate" and keep_all else s), k, d, sp)
                    for c, t, e, s, k, d, sp in decided
                )
                if len(rows) >= BATCH:
                    writer.write_table(_table(rows))
                    rows.clear()
            writer.write_table(_table(rows))
        atomic.publish(tmp, final)
    eval_hits = dict(
        db.execute(
            "SELECT f.eval_set, COUNT(*) FROM duplicates d JOIN eval_images v ON v.name = d.kept "
            "JOIN eval_files f ON f.path = v.file GROUP BY 1 ORDER BY 1"
        )
    )
    summary = {
        "keep": ctx.config.dedup.keep,
        "clusters": tally["clusters"],
        "dropped_duplicate": tally["duplicate"],
        "dropped_eval_duplicate": tally["eval_duplicate"],
        "eval_matches": eval_hits,
        "label_disagreement": disagree,
        "label_disagreement_examples": examples,
    }
    ctx.log(
        f"dedup (keep {summary['keep']}): {tally['clusters']} clusters; dropped "
        f"{tally['duplicate']} duplicates and {tally['eval_duplicate']} matches of eval or "
        f"held-out images; {disagree} clusters whose images carry different species"
        + "".join(f"\n  {e['cluster']}: {', '.join(e['species'])}" for e in examples[:3])
        + f"\n  report: {final}"
    )
    return summary


def counts(db: Any) -> dict[str, Any]:
    """What the report and the card say of duplicates: clusters of identical files and of
    near duplicates, images dropped by reason, eval matches per eval set (SQL aggregates
    over the recorded relations), and the clusters whose images carry different species
    (as this stage counted them)."""
    exact, near = db.execute(
        "SELECT COALESCE(SUM(same), 0), COALESCE(SUM(1 - same), 0) FROM ("
        "SELECT COUNT(DISTINCT sha256) = 1 AS same FROM clusters GROUP BY cluster)"
    ).fetchone()
    dropped = dict(db.execute("SELECT reason, COUNT(*) FROM duplicates GROUP BY 1 ORDER BY 1"))
    evals = dict(
        db.execute(
            "SELECT f.eval_set, COUNT(*) FROM duplicates d JOIN eval_images v ON v.name = d.kept "
            "JOIN eval_files f ON f.path = v.file GROUP BY 1 ORDER BY 1"
        )
    )
    # the dedup stage's own count, by its rule, recorded before report runs (a stage runs
    # only after the one before it, and forgetting one forgets those after it)
    disagree = (builddb.stage_summary(db, NAME) or {}).get("label_disagreement", 0)
    return {
        "exact_clusters": exact,
        "near_clusters": near,
        "dropped": dropped,
        "eval_matches": evals,
        "label_disagreement": disagree,
    }


def _table(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in _SCHEMA]
    return pa.table(
        {f.name: pa.array(list(col), type=f.type) for f, col in zip(_SCHEMA, columns, strict=True)},
        schema=_SCHEMA,
    )


STAGE = Stage(
    NAME,
    "keep one sample per duplicate cluster; drop images that match an eval image",
    run,
    inputs,
    lambda ctx: [ctx.out / REPORT],
)
