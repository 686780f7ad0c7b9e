"""Report: what the dataset holds, for the people who use and curate it.

Written from the ``samples`` relation with SQL aggregates — no output file is read back and
no image is read, so memory stays flat whatever the size of the build:

- ``reports/stats.json``: samples per split, source, kingdom; how complete the labels are;
  rejects by reason;
- ``reports/treemap.html``: a plotly treemap of the train split, kingdom → family;
- ``README.md`` at the top of OUT: the dataset card, where Hugging Face looks for it (its
  front matter names the shards of each split, so ``load_dataset(OUT)`` finds them);
- ``reports/licenses.csv``: license and owner of every EOL image, when the EOL media
  manifest is among the sources.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from treeoflife import atomic, rejects
from treeoflife.reports import card, treemap
from treeoflife.stages import BuildContext, Stage, file_signature
from treeoflife.taxonomy.ranks import RANKS

NAME = "report"
MANIFEST_BATCH = 10_000


def catalog_stats(db: sqlite3.Connection) -> dict[str, Any]:
    """Counts a curator looks at first: per split; and, over train, per source and kingdom,
    rank completeness, distinct taxa, common names."""
    by_split = dict(
        db.execute("SELECT s.split, COUNT(*) FROM samples s GROUP BY s.split ORDER BY 1")
    )
    # over train (the whole catalog when there is no train split)
    where = "WHERE s.split = 'train'" if by_split.get("train") else ""
    n = sum(by_split.values()) if not where else by_split["train"]
    known = ", ".join(f"SUM(s.\"{r}\" != '')" for r in RANKS)
    *complete, with_common = db.execute(
        f"SELECT {known}, SUM(s.common != '') FROM samples s {where}"
    ).fetchone()
    ranks = ", ".join(f's."{r}"' for r in RANKS)
    (distinct,) = db.execute(
        f"SELECT COUNT(*) FROM (SELECT DISTINCT {ranks} FROM samples s {where})"
    ).fetchone()
    group = f"FROM samples s {where} GROUP BY 1 ORDER BY 1"
    n = n or 1
    return {
        "samples": by_split,
        "by_source": dict(db.execute(f"SELECT s.source, COUNT(*) {group}")),
        "by_kingdom": dict(
            db.execute(f"SELECT COALESCE(NULLIF(s.kingdom, ''), '(unknown)'), COUNT(*) {group}")
        ),
        "rank_known_percent": {
            rank: round(100 * (c or 0) / n, 2) for rank, c in zip(RANKS, complete, strict=True)
        },
        "distinct_taxa": distinct,
        "with_common_name_percent": round(100 * (with_common or 0) / n, 2),
    }


def treemap_counts(
    db: sqlite3.Connection, split: str = "train"
) -> list[tuple[tuple[str, ...], int]]:
    """(kingdom … family path, samples) of a split: the treemap's leaves."""
    depth = ", ".join(f's."{r}"' for r in treemap.DEPTH)
    rows = db.execute(
        f"SELECT {depth}, COUNT(*) FROM samples s WHERE s.split = ? "
        f"GROUP BY {depth} ORDER BY {depth}",
        (split,),
    )
    return [(tuple(r[:-1]), r[-1]) for r in rows]


def reject_counts(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for reason, outcome, count in db.execute(
        "SELECT reason, outcome, COUNT(*) FROM rejects GROUP BY reason, outcome ORDER BY reason"
    ):
        out.setdefault(outcome, {})[reason] = count
    return out


def recorded_changes(db: sqlite3.Connection) -> dict[str, Any] | None:
    """What changed since the last build, as the catalog stage recorded it (``[report]
    changes``), or None."""
    row = db.execute("SELECT summary FROM stages WHERE stage = 'catalog'").fetchone()
    return json.loads(row[0]).get("changes") if row else None


_MANIFEST_COLUMNS = (
    "EOL content ID",
    "EOL page ID",
    "License Name",
    "Copyright Owner",
    "Medium Source URL",
)


def write_licenses(manifest: Path, db: sqlite3.Connection, dest: Path) -> int:
    """EOL license and owner per kept image, from the media manifest, in manifest order.

    The manifest (millions of rows) goes into a temporary table and is joined with the
    samples in SQLite; neither side is held in Python.
    """
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS manifest (seq INTEGER PRIMARY KEY, content_id INTEGER "
        "UNIQUE, page_id TEXT, license TEXT, owner TEXT, url TEXT)"
    )
    db.execute("DELETE FROM temp.manifest")
    with manifest.open(newline="", encoding="utf-8") as fh:
        batch: list[tuple] = []
        for row in csv.DictReader(fh):
            cid = (row.get("EOL content ID") or "").strip()
            if cid.isdigit():
                batch.append((int(cid), *((row.get(c) or "") for c in _MANIFEST_COLUMNS[1:])))
            if len(batch) >= MANIFEST_BATCH:
                db.executemany(
                    "INSERT OR IGNORE INTO temp.manifest VALUES (NULL, ?, ?, ?, ?, ?)", batch
                )
                batch.clear()
        db.executemany("INSERT OR IGNORE INTO temp.manifest VALUES (NULL, ?, ?, ?, ?, ?)", batch)
    query = (
        "SELECT s.treeoflife_id, m.content_id, m.page_id, m.license, m.owner, m.url "
        "FROM samples s JOIN temp.manifest m ON m.content_id = s.eol_content_id "
        "WHERE s.split != 'train_small' ORDER BY m.seq, s.treeoflife_id"
    )
    written = 0
    tmp = atomic.temp_path(dest)
    with atomic.removed_on_failure(tmp), tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["treeoflife_id", "eol_content_id", "eol_page_id", "license", "owner", "source_url"]
        )
        for row in db.execute(query):
            writer.writerow(row)
            written += 1
        out.flush()
        os.fsync(out.fileno())
    db.execute("DROP TABLE temp.manifest")
    atomic.publish(tmp, dest)
    return written


def inputs(ctx: BuildContext) -> Any:
    return file_signature([ctx.config.source_path("eol_media_manifest")])


def run(ctx: BuildContext) -> dict[str, Any]:
    reports = ctx.out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    stats = catalog_stats(ctx.db)
    stats["rejects"] = reject_counts(ctx.db)
    changes = recorded_changes(ctx.db)
    if changes is not None:
        stats["changes"] = changes
    atomic.write_text(reports / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    treemap.write_treemap(treemap_counts(ctx.db), reports / "treemap.html")
    manifest = ctx.config.source_path("eol_media_manifest")
    licensed = (
        write_licenses(manifest, ctx.db, reports / "licenses.csv") if manifest.is_file() else 0
    )
    atomic.write_text(ctx.out / "README.md", card.dataset_card(stats, ctx.config, rejects.REASONS))
    ctx.log(
        f"report: {ctx.out}/README.md (dataset card), {reports}/ stats.json, treemap.html"
        + (f", licenses.csv ({licensed} images)" if manifest.is_file() else "")
    )
    return {"licensed_images": licensed, "distinct_taxa": stats["distinct_taxa"]}


def outputs(ctx: BuildContext) -> list[Path]:
    reports = ctx.out / "reports"
    names = ("stats.json", "treemap.html", treemap.PLOTLY_JS, "licenses.csv")
    return [ctx.out / "README.md", *(reports / n for n in names)]


STAGE = Stage(NAME, "write stats, a treemap, the dataset card and licenses", run, inputs, outputs)
