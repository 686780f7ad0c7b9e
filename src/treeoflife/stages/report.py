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

import hashlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from treeoflife import arrowquery, atomic, builddb, csvtext, licenses, rejects
from treeoflife.reports import card, croissant, treemap
from treeoflife.shards.samples import each_sample_once
from treeoflife.stages import BuildContext, Stage, dedup
from treeoflife.taxonomy.ranks import RANKS

NAME = "report"


_UNIQUE = each_sample_once("s")


# samples per (split or license, source, label), each once (a train_small row repeats a
# train sample)
LabelCounts = Counter[tuple[str, str, str]]
# a sample's taxon status is its label's (a label without a taxa row, which plan never
# plans, is unresolved)
_STATUS = "COALESCE(t.status, 'unresolved')"


def _label_counts(db: sqlite3.Connection, name: str, counts: LabelCounts | None, sql: str) -> str:
    """A relation of samples per (``name``, source, label_key) as (``name``, source,
    label_key, n): ``counts`` (counted by the licenses pass) in a temporary table, or, for a
    caller that has not made the pass (on a connection that may be read-only), ``sql``,
    one grouped pass over the samples."""
    if counts is None:
        return f"({sql})"
    db.execute(f"DROP TABLE IF EXISTS temp.report_{name}_counts")
    db.execute(f"CREATE TEMP TABLE report_{name}_counts ({name}, source, label_key, n)")
    with builddb.transaction(db):
        db.executemany(
            f"INSERT INTO temp.report_{name}_counts VALUES (?, ?, ?, ?)",
            ((*key, n) for key, n in counts.items()),
        )
    return f"temp.report_{name}_counts"


def _groups(db: sqlite3.Connection, counts: LabelCounts | None) -> tuple[bool, Iterator[tuple]]:
    """Every count of the report that does not need rights: (in the counted set, split,
    source, *RANKS, has a common name, taxon status, samples) per group of each sample
    once, the counted set first (train; the whole catalog when there is no train split),
    each part ordered by the ranks, so distinct taxa and the treemap's leaves are runs of
    rows; returns whether there is a train split.

    The samples are counted by split, source and label (the licenses pass counts them as
    it goes: no sort of the samples), and each group's ranks, common name and status are
    its label's in ``taxa`` (sorting the samples with their ranks cost ~2.5 µs a sample at
    1M); SQLite sorts the groups."""
    (has_train,) = db.execute(
        "SELECT EXISTS (SELECT 1 FROM samples WHERE split = 'train')"
    ).fetchone()
    counted = "g.split = 'train'" if has_train else "1"
    # a label missing from taxa (plan never makes one) counts with no ranks, never drops
    ranks = ", ".join(f"COALESCE(t.\"{r}\", '')" for r in RANKS)
    grouped = (
        "SELECT s.split, s.source, s.label_key, COUNT(*) AS n "
        f"FROM samples s WHERE {_UNIQUE} GROUP BY 1, 2, 3"
    )
    rows = db.execute(
        f"SELECT {counted}, g.split, g.source, {ranks}, COALESCE(t.common, '') != '', "
        f"{_STATUS}, g.n FROM {_label_counts(db, 'split', counts, grouped)} g "
        "LEFT JOIN taxa t ON t.label_key = g.label_key "
        f"ORDER BY {counted} DESC, {ranks}, g.split, g.source"
    )
    return bool(has_train), rows


Totals = Counter[tuple[str, str]]  # samples per (source, taxon status), each sample once


def _report_counts(
    db: sqlite3.Connection, counts: LabelCounts | None = None
) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], int]], Totals]:
    """The stats of :func:`catalog_stats`, the treemap leaves of the train split and the
    samples per source and taxon status (each once), from the samples per (split, source,
    label) (``_groups``) and a count of each split on the samples' key: a few counters,
    never a row per sample or per taxon."""
    by_split = dict(db.execute("SELECT split, COUNT(*) FROM samples GROUP BY split ORDER BY 1"))
    has_train, rows = _groups(db, counts)
    by_source: Counter[str] = Counter()
    by_kingdom: Counter[str] = Counter()
    once: Totals = Counter()
    known = [0] * len(RANKS)
    n = with_common = distinct = 0
    last: tuple[str, ...] | None = None
    leaves: list[tuple[tuple[str, ...], int]] = []
    depth = len(treemap.DEPTH)
    for counted, split, source, *rest in rows:
        ranks, has_common, status, count = tuple(rest[: len(RANKS)]), *rest[len(RANKS) :]
        once[source, status] += count
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
        "samples": by_split,
        "by_source": dict(sorted(by_source.items())),
        "by_kingdom": dict(sorted(by_kingdom.items())),
        "rank_known_percent": {
            rank: round(100 * c / n, 2) for rank, c in zip(RANKS, known, strict=True)
        },
        "distinct_taxa": distinct,
        "with_common_name_percent": round(100 * with_common / n, 2),
    }
    return stats, leaves, once


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
    summary = builddb.stage_summary(db, "catalog")
    return summary.get("changes") if summary else None


# Each sample's rights are its own columns (plan copies them from ``rights``, an image
# without a row as the unknown license with empty texts), read in the order samples are
# stored: no probe of ``rights`` by id. A sample counts as licensed when its code is
# known; the rest are the unknown license (combined_counts), whether a row said so or not.
_LICENSED = "s.license != :unknown"


UniqueCounts = list[tuple[str, str, str, int]]
Licensed = Counter[tuple[str, str, str]]  # licensed samples per (license, source, status)


def licensed_counts(db: sqlite3.Connection, counts: LabelCounts | None = None) -> Licensed:
    """Samples with a known license per (license code, source, taxon status), each sample
    once: from what :func:`write_licenses` tallied per (license, source, label) as it wrote
    (``counts``), or, for a caller with no file to write, a grouped pass; each label's
    status read from ``taxa`` once."""
    grouped = (
        "SELECT s.license, s.source, s.label_key, COUNT(*) AS n "
        f"FROM samples s WHERE {_UNIQUE} AND {_LICENSED} GROUP BY 1, 2, 3"
    )
    relation = _label_counts(db, "license", counts, grouped)
    return Counter(
        {
            (code, source, status): n
            for code, source, status, n in db.execute(
                f"SELECT g.license, g.source, {_STATUS}, SUM(g.n) FROM {relation} g "
                "LEFT JOIN taxa t ON t.label_key = g.label_key GROUP BY 1, 2, 3",
                {"unknown": licenses.UNKNOWN},
            )
        }
    )


def combined_counts(once: Totals, licensed: Licensed) -> UniqueCounts:
    """(license code, source, taxon status, samples) over each sample once (train and val;
    a train_small sample is its train row), sorted: the licensed samples by their
    license, the rest (per source and status, from the grouped pass) unknown. The license,
    source and limitation counts all come from it."""
    out: Counter[tuple[str, str, str]] = Counter(licensed)
    for (source, status), n in once.items():
        out[licenses.UNKNOWN, source, status] += n - sum(
            m for (_, s, st), m in licensed.items() if (s, st) == (source, status)
        )
    return sorted((*key, n) for key, n in out.items() if n)


def unique_counts(db: sqlite3.Connection) -> UniqueCounts:
    """:func:`combined_counts` of a build, for a caller that has not made the passes."""
    return combined_counts(_report_counts(db)[2], licensed_counts(db))


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


# each image's id, source and sha256 of its bytes ('' when none was read), in id order,
# for the lines a source's fingerprint hashes, "<id> <sha256 of the bytes>\n"; each image's
# `encoded` row found by rowid (builddb.image_encoded). SQLite sorts the joined rows once
# (`+` keeps it from walking the id index, which reads `images` at random once it
# outgrows the page cache: report grew faster than N); the rows come as Arrow batches
# (arrowquery), a batch's lines are made by Arrow compute and hashed straight from its
# string buffer: ~1 µs an image less than a Python line each.
_DIGEST_COLUMNS = (
    ("tid", "+i.treeoflife_id", pa.string()),
    ("source", "i.source", pa.string()),
    ("sha", f"COALESCE({builddb.image_encoded('{e}.source_sha256')}, '')", pa.string()),
)
_DIGESTS_FROM = f"FROM images i {builddb.ENCODED_BY_ROWID}"
FINGERPRINT_CHUNK = 20_000  # rows a batch


def _joined(lines: pa.Array) -> pa.Buffer:
    """A string array's values one after another, as bytes (no Python string a value)."""
    whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    return pc.binary_join(whole, "")[0].as_buffer()


def source_fingerprints(path: Path) -> dict[str, dict[str, Any]]:
    """Per source, the images scan read and a sha256 over their (id, sha256 of the bytes)
    in id order (an image with no bytes read has an empty digest): the same sources give
    the same fingerprint on any machine. Nothing is held but a batch of rows."""
    digests: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    batches = arrowquery.batches(
        path, _DIGEST_COLUMNS, _DIGESTS_FROM, ("tid",), batch_rows=FINGERPRINT_CHUNK
    )
    for batch in batches:
        tid, source, sha = batch.columns
        lines = pc.binary_join_element_wise(tid, pc.binary_join_element_wise(sha, "", "\n"), " ")
        for name in pc.unique(source).to_pylist():  # images.source is never NULL
            mine = lines.filter(pc.equal(source, name))
            digests.setdefault(name, hashlib.sha256()).update(_joined(mine))
            counts[name] += len(mine)
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
        "sources": source_fingerprints(ctx.out / builddb.DB_NAME),
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


# columns whose values are codes — an adapter's NAME, a code of licenses.normalise (letters,
# digits, '.', '-') — which no csv writer quotes: rendered as they are, the other columns
# tested for quoting (~0.3 µs a column a sample; a tol10m id is its file's name)
CODE_COLUMNS = ("source", "license")


def _license_line(quoted: bool) -> str:
    """SQL rendering a sample's licenses.csv line (its line end included): one ``printf``
    of the six fields (a chain of ``||`` copies the line at every step: ~0.6 µs a sample
    at 1M), each as its plain text or, ``quoted``, with csvtext's quoting."""
    fields = ", ".join(
        csvtext.sql_field(f"s.{c}", "\n") if quoted and c not in CODE_COLUMNS else f"s.{c}"
        for c in LICENSE_COLUMNS
    )
    return f"printf('{','.join(['%s'] * len(LICENSE_COLUMNS))}' || char(10), {fields})"


# whether a shard's plain lines are what csv.writer writes (nearly always: a value that
# needs quotes is a rare rights text or a tol10m file name)
_PLAIN = csvtext.plain_test("\n")


# each sample once, a shard at a time in shard order: its split, shard, how many, their
# plain lines, joined by SQLite as it walks the samples' primary key (split, shard,
# position), so in position order; and each sample's key for the counts, [source, label,
# license] as a JSON array (which holds no control character, so char(30)
# separates them whatever the values are), counted as text in Python and decoded once per
# distinct key. A shard whose plain lines fail the quoting test is rendered again with the
# quotes (_QUOTED_SHARD): testing each shard's text once in Python costs less than a
# quoting CASE on every value of every sample in SQL.
_LICENSE_SHARDS = (
    f"SELECT s.split, s.shard, COUNT(*), group_concat({_license_line(False)}, ''), "
    "group_concat(json_array(s.source, s.label_key, s.license), char(30)) "
    f"FROM samples s WHERE {_UNIQUE} GROUP BY s.split, s.shard ORDER BY s.split, s.shard"
)
_QUOTED_SHARD = (
    f"SELECT group_concat(line, '') FROM (SELECT {_license_line(True)} AS line "
    "FROM samples s WHERE s.split = ? AND s.shard = ? ORDER BY s.position)"
)


@dataclass
class Seen:
    """What the licenses pass counts on its way through the samples, per label (a label's
    status is taxa's, looked up per group afterwards): the licensed ones per (license,
    source, label), for :func:`licensed_counts`, and every sample per (split, source,
    label), so the stats need no pass of their own (a sort of every sample: ~2.5 µs a
    sample at 1M)."""

    licensed: LabelCounts = field(default_factory=Counter)
    labels: LabelCounts = field(default_factory=Counter)


def write_licenses(db: sqlite3.Connection, dest: Path, seen: Seen | None = None) -> int:
    """Each sample's license, license text, rights holder and source URL (train and val, in
    shard order), from the ``rights`` relation scan recorded; counts what :class:`Seen`
    holds on the way. SQLite renders the lines and joins each shard's (quoted by
    ``csvtext.sql_field`` only in a shard that needs it): Python sees a few texts a shard,
    and counts each sample's key as one string with ``Counter`` (in C; a tuple of decoded
    values a sample cost ~1.5 µs at 1M)."""
    keys: dict[str, Counter[str]] = {}
    written = 0
    tmp = atomic.temp_path(dest)
    with atomic.removed_on_failure(tmp), tmp.open("wb") as out:
        out.write((",".join(LICENSE_COLUMNS) + "\n").encode())  # names that need no quotes
        for split, shard, n, lines, shard_keys in db.execute(_LICENSE_SHARDS):
            if not _PLAIN(lines, (len(LICENSE_COLUMNS) - 1) * n, n):
                (lines,) = db.execute(_QUOTED_SHARD, (split, shard)).fetchone()
            out.write(lines.encode())
            written += n
            keys.setdefault(split, Counter()).update(shard_keys.split("\x1e"))
        out.flush()
        os.fsync(out.fileno())
    atomic.publish(tmp, dest)
    if seen is not None:
        for split, counted in keys.items():
            # the distinct keys decoded in one call (one a key cost ~10 µs at 1M)
            decoded = json.loads("[" + ",".join(counted) + "]")
            for (source, label_key, code), count in zip(decoded, counted.values(), strict=True):
                seen.labels[split, source, label_key] += count
                if code != licenses.UNKNOWN:  # what _LICENSED keeps
                    seen.licensed[code, source, label_key] += count
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
    seen = Seen()
    licensed = write_licenses(ctx.db, reports / "licenses.csv", seen)
    stats, leaves, once = _report_counts(ctx.db, seen.labels)
    stats["rejects"] = reject_counts(ctx.db)
    changes = recorded_changes(ctx.db)
    if changes is not None:
        stats["changes"] = changes
    counts = combined_counts(once, licensed_counts(ctx.db, seen.licensed))
    stats["licenses"] = license_counts(ctx.db, counts)
    stats["by_source_all"] = source_counts(counts)
    stats["limitations"] = limitations(ctx.db, stats["by_kingdom"], counts)
    stats["build"] = build_facts(ctx)
    stats["duplicates"] = dedup.counts(ctx.db)
    atomic.write_text(reports / "stats.json", json.dumps(stats, indent=2, sort_keys=True) + "\n")
    treemap.write_treemap(leaves, reports / "treemap.html")
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
