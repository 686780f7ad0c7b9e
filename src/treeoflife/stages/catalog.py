"""Catalog (stage ``catalog``): ``OUT/catalog.csv`` and ``OUT/catalog.parquet``.

From the ``samples`` relation and the verified shard records only — no image is decoded,
no output file read back. The CSV has
exactly the TreeOfLife-10M columns; the Parquet file adds where each sample is (shard,
position), the sha256 of its image bytes, its source locator, taxon status, provenance
and image repairs. One row per sample per split (a train_small sample is also a train
row, as in TreeOfLife-10M). ``provenance.parquet`` (``treeoflife.reports.provenance``) is
written from the same rows: one cursor, each batch made into Arrow once, three files from
it (a Python tuple per row is the only per-row Python left). Then the check-taxa report
runs on the same rows, in the database, and is kept as ``reports/check-taxa.json``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from treeoflife import atomic, csvtext
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
# the columns a row takes from its label (the same for every sample of it): the query
# fetches the label's number in temp.label_sources, and each batch takes them from arrays
# made once per label, not ~10 values a row made into Python (samples' ranks, common and
# status are copies of the label's taxa row, made by plan)
LABEL_COLUMNS = (*RANKS, "common", "taxon_status", "label_sources")
_LABELS_SQL = (
    "SELECT "
    + ", ".join(f't."{r}"' for r in RANKS)
    + ", t.common, t.status, ls.sources FROM temp.label_sources ls "
    "JOIN taxa t ON t.label_key = ls.label_key ORDER BY ls.n"
)
# what the query fetches of the catalog's columns (the others are LABEL_COLUMNS)
_COLUMNS_SQL = (
    "s.split, s.treeoflife_id, "
    + ", ".join(f"s.{c}" for c in ID_COLUMNS)
    + ", sh.name AS shard, s.position, s.image_sha256, s.source, s.identity_key, "
    "s.container, s.member, s.label_key, t.provenance, s.image_notes, s.source_width, "
    "s.source_height"
)
_FROM = (
    "FROM samples s JOIN shards sh ON sh.split = s.split AND sh.shard = s.shard "
    "JOIN taxa t ON t.label_key = s.label_key"
)
_ORDER = "WHERE s.split = ? ORDER BY s.shard, s.position"
# the catalog's rows as check-taxa reads them, a row per label (train_small repeats train)
CHECK_QUERY = label_rows(
    "SELECT s.split, s.treeoflife_id, s.label_key, s.source, "
    + ", ".join(f's."{r}"' for r in RANKS)
    + ", s.common, s.taxon_status AS status FROM samples s"
)
BATCH = 10_000  # rows a parquet row group holds: the driver holds one batch
_COMMON_AT = len(CSV_COLUMNS) - 1


def _published(table: pa.Table) -> pa.Table:
    """A batch as the published catalog has it: ``common`` never empty (it is the sample's
    ``common_name.txt``), the database's own empty label kept in check-taxa. Python looks
    at the rows without a common name only, once per distinct lineage."""
    common = table.column("common").combine_chunks()
    missing = pc.equal(common, "")
    if not pc.any(missing).as_py():
        return table
    lineages = list(zip(*(table.column(r).filter(missing).to_pylist() for r in RANKS), strict=True))
    names: dict[tuple[str, ...], str] = {}
    for lineage in lineages:
        if lineage not in names:
            names[lineage] = common_name(dict(zip(RANKS, lineage, strict=True)), "")
    fill = pa.array([names[k] for k in lineages], pa.string())
    return table.set_column(_COMMON_AT, "common", pc.replace_with_mask(common, missing, fill))


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


def _query(split: str, own: list[tuple[str, str, pa.DataType]]) -> str:
    """One split's catalog rows, in shard order: the fetched columns (not LABEL_COLUMNS),
    the provenance columns the catalog does not have (``own``, but label_sources; nulls on
    train_small rows, which provenance.parquet does not have), then the label's number."""
    fetched = [sql for name, sql, _ in own if name not in LABEL_COLUMNS]
    if split in provenance.SPLITS:
        extra = "".join(f", {sql}" for sql in fetched)
        return f"SELECT {_COLUMNS_SQL}{extra}, ls.n {_FROM} {provenance.JOINS} {_ORDER}"
    nulls = ", NULL" * len(fetched)
    return f"SELECT {_COLUMNS_SQL}{nulls}, ls.n {_FROM} {provenance.LABEL_JOIN} {_ORDER}"


def _label_arrays(db: sqlite3.Connection) -> list[pa.Array]:
    """LABEL_COLUMNS of every label, in label number order (temp.label_sources.n)."""
    columns = list(zip(*db.execute(_LABELS_SQL), strict=True)) or [()] * len(LABEL_COLUMNS)
    return [pa.array(col, type=pa.string()) for col in columns]


def _tables(ctx: BuildContext, schema: pa.Schema, size: int) -> Iterator[pa.Table]:
    """The catalog's rows as published (``schema``: the catalog's columns, then the
    provenance columns of provenance.own_columns), every split in turn, in tables of
    ``size`` rows (a table may span two splits: a Parquet row group is a table, whatever
    its splits). Each column is made into Arrow once, and every file is written from it;
    a label's columns are taken from arrays made once per label."""
    own = provenance.own_columns(ctx.db)
    labels = dict(zip(LABEL_COLUMNS, _label_arrays(ctx.db), strict=True))
    fetched = [f for f in schema if f.name not in labels]
    rows = chain.from_iterable(
        ctx.db.execute(_query(split, own), (split,)) for split in layout.SPLITS
    )
    while batch := list(islice(rows, size)):
        cols = list(zip(*batch, strict=True))
        arrays = {
            f.name: pa.array(col, type=f.type) for col, f in zip(cols[:-1], fetched, strict=True)
        }
        numbers = pa.array(cols[-1], type=pa.int64())
        arrays |= {name: values.take(numbers) for name, values in labels.items()}
        yield _published(pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema))


def run(ctx: BuildContext) -> dict[str, Any]:
    not_done = ctx.db.execute("SELECT COUNT(*) FROM shards WHERE status != 'done'").fetchone()[0]
    if not_done:
        raise TolError(
            f"catalog: {not_done} shards are not written or failed verification; run `tol shard` and `tol verify`"
        )
    csv_path, pq_path = ctx.out / "catalog.csv", ctx.out / "catalog.parquet"
    prov_path = ctx.out / PROVENANCE
    tmp_csv, tmp_pq, tmp_prov = (atomic.temp_path(p) for p in (csv_path, pq_path, prov_path))
    arrow_schema = _schema()
    prov_schema = pa.schema([(name, kind) for name, kind, _ in provenance.columns(ctx.db)])
    rows_schema = pa.schema(
        [*arrow_schema, *(pa.field(name, kind) for name, _, kind in provenance.own_columns(ctx.db))]
    )
    prov_splits = pa.array(provenance.SPLITS)
    n = provenance_rows = 0
    counts: dict[str, int] = {}
    with (
        atomic.removed_on_failure(tmp_csv, tmp_pq, tmp_prov),  # all, whatever stops the writing
        open(tmp_csv, "wb") as fh,
        pq.ParquetWriter(tmp_pq, arrow_schema) as pw,
        pq.ParquetWriter(tmp_prov, prov_schema) as prov,
        provenance.lookups(ctx.db),
    ):
        fh.write(csvtext.rows_text([pa.array([c]) for c in CSV_COLUMNS]))
        for table in _tables(ctx, rows_schema, BATCH):
            fh.write(csvtext.rows_text(table.columns[: len(CSV_COLUMNS)]))
            pw.write_table(table.select(arrow_schema.names))
            split = table.column("split")
            for row in pc.value_counts(split).to_pylist():
                counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
            # train and val rows come first (layout.SPLITS), so provenance's row groups are
            # the catalog's, the last one cut where val ends
            kept = table.select(prov_schema.names).filter(pc.is_in(split, prov_splits))
            if kept.num_rows:
                prov.write_table(provenance.table(kept, prov_schema))
                provenance_rows += kept.num_rows
            n += table.num_rows
        if not provenance_rows:
            prov.write_table(prov_schema.empty_table())
        fh.flush()
    since.keep_previous(ctx.out, ctx.config.report.changes)
    with atomic.removed_on_failure(tmp_csv, tmp_pq, tmp_prov):
        for tmp, final in ((tmp_csv, csv_path), (tmp_pq, pq_path), (tmp_prov, prov_path)):
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            atomic.publish(tmp, final)
    ctx.log(
        f"catalog: {n} rows in {csv_path} and {pq_path.name} ("
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + ")"
    )
    summary: dict[str, Any] = {"rows": n, "splits": counts, "provenance_rows": provenance_rows}
    ctx.log(f"catalog: {provenance_rows} samples in {PROVENANCE}")
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
