"""Report: what the dataset holds, for the people who use and curate it.

Written from the ``samples`` relation with SQL aggregates — no output file is read back and
no image is read, so memory stays flat whatever the size of the build:

- ``reports/stats.json``: samples per split, source, kingdom; how complete the labels are;
  rejects by reason;
- ``reports/treemap.html``: a plotly treemap of the train split, kingdom → family;
- ``README.md`` at the top of OUT: the dataset card, where Hugging Face looks for it (its
  front matter names the shards of each split, so ``load_dataset(OUT)`` finds them);
- ``reports/licenses.csv``: every sample's license, rights holder and source URL, from
  what scan recorded of each source (``rights``);
- ``croissant.json``: Croissant (JSON-LD) metadata of the files, record sets and fields,
  with the responsible-AI fields the build can fill.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from treeoflife import atomic, licenses, rejects
from treeoflife.reports import card, croissant, treemap
from treeoflife.shards.samples import each_sample_once
from treeoflife.stages import BuildContext, Stage, dedup
from treeoflife.taxonomy.ranks import RANKS

NAME = "report"


def _groups(db: sqlite3.Connection) -> tuple[bool, Iterator[tuple]]:
    """One pass over ``samples`` for every count of the report: (in the counted set, split,
    source, *RANKS, has a common name, samples) per group, the counted set first (train; the
    whole catalog when there is no train split), each part ordered by the ranks, so distinct
    taxa and the treemap's leaves are runs of rows; returns whether there is a train split."""
    (has_train,) = db.execute(
        "SELECT EXISTS (SELECT 1 FROM samples WHERE split = 'train')"
    ).fetchone()
    counted = "s.split = 'train'" if has_train else "1"
    ranks = ", ".join(f's."{r}"' for r in RANKS)
    keys = f"{counted}, {ranks}, s.split, s.source, s.common != ''"
    rows = db.execute(
        f"SELECT {counted}, s.split, s.source, {ranks}, s.common != '', COUNT(*) "
        f"FROM samples s GROUP BY {keys} ORDER BY {counted} DESC, {ranks}, s.split, s.source"
    )
    return bool(has_train), rows


def _report_counts(
    db: sqlite3.Connection,
) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], int]]]:
    """The stats of :func:`catalog_stats` and the treemap leaves of the train split, from
    one grouped pass (``_groups``): a few counters, never a row per sample or per taxon."""
    has_train, rows = _groups(db)
    by_split: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    by_kingdom: Counter[str] = Counter()
    known = [0] * len(RANKS)
    n = with_common = distinct = 0
    last: tuple[str, ...] | None = None
    leaves: list[tuple[tuple[str, ...], int]] = []
    depth = len(treemap.DEPTH)
    for counted, split, source, *rest in rows:
        ranks, has_common, count = tuple(rest[: len(RANKS)]), rest[-2], rest[-1]
        by_split[split] += count
        if not counted:
            continue
        n += count
        with_common += count * has_common
        by_source[source] += count
        by_kingdom[ranks[0] or "(unknown)"] += count
        for k, value in enumerate(ranks):
            known[k] += count * (value != "")
        distinct += ranks != last
        last = ranks
        if has_train and split == "train":
            leaf = ranks[:depth]
            if leaves and leaves[-1][0] == leaf:
                leaves[-1] = (leaf, leaves[-1][1] + count)
            else:
                leaves.append((leaf, count))
    n = n or 1
    stats = {
        "samples": dict(sorted(by_split.items())),
        "by_source": dict(sorted(by_source.items())),
        "by_kingdom": dict(sorted(by_kingdom.items())),
        "rank_known_percent": {
            rank: round(100 * c / n, 2) for rank, c in zip(RANKS, known, strict=True)
        },
        "distinct_taxa": distinct,
        "with_common_name_percent": round(100 * with_common / n, 2),
    }
    return stats, leaves


def catalog_stats(db: sqlite3.Connection) -> dict[str, Any]:
    """Counts a curator looks at first: per split; and, over train, per source and kingdom,
    rank completeness, distinct taxa, common names."""
    return _report_counts(db)[0]


def treemap_counts(db: sqlite3.Connection) -> list[tuple[tuple[str, ...], int]]:
    """(kingdom … family path, samples) of the train split: the treemap's leaves."""
    return _report_counts(db)[1]


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


_UNIQUE = each_sample_once("s")


UniqueCounts = list[tuple[str, str, str, int]]


def unique_counts(db: sqlite3.Connection) -> UniqueCounts:
    """(license code, source, taxon status, samples) over each sample once (train and val;
    a train_small sample is its train row): the one grouped pass, with its probe of
    ``rights``, that the license, source and limitation counts all come from."""
    return db.execute(
        "SELECT COALESCE(r.license, ?), s.source, s.taxon_status, COUNT(*) FROM samples s "
        f"LEFT JOIN rights r ON r.treeoflife_id = s.treeoflife_id WHERE {_UNIQUE} "
        "GROUP BY 1, 2, 3",
        (licenses.UNKNOWN,),
    ).fetchall()


def license_counts(
    db: sqlite3.Connection, counts: UniqueCounts | None = None
) -> dict[str, dict[str, int]]:
    """Samples per license and source (train and val; a train_small sample counted once),
    by license, then source."""
    out: dict[str, dict[str, int]] = {}
    for code, source, _, n in sorted(unique_counts(db) if counts is None else counts):
        by_source = out.setdefault(code, {})
        by_source[source] = by_source.get(source, 0) + n
    return out


def source_counts(counts: UniqueCounts) -> dict[str, int]:
    """Samples per source, each once, by source."""
    out: dict[str, int] = {}
    for _, source, _, n in sorted(counts, key=lambda c: c[1]):
        out[source] = out.get(source, 0) + n
    return out


# the lines a source's fingerprint hashes, "<id> <sha256 of the bytes>\n", in id order.
# Each table is read in its storage order and sorted by SQLite's sorter (`|| ''` keeps it
# from walking the id index instead), and the two are merged here: probing `encoded` by id
# in id order reads it at random once it outgrows the page cache, which made this pass
# grow faster than N (10 -> 5.6 CPU s at 1M images, the same fingerprints).
_IDS_IN_ORDER = "SELECT treeoflife_id, source FROM images ORDER BY treeoflife_id || ''"
_DIGESTS_IN_ORDER = (
    "SELECT treeoflife_id, COALESCE(source_sha256, '') FROM encoded ORDER BY treeoflife_id || ''"
)
FINGERPRINT_CHUNK = 20_000  # rows fetched, and lines hashed, at a time


def _fetched(cursor: sqlite3.Cursor) -> Iterator[tuple]:
    while rows := cursor.fetchmany(FINGERPRINT_CHUNK):
        yield from rows


def source_fingerprints(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Per source, the images scan read and a sha256 over their (id, sha256 of the bytes)
    in id order (an image with no bytes read has an empty digest): the same sources give
    the same fingerprint on any machine. Nothing is held but a chunk of lines."""
    digests: dict[str, Any] = {}
    counts: dict[str, int] = {}
    pending: dict[str, list[str]] = {}

    def flush() -> None:
        for source, lines in pending.items():
            digests.setdefault(source, hashlib.sha256()).update("".join(lines).encode())
            counts[source] = counts.get(source, 0) + len(lines)
        pending.clear()

    shas = _fetched(db.execute(_DIGESTS_IN_ORDER))
    sha_id, sha = next(shas, (None, ""))
    for k, (tid, source) in enumerate(_fetched(db.execute(_IDS_IN_ORDER)), 1):
        while sha_id is not None and sha_id < tid:  # Python's str order is SQLite's BINARY
            sha_id, sha = next(shas, (None, ""))
        pending.setdefault(source, []).append(f"{tid} {sha if sha_id == tid else ''}\n")
        if k % FINGERPRINT_CHUNK == 0:
            flush()
    flush()
    return {s: {"images": counts[s], "sha256": digests[s].hexdigest()} for s in sorted(digests)}


def limitations(
    db: sqlite3.Connection, by_kingdom: dict[str, int], counts: UniqueCounts | None = None
) -> dict[str, Any]:
    """What a user of the dataset should know it does not do, counted."""
    status: Counter[str] = Counter()
    unknown = 0  # no rights recorded, or a license the source did not say
    for code, _, taxon_status, n in unique_counts(db) if counts is None else counts:
        status[taxon_status] += n
        unknown += n * (code == licenses.UNKNOWN)
    (held,) = db.execute("SELECT COUNT(*) FROM holdout").fetchone()
    (dropped,) = db.execute(
        "SELECT COUNT(DISTINCT item) FROM rejects WHERE outcome = 'dropped' "
        "AND reason != 'rare_species_holdout'"
    ).fetchone()
    total = sum(by_kingdom.values()) or 1
    return {
        "ambiguous": status.get("ambiguous", 0),
        "partial": status.get("partial", 0),
        "unresolved": status.get("unresolved", 0),
        "unknown_license": unknown,
        "held_out": held,
        "dropped": dropped,
        "kingdom_share": {k: round(100 * v / total, 1) for k, v in by_kingdom.items()},
    }


def build_facts(ctx: BuildContext) -> dict[str, Any]:
    """How the dataset was built: tol's version, the settings, the sources' fingerprints."""
    config = json.loads(ctx.config.to_json())
    for local in ("sources_root", "explicit_paths", "distribute", "fetch"):
        config.pop(local, None)  # where and how it ran, not what it made
    return {
        "tol_version": tol_version(),
        "config": config,
        "sources": source_fingerprints(ctx.db),
    }


def tol_version() -> str:
    try:
        return metadata.version("treeoflife")
    except metadata.PackageNotFoundError:
        return "unknown"


LICENSE_COLUMNS = (
    "treeoflife_id",
    "source",
    "license",
    "license_text",
    "rights_holder",
    "source_url",
)


def write_licenses(db: sqlite3.Connection, dest: Path) -> int:
    """Each sample's license, license text, rights holder and source URL (train and val, in
    shard order), from the ``rights`` relation scan recorded: a cursor, nothing held."""
    query = (
        "SELECT s.treeoflife_id, s.source, COALESCE(r.license, ?), COALESCE(r.license_text, ''), "
        "COALESCE(r.rights_holder, ''), COALESCE(r.source_url, '') FROM samples s "
        f"LEFT JOIN rights r ON r.treeoflife_id = s.treeoflife_id WHERE {_UNIQUE} "
        "ORDER BY s.split, s.shard, s.position"
    )
    written = 0
    tmp = atomic.temp_path(dest)
    with atomic.removed_on_failure(tmp), tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(LICENSE_COLUMNS)
        for row in db.execute(query, (licenses.UNKNOWN,)):
            writer.writerow(row)
            written += 1
        out.flush()
        os.fsync(out.fileno())
    atomic.publish(tmp, dest)
    return written


def inputs(ctx: BuildContext) -> Any:
    # what it reads of the database is covered by the stages before it
    return {
        "config": ctx.config.section_json(
            "paths", "split", "images", "shards", "rights", "filters"
        ),
        "version": tol_version(),
    }


def run(ctx: BuildContext) -> dict[str, Any]:
    reports = ctx.out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    stats, leaves = _report_counts(ctx.db)
    stats["rejects"] = reject_counts(ctx.db)
    changes = recorded_changes(ctx.db)
    if changes is not None:
        stats["changes"] = changes
    counts = unique_counts(ctx.db)
    stats["licenses"] = license_counts(ctx.db, counts)
    stats["by_source_all"] = source_counts(counts)
    stats["limitations"] = limitations(ctx.db, stats["by_kingdom"], counts)
    stats["build"] = build_facts(ctx)
    stats["duplicates"] = dedup.counts(ctx.db)
    atomic.write_text(reports / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    treemap.write_treemap(leaves, reports / "treemap.html")
    licensed = write_licenses(ctx.db, reports / "licenses.csv")
    atomic.write_text(ctx.out / "README.md", card.dataset_card(stats, ctx.config, rejects.REASONS))
    croissant.write_croissant(ctx, stats)
    ctx.log(
        f"report: {ctx.out}/README.md (dataset card), croissant.json, {reports}/ stats.json, "
        f"treemap.html, licenses.csv ({licensed} samples)"
    )
    unknown = stats["limitations"]["unknown_license"]
    return {
        "licensed_images": licensed - unknown,
        "unknown_license": unknown,
        "distinct_taxa": stats["distinct_taxa"],
    }


def outputs(ctx: BuildContext) -> list[Path]:
    reports = ctx.out / "reports"
    names = ("stats.json", "treemap.html", treemap.PLOTLY_JS, "licenses.csv")
    return [ctx.out / "README.md", ctx.out / croissant.NAME, *(reports / n for n in names)]


STAGE = Stage(
    NAME,
    "write stats, a treemap, the dataset card, licenses and croissant.json",
    run,
    inputs,
    outputs,
)
