"""check-taxa (of a catalog CSV, and as the catalog stage counts it), stats, the treemap and
the licenses pass stream the build: memory does not grow with its size.

At ten million samples, holding one Python object per catalog row is tens of gigabytes.
Measured with tracemalloc (Python allocations; SQLite's own cache is not counted), the
peak of each report over 20K samples is compared with its peak over 2K of the same 2,000
labels (the licenses pass counts samples per label, a few objects a label by design):
rows held in a list would add ~1 KB each, about 20 MB.
"""

from __future__ import annotations

import csv
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from treeoflife import builddb
from treeoflife.columns import CATALOG_COLUMNS, ID_COLUMNS
from treeoflife.reports import check_taxa
from treeoflife.shards import samples
from treeoflife.stages.report import Seen, catalog_stats, treemap_counts, write_licenses
from treeoflife.taxonomy.ranks import RANKS

GROWTH_LIMIT = 2_000_000  # bytes; holding the rows would take ~10x this


def _build(out: Path, n: int):
    db = builddb.connect(out, create=True)
    rows = []
    labels = {}
    for k in range(n):
        tid = f"{k:08d}-0000-5000-8000-000000000000"
        page = k % 2000  # the same labels at both sizes: memory per sample is what grows
        ranks = ("Animalia", "Chordata", "Aves", f"Order{page % 50}", f"Family{page % 700}")
        ranks += (f"Genus{page % 3000}", f"species{page}")
        labels[f"eol:page:{page}"] = (*ranks, f"bird {page}", "resolved", "{}")
        ids = (k, page, None, None, None, None, None)
        rows.append(("train", k // 1000, k % 1000, tid, "eol", f"eol:page:{page}"))
        rows[-1] += (*ids, f"eol:{k}", "a.tar.gz", f"{k}.jpg", "0" * 64, 640, 480, "[]")
    with builddb.transaction(db):
        samples.insert(db, rows)
        db.executemany(
            f"INSERT INTO taxa VALUES ({', '.join('?' * (len(RANKS) + 4))})",
            [(key, *label) for key, label in labels.items()],
        )
    with (out / "catalog.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CATALOG_COLUMNS)
        for r in rows:
            label = labels[r[5]]
            w.writerow(["train", r[3], *r[6 : 6 + len(ID_COLUMNS)], *label[: len(RANKS) + 1]])
    assert len(RANKS) == 7
    return db


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


REPORTS = {
    "check-taxa of a catalog CSV": lambda db, out: check_taxa.check_catalog(out / "catalog.csv"),
    "stats": lambda db, out: catalog_stats(db),
    "licenses, counting for the stats": lambda db, out: write_licenses(db, out / "l.csv", Seen()),
    "treemap counts": lambda db, out: treemap_counts(db),
}


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_reports_hold_no_row_per_sample(report: str, tmp_path: Path) -> None:
    peaks = []
    for n in (2_000, 20_000):
        out = tmp_path / str(n)
        db = _build(out, n)
        run = REPORTS[report]
        run(db, out)  # warm: imports, statement caches
        peaks.append(_peak(lambda db=db, out=out, run=run: run(db, out)))
        db.close()
    assert peaks[1] - peaks[0] < GROWTH_LIMIT, f"{report}: peak {peaks[0]} -> {peaks[1]} bytes"


def test_catalog_check_taxa_holds_per_label_not_per_sample() -> None:
    """The catalog stage counts check-taxa's labels from its own batches (``LabelCounts``):
    what it holds is Arrow memory (tracemalloc does not see it), bounded by the labels.
    Ten times the samples of the same 2,000 labels must not hold more; holding each
    sample's id would add ~36 bytes a sample (~6.5 MB here)."""
    held = []
    for batches in (20, 200):
        base = pa.total_allocated_bytes()
        counts = check_taxa.LabelCounts(2_000)
        for b in range(batches):
            k = range(b * 1_000, (b + 1) * 1_000)
            counts.add(
                pa.array([i % 2_000 for i in k], pa.int64()),
                pa.array([f"{i:08d}-0000-5000-8000-000000000000" for i in k]),
                pa.array(["eol"] * 1_000),
            )
        held.append(pa.total_allocated_bytes() - base)
        assert len(counts.labels()[1]) == 2_000
        del counts
    assert held[1] - held[0] < GROWTH_LIMIT, f"held {held[0]} -> {held[1]} bytes"
