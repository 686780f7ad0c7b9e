"""check-taxa: the reference's checks over a TreeOfLife-10M catalog, and more.

``check_rows`` is one streaming pass over catalog rows (mappings with the catalog columns,
plus ``status``, ``source`` and ``conflict`` when the build knows them, and ``count`` when
a row stands for that many images); it holds counters and a few examples, never the rows.
Every check depends only on an image's label, so a build checks one row per label with
its image count, not one per image: in SQL (:func:`label_rows`, :func:`check_query`:
split's predicted catalog), or counted from batches of a pass that reads the rows anyway
(:class:`LabelCounts`: the catalog stage); ``tol check-taxa CSV`` streams any catalog file, and when the
build's ``build.sqlite`` sits next to it, looks each row's status, source and conflicts
up there. Thresholds turn the report into a pass/fail for CI.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from treeoflife import builddb
from treeoflife.errors import TolError
from treeoflife.shards.samples import each_sample_once
from treeoflife.taxonomy.ranks import RANKS, is_unknown

EXAMPLES = 5
THRESHOLDS = ("unresolved", "ambiguous", "partial", "conflict", "missing_common")


def source_of(row: Mapping[str, str]) -> str:
    """Which collection a bare catalog row came from, by its id columns (a build knows)."""
    if row.get("inat21_filename"):
        return "inat21"
    if row.get("bioscan_filename"):
        return "bioscan"
    if row.get("eol_content_id"):
        return "eol"
    return "other"


def hierarchy_gaps(row: Mapping[str, str]) -> list[str]:
    """Ranks that are empty although a lower rank is known."""
    return _gaps([row.get(r, "") for r in RANKS])


def row_status(row: Mapping[str, str]) -> str:
    return _status([row.get(r, "") for r in RANKS])


def _gaps(values: list[str]) -> list[str]:
    low = max((i for i, v in enumerate(values) if v), default=-1)
    return [RANKS[i] for i in range(low) if not values[i]]


def _status(values: list[str]) -> str:
    return "resolved" if all(values) else "partial" if any(values) else "unresolved"


def check_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every check over the rows, in one pass; train_small rows (repeats of train) are skipped."""
    n = 0
    kingdoms: Counter = Counter()
    gaps: Counter = Counter()
    status: Counter = Counter()
    by_source: Counter = Counter()
    by_source_status: dict[str, Counter] = {}
    examples: dict[str, list] = {
        k: []
        for k in (
            "hierarchy_gap",
            "multi_word_species",
            "unknown_value",
            "missing_common",
            "ambiguous",
            "conflict",
        )
    }
    counts: Counter = Counter()
    for row in rows:
        if row.get("split") == "train_small":
            continue
        w = row.get("count", 1)  # a row may stand for the images of one label
        n += w
        kingdoms[row.get("kingdom", "")] += w
        source = row.get("source") or source_of(row)
        values = [row.get(r, "") for r in RANKS]  # read once for every check of the row
        st = row.get("status") or _status(values)
        status[st] += w
        by_source[source] += w
        by_source_status.setdefault(source, Counter())[st] += w
        g = _gaps(values)
        for rank in g:
            gaps[rank] += w
        hits = {
            "hierarchy_gap": bool(g),
            "multi_word_species": len(row.get("species", "").split()) > 1,
            "unknown_value": any(v and is_unknown(v) for v in values),
            "missing_common": not row.get("common"),
            "ambiguous": st == "ambiguous",
            "conflict": bool(row.get("conflict")),
        }
        for key, hit in hits.items():
            if hit:
                counts[key] += w
                if len(examples[key]) < EXAMPLES:
                    examples[key].append(
                        {k: row.get(k, "") for k in ("treeoflife_id", *RANKS, "common")}
                    )
    pct = {k: _pct(v, n) for k, v in status.items()}
    return {
        "rows": n,
        "kingdoms": dict(sorted(kingdoms.items())),
        "kingdom_count": len([k for k in kingdoms if k]),
        "status": dict(sorted(status.items())),
        "status_percent": dict(sorted(pct.items())),
        "hierarchy_gaps_by_rank": {r: gaps[r] for r in RANKS if gaps[r]},
        "counts": {k: counts[k] for k in examples},
        "percent": {k: _pct(counts[k], n) for k in examples},
        "by_source": dict(sorted(by_source.items())),
        "by_source_status": {
            s: dict(sorted(c.items())) for s, c in sorted(by_source_status.items())
        },
        "examples": examples,
    }


def _pct(count: int, total: int) -> float:
    return round(100.0 * count / total, 3) if total else 0.0


def read_catalog(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a catalog CSV, one at a time."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"treeoflife_id", *RANKS} - set(reader.fieldnames or ())
            if missing:
                raise TolError(
                    f"{path} is not a catalog: missing column(s) {', '.join(sorted(missing))}"
                )
            yield from reader
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TolError(f"{path} is not a readable catalog CSV: {exc}") from None


# what a build knows of one image beyond the catalog columns
_LOOKUP = (
    "SELECT t.status, i.source, EXISTS (SELECT 1 FROM rejects r WHERE r.item = i.treeoflife_id "
    "AND r.reason = 'label_conflict') FROM images i JOIN taxa t ON t.label_key = i.label_key "
    "WHERE i.treeoflife_id = ?"
)
# the labels a reference contradicts (resolve records label_conflict on each of their images)
_CONFLICTED = (
    "SELECT i.label_key FROM rejects r JOIN images i ON i.treeoflife_id = r.item "
    "WHERE r.reason = 'label_conflict'"
)


def label_rows(
    relation: str,
    labels: str | None = None,
    *,
    train_small_rows: bool = True,
    counted: bool = False,
) -> str:
    """The check-taxa rows of a relation with one row per image (``x``: split, treeoflife_id,
    label_key, source, the ranks, common and status): one row per label with its count,
    in label_key order.

    With ``labels`` (a relation of label_key, the ranks, common and status, one row per
    label), ``relation`` needs only split, treeoflife_id, label_key and source: a label's
    columns are then looked up once after counting, not once per image (a label missing
    from ``labels`` has empty ranks and common, and no status). ``train_small_rows=False``
    says the relation holds no train_small repeats (the ``splits`` table), so it needs no
    split column (reading one costs a table lookup per image). ``counted=True`` (with
    ``labels``) says the relation is already a row per label: its label_key, count, and the
    smallest treeoflife_id with that image's source (a pass that walks the images anyway
    counted them, so SQLite need not sort every image by label again)."""
    conflict = f"x.label_key IN ({_CONFLICTED}) AS conflict"
    once = f"WHERE {each_sample_once('x')}" if train_small_rows else ""
    if labels is None:
        ranks = ", ".join(f'x."{r}"' for r in RANKS)
        return (
            f"SELECT MIN(x.treeoflife_id) AS treeoflife_id, {ranks}, x.common, x.status, x.source, "
            f"COUNT(*) AS count, {conflict} "
            f"FROM ({relation}) x {once} GROUP BY x.label_key"
        )
    counted = (
        f"SELECT x.treeoflife_id, x.source, x.count, x.label_key FROM ({relation}) x"
        if counted
        else "SELECT MIN(x.treeoflife_id) AS treeoflife_id, x.source, COUNT(*) AS count, "
        f"x.label_key FROM ({relation}) x {once} GROUP BY x.label_key"
    )
    ranks = ", ".join(f'COALESCE(l."{r}", \'\') AS "{r}"' for r in RANKS)
    return (
        f"SELECT x.treeoflife_id, {ranks}, COALESCE(l.common, '') AS common, l.status, x.source, "
        f"x.count, {conflict} FROM ({counted}) x LEFT JOIN ({labels}) l ON "
        "l.label_key = x.label_key ORDER BY x.label_key"
    )


def conflicted_labels(db: sqlite3.Connection) -> set[str]:
    """The labels a reference contradicts (the ``conflict`` of :func:`label_rows`)."""
    return {key for (key,) in db.execute(f"SELECT DISTINCT label_key FROM ({_CONFLICTED})")}


class LabelCounts:
    """What :func:`label_rows` says of each label's images, counted from batches of rows in
    Arrow instead of a pass of SQLite's sorter over every image: how many, and the smallest
    id with its image's source (SQLite takes a bare column from the row of ``MIN``). Labels
    are numbers; a batch is reduced to a row per (label, source), and the reductions are
    folded together once they hold more than ``hold`` rows (at least one per label), so
    what is held grows with the labels, not the images."""

    def __init__(self, labels: int, hold: int = 100_000) -> None:
        self._parts: list[pa.Table] = []
        self._rows = 0
        self._limit = max(labels, hold)

    def add(self, numbers: pa.Array, ids: pa.Array, sources: pa.Array) -> None:
        batch = pa.table({"n": numbers, "source": sources, "id": ids})
        self._parts.append(self._reduce(batch, ("id", "count")))
        self._rows += self._parts[-1].num_rows
        if self._rows > self._limit:
            self._parts = [self._reduce(pa.concat_tables(self._parts), ("count", "sum"))]
            self._rows = self._parts[0].num_rows

    @staticmethod
    def _reduce(table: pa.Table, count: tuple[str, str]) -> pa.Table:
        """A row per (label, source): the smallest id, and the ``count`` aggregate."""
        done = table.group_by(["n", "source"], use_threads=False).aggregate([("id", "min"), count])
        return done.select(["n", "source", "id_min", "_".join(count)]).rename_columns(
            ["n", "source", "id", "count"]
        )

    def labels(self) -> tuple[pa.Array, list[str], list[str], list[int]]:
        """Label numbers in order, and each one's smallest id, its source and its images."""
        if not self._parts:
            return pa.array([], pa.int64()), [], [], []
        table = pa.concat_tables(self._parts).sort_by([("n", "ascending"), ("id", "ascending")])
        n = table.column("n").to_numpy()
        first = np.flatnonzero(np.r_[True, n[1:] != n[:-1]]) if len(n) else np.array([], int)
        counts = np.add.reduceat(table.column("count").to_numpy(), first) if len(n) else []
        return (
            pa.array(n[first]),
            table.column("id").take(first).to_pylist(),
            table.column("source").take(first).to_pylist(),
            [int(c) for c in counts],
        )


def _with_build_info(rows: Iterable[dict[str, str]], db: sqlite3.Connection) -> Iterator[dict]:
    for row in rows:
        found = db.execute(_LOOKUP, (row.get("treeoflife_id", ""),)).fetchone()
        if found:
            row["status"], row["source"], row["conflict"] = found
        yield row


def check_catalog(csv_path: Path) -> dict[str, Any]:
    """check-taxa of a catalog CSV (predicted-catalog.csv or catalog.csv), streamed."""
    csv_path = Path(csv_path)
    db_path = csv_path.parent / "build.sqlite"
    db = None
    if db_path.is_file():
        try:
            db = builddb.open_read_only(db_path)  # also in a read-only folder
            db.execute(_LOOKUP, ("",)).fetchall()
        except sqlite3.Error:
            if db is not None:
                db.close()
            db = None
    try:
        rows = read_catalog(csv_path)
        result = check_rows(_with_build_info(rows, db) if db else rows)
    finally:
        if db:
            db.close()
    result["catalog"] = str(csv_path)
    result["with_build_database"] = db is not None
    return result


def check_query(db: sqlite3.Connection, sql: str, params: tuple = ()) -> dict[str, Any]:
    """check-taxa of the rows a build query yields (catalog columns, status, source, conflict)."""
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    return check_rows(dict(zip(names, row, strict=True)) for row in cur)


def exceeded(result: Mapping[str, Any], limits: Mapping[str, float | None]) -> list[str]:
    """Which thresholds (percent of rows) the result exceeds, as sentences."""
    pct = {
        **result["status_percent"],
        "conflict": result["percent"]["conflict"],
        "missing_common": result["percent"]["missing_common"],
    }
    out = []
    for name, limit in limits.items():
        if limit is not None and pct.get(name, 0.0) > limit:
            out.append(f"{name} {pct.get(name, 0.0)}% > {limit}%")
    return out


def format_report(result: Mapping[str, Any]) -> str:
    """A readable one-screen report."""
    n = result["rows"]
    lines = [f"check-taxa: {result.get('catalog', '')}", f"  images: {n}"]
    lines.append(
        f"  kingdoms ({result['kingdom_count']}): "
        + ", ".join(f"{k or '(empty)'} {v}" for k, v in result["kingdoms"].items())
    )
    lines.append(
        "  labels: "
        + ", ".join(
            f"{k} {v} ({result['status_percent'][k]}%)" for k, v in result["status"].items()
        )
    )
    for key, label in (
        ("hierarchy_gap", "hierarchy gaps below a known rank"),
        ("multi_word_species", "multi-word species"),
        ("unknown_value", "'(unidentified)'/unknown values"),
        ("missing_common", "missing common name"),
        ("ambiguous", "ambiguous labels"),
        ("conflict", "conflicting labels"),
    ):
        lines.append(f"  {label}: {result['counts'][key]} ({result['percent'][key]}%)")
        for ex in result["examples"][key][:3]:
            lines.append(
                "      e.g. "
                + " ".join(ex[r] or "_" for r in RANKS)
                + (f" [{ex['common']}]" if ex["common"] else "")
            )
    if result["hierarchy_gaps_by_rank"]:
        lines.append(
            "  gaps by rank: "
            + ", ".join(f"{k} {v}" for k, v in result["hierarchy_gaps_by_rank"].items())
        )
    lines.append(
        "  by source: "
        + "; ".join(
            f"{s} {result['by_source'][s]} (" + ", ".join(f"{k} {v}" for k, v in c.items()) + ")"
            for s, c in result["by_source_status"].items()
        )
    )
    return "\n".join(lines)
