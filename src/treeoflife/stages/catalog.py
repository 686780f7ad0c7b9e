"""Catalog (stage ``catalog``): ``OUT/catalog.csv`` and ``OUT/catalog.parquet``.

From the ``samples`` relation and the verified shard records only — no image is decoded,
no output file read back. The CSV has
exactly the TreeOfLife-10M columns; the Parquet file adds where each sample is (shard,
position), the sha256 of its image bytes, its source locator, taxon status, provenance
and image repairs. One row per sample per split (a train_small sample is also a train
row, as in TreeOfLife-10M). Then the check-taxa report runs on the same rows, in the
database, and is kept as ``reports/check-taxa.json``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from treeoflife import atomic
from treeoflife.captions import common_name
from treeoflife.columns import CATALOG_COLUMNS, ID_COLUMNS, INTEGER_COLUMNS
from treeoflife.diff import since
from treeoflife.errors import TolError
from treeoflife.reports import provenance
from treeoflife.reports.check_taxa import check_query, format_report, label_rows
from treeoflife.shards import layout
from treeoflife.stages import BuildContext, Stage
from treeoflife.taxonomy.ranks import RANKS

NAME = "catalog"
PROVENANCE = "provenance.parquet"  # beside the catalog: see treeoflife.reports.provenance
CSV_COLUMNS = CATALOG_COLUMNS
EXTRA_COLUMNS: tuple[str, ...] = (
    "shard",
    "position",
    "image_sha256",
    "source",
    "identity_key",
    "container",
    "member",
    "label_key",
    "taxon_status",
    "provenance",
    "image_notes",
    "source_width",
    "source_height",
)
INT_COLUMNS = INTEGER_COLUMNS | {"position", "source_width", "source_height"}
_QUERY = (
    "SELECT s.split, s.treeoflife_id, "
    + ", ".join(f"s.{c}" for c in ID_COLUMNS)
    + ", "
    + ", ".join(f's."{r}"' for r in RANKS)
    + ", s.common, "
    "sh.name AS shard, s.position, s.image_sha256, s.source, s.identity_key, s.container, "
    "s.member, s.label_key, s.taxon_status, t.provenance, s.image_notes, s.source_width, "
    "s.source_height "
    "FROM samples s JOIN shards sh ON sh.split = s.split AND sh.shard = s.shard "
    "JOIN taxa t ON t.label_key = s.label_key "
    "WHERE s.split = ? ORDER BY s.shard, s.position"
)
# the catalog's rows as check-taxa reads them, a row per label (train_small repeats train)
CHECK_QUERY = label_rows(
    "SELECT s.split, s.treeoflife_id, s.label_key, s.source, "
    + ", ".join(f's."{r}"' for r in RANKS)
    + ", s.common, s.taxon_status AS status FROM samples s"
)
BATCH = 10_000  # rows a parquet row group holds: the driver holds one batch
_RANKS_AT = slice(2 + len(ID_COLUMNS), 2 + len(ID_COLUMNS) + len(RANKS))
_COMMON_AT = len(CSV_COLUMNS) - 1


def _published(cols: list[tuple]) -> None:
    """A batch's columns as the published catalog has them: ``common`` never empty (it is
    the sample's ``common_name.txt``), the database's own empty label kept in check-taxa.
    Python looks at the rows without a common name only."""
    common = cols[_COMMON_AT]
    if "" not in common:
        return
    ranks = cols[_RANKS_AT]
    cols[_COMMON_AT] = tuple(
        c or common_name({r: v[k] for r, v in zip(RANKS, ranks, strict=True)}, c)
        for k, c in enumerate(common)
    )


def inputs(ctx: BuildContext) -> Any:
    return {
        "columns": CSV_COLUMNS + EXTRA_COLUMNS,
        "provenance": [c for c, _, _ in provenance.columns(ctx.db)],
        "report": ctx.config.section_json("report"),
    }


def _schema() -> pa.Schema:
    return pa.schema(
        [(c, pa.int64() if c in INT_COLUMNS else pa.string()) for c in CSV_COLUMNS + EXTRA_COLUMNS]
    )


def _batches(ctx: BuildContext, size: int) -> Iterator[list[tuple]]:
    """The catalog's rows, every split in turn, in batches of ``size`` (a batch may span two
    splits: a Parquet row group is a batch, whatever its splits)."""
    rows = chain.from_iterable(ctx.db.execute(_QUERY, (split,)) for split in layout.SPLITS)
    while batch := list(islice(rows, size)):
        yield batch


def run(ctx: BuildContext) -> dict[str, Any]:
    not_done = ctx.db.execute("SELECT COUNT(*) FROM shards WHERE status != 'done'").fetchone()[0]
    if not_done:
        raise TolError(
            f"catalog: {not_done} shards are not written or failed verification; run `tol shard` and `tol verify`"
        )
    csv_path, pq_path = ctx.out / "catalog.csv", ctx.out / "catalog.parquet"
    tmp_csv, tmp_pq = atomic.temp_path(csv_path), atomic.temp_path(pq_path)
    names = CSV_COLUMNS + EXTRA_COLUMNS
    arrow_schema = _schema()
    n = 0
    counts: dict[str, int] = {}
    with (
        atomic.removed_on_failure(tmp_csv, tmp_pq),  # both, whatever stops the writing
        open(tmp_csv, "w", newline="", encoding="utf-8") as fh,
        pq.ParquetWriter(tmp_pq, arrow_schema) as pw,
    ):
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(CSV_COLUMNS)
        for batch in _batches(ctx, BATCH):
            cols = list(zip(*batch, strict=True))
            _published(cols)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerows(zip(*cols[: len(CSV_COLUMNS)], strict=True))  # csv writes None as ""
            fh.write(buf.getvalue())
            pw.write_table(
                pa.table(
                    {
                        c: pa.array(cols[k], type=arrow_schema.field(c).type)
                        for k, c in enumerate(names)
                    }
                )
            )
            for split, k in Counter(cols[0]).items():
                counts[split] = counts.get(split, 0) + k
            n += len(batch)
        fh.flush()
    since.keep_previous(ctx.out, ctx.config.report.changes)
    with atomic.removed_on_failure(tmp_csv, tmp_pq):
        for tmp, final in ((tmp_csv, csv_path), (tmp_pq, pq_path)):
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            atomic.publish(tmp, final)
    ctx.log(
        f"catalog: {n} rows in {csv_path} and {pq_path.name} ("
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + ")"
    )
    summary: dict[str, Any] = {"rows": n, "splits": counts}
    summary["provenance_rows"] = provenance.write_provenance(ctx.db, ctx.out / PROVENANCE)
    ctx.log(f"catalog: {summary['provenance_rows']} samples in {PROVENANCE}")
    summary["check_taxa"] = _check_taxa(ctx, csv_path)
    changed = since.changes(ctx.out, ctx.config.report.changes)
    if changed is not None:
        summary["changes"] = changed
    return summary


def _check_taxa(ctx: BuildContext, csv_path: Path) -> dict[str, Any]:
    """The check-taxa report on the final catalog's rows (from the database, not the CSV):
    printed, and kept as reports/check-taxa.json."""
    result = check_query(ctx.db, CHECK_QUERY)
    result["catalog"] = csv_path.name  # relative to OUT: a build does not depend on where it is
    atomic.write_text(
        layout.reports_dir(ctx.out) / "check-taxa.json",
        json.dumps(result, indent=2, sort_keys=True) + "\n",
    )
    ctx.log(format_report(result))
    return result["counts"]


STAGE = Stage(
    NAME,
    "write catalog.csv and catalog.parquet from the verified shards",
    run,
    inputs,
    lambda ctx: [
        ctx.out / "catalog.csv",
        ctx.out / "catalog.parquet",
        ctx.out / PROVENANCE,
        layout.reports_dir(ctx.out) / "check-taxa.json",
    ],
)
