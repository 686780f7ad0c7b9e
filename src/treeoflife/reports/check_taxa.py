"""check-taxa: the reference's checks over a TreeOfLife-10M catalog, and more.

Pure functions over catalog rows (dicts with the catalog columns). ``check_catalog``
reads a catalog CSV; when the build's ``build.sqlite`` sits next to it, label statuses
(ambiguous, unresolved), conflicts and sources come from it too. Thresholds turn the
report into a pass/fail for CI.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from treeoflife.errors import TolError
from treeoflife.taxonomy.ranks import RANKS, is_unknown

EXAMPLES = 5
THRESHOLDS = ("unresolved", "ambiguous", "partial", "conflict", "missing_common")


def source_of(row: Mapping[str, str]) -> str:
    """Which collection a catalog row came from, by its id columns."""
    if row.get("inat21_filename"):
        return "inat21"
    if row.get("bioscan_filename"):
        return "bioscan"
    if row.get("eol_content_id"):
        return "eol"
    return "other"


def hierarchy_gaps(row: Mapping[str, str]) -> list[str]:
    """Ranks that are empty although a lower rank is known."""
    values = [row.get(r, "") for r in RANKS]
    low = max((i for i, v in enumerate(values) if v), default=-1)
    return [RANKS[i] for i in range(low) if not values[i]]


def row_status(row: Mapping[str, str]) -> str:
    values = [row.get(r, "") for r in RANKS]
    return "resolved" if all(values) else "partial" if any(values) else "unresolved"


def check_rows(
    rows: Iterable[Mapping[str, str]],
    statuses: Mapping[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
    conflicts: set[str] | None = None,
) -> dict[str, Any]:
    """Every check over the rows; ``statuses``/``sources``/``conflicts`` by treeoflife_id when known."""
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
    seen: set[str] = set()
    for row in rows:
        tid = row.get("treeoflife_id", "")
        if row.get("split") == "train_small" or tid in seen:
            continue  # train_small repeats train rows
        seen.add(tid)
        n += 1
        kingdoms[row.get("kingdom", "")] += 1
        source = (sources or {}).get(tid) or source_of(row)
        st = (statuses or {}).get(tid) or row_status(row)
        status[st] += 1
        by_source[source] += 1
        by_source_status.setdefault(source, Counter())[st] += 1
        g = hierarchy_gaps(row)
        for rank in g:
            gaps[rank] += 1
        _count(counts, examples, "hierarchy_gap", bool(g), row)
        _count(counts, examples, "multi_word_species", len(row.get("species", "").split()) > 1, row)
        _count(
            counts,
            examples,
            "unknown_value",
            any(row.get(r) and is_unknown(row.get(r)) for r in RANKS),
            row,
        )
        _count(counts, examples, "missing_common", not row.get("common"), row)
        _count(counts, examples, "ambiguous", st == "ambiguous", row)
        _count(counts, examples, "conflict", tid in (conflicts or set()), row)
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


def _count(counts: Counter, examples: dict, key: str, hit: bool, row: Mapping[str, str]) -> None:
    if hit:
        counts[key] += 1
        if len(examples[key]) < EXAMPLES:
            examples[key].append({k: row.get(k, "") for k in ("treeoflife_id", *RANKS, "common")})


def _pct(count: int, total: int) -> float:
    return round(100.0 * count / total, 3) if total else 0.0


def read_catalog(path: Path) -> list[dict[str, str]]:
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"treeoflife_id", *RANKS} - set(reader.fieldnames or ())
            if missing:
                raise TolError(
                    f"{path} is not a catalog: missing column(s) {', '.join(sorted(missing))}"
                )
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TolError(f"{path} is not a readable catalog CSV: {exc}") from None


def _build_info(db_path: Path) -> tuple[dict, dict, set]:
    """(status, source, conflicting ids) by treeoflife_id from a build database."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        statuses = dict(
            db.execute(
                "SELECT i.treeoflife_id, t.status FROM images i JOIN taxa t USING (label_key)"
            )
        )
        sources = dict(db.execute("SELECT treeoflife_id, source FROM images"))
        conflicts = {
            r[0] for r in db.execute("SELECT item FROM rejects WHERE reason='label_conflict'")
        }
    except sqlite3.Error:
        return {}, {}, set()
    finally:
        db.close()
    return statuses, sources, conflicts


def check_catalog(csv_path: Path) -> dict[str, Any]:
    """check-taxa of a catalog CSV (predicted-catalog.csv or catalog.csv)."""
    csv_path = Path(csv_path)
    db_path = csv_path.parent / "build.sqlite"
    statuses, sources, conflicts = _build_info(db_path) if db_path.is_file() else ({}, {}, set())
    result = check_rows(read_catalog(csv_path), statuses, sources, conflicts)
    result["catalog"] = str(csv_path)
    result["with_build_database"] = bool(statuses)
    return result


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
