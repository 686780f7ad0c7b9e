"""Catalog (stage ``catalog``): ``OUT/catalog.csv`` and ``OUT/catalog.parquet``.

From the ``samples`` relation and the verified shard records only — no image is decoded,
no output file read back. The CSV has
exactly the TreeOfLife-10M columns; the Parquet file adds where each sample is (shard,
position), the sha256 of its image bytes, its source locator, taxon status, provenance
and image repairs. One row per sample per split (a train_small sample is also a train
row, as in TreeOfLife-10M). ``provenance.parquet`` (``treeoflife.reports.provenance``) is
written from the same rows: one cursor reads ``samples`` alone, in its storage order, each
batch is made into Arrow once, and the three files are written from it. What a row takes
from elsewhere is looked up in Arrow, not joined in SQL (a probe by a text key costs a row
more than reading it): its label's columns (ranks, common, status, reference sets, the
~1 KB provenance JSON, held each record once: :mod:`treeoflife.packedtext`) are taken by
the label's number from arrays made once per label,
its shard's name from the split's few shards, its kept reasons by a binary search of the
kept items. The check-taxa report counts each label's images in the same batches and is
kept as ``reports/check-taxa.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from treeoflife import arrowquery, atomic, builddb, csvtext, memory
from treeoflife.ahead import ahead
from treeoflife.captions import common_name
from treeoflife.columns import CATALOG_COLUMNS, INTEGER_COLUMNS
from treeoflife.diff import since
from treeoflife.errors import TolError
from treeoflife.packedtext import PackedStrings
from treeoflife.reports import check_taxa, provenance
from treeoflife.shards import layout, samples
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
# the columns a row takes from its label's taxa row, the same for every sample of it:
# arrays made once per label, taken by the label's number (its place in label_key order)
LABEL_COLUMNS = (*samples.LABEL_SQL, "label_sources", "provenance")
_KEY = ("label_key", "t.label_key", pa.string())
_PROVENANCE = ("provenance", "t.provenance", pa.string())
_LABEL_SQL = (
    ("label_key", "t.label_key"),
    *samples.LABEL_SQL.items(),
    ("label_sources", provenance.LABEL_SOURCES_SQL),
)
# what the query reads of a sample's own row: every column but the split and the label's
# (shard is its number there, named from ``shards``)
FETCHED = tuple(c for c in CSV_COLUMNS[1:] + EXTRA_COLUMNS if c not in LABEL_COLUMNS)
# where a label's provenance JSON (resolve: rank -> {how, record, source}, keys sorted) is
# cut to hold each record once (treeoflife.packedtext): its ranks mostly name one record
PROVENANCE_CUTS = ('"record": ', ', "source": ')
BATCH = 10_000  # rows a parquet row group holds: the driver holds one batch
LABEL_CHUNK = 50_000  # labels made into check-taxa's rows, or packed, at a time


# columns whose every value is its sample's own: Parquet's dictionary would hold all of
# them, only to be dropped for plain encoding at the page limit (~1/3 slower, files larger)
PER_SAMPLE = frozenset(
    {
        "treeoflife_id",
        "eol_content_id",
        "bioscan_filename",
        "inat21_filename",
        "position",
        "image_sha256",
        "source_sha256",
        "identity_key",
        "member",
        "phash",
    }
)


def _repeated(schema: pa.Schema) -> list[str]:
    """The columns Parquet dictionary-encodes: all but PER_SAMPLE."""
    return [name for name in schema.names if name not in PER_SAMPLE]


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


class _Labels:
    """Every label's LABEL_COLUMNS as the catalog shows them, in label_key order (SQLite's
    byte order, which :func:`provenance.find` searches), made once. ``common`` is never
    empty there (it is the sample's ``common_name.txt``): a label without one gets
    :func:`common_name` of its ranks, worked out once per label, not per row; check-taxa
    reads the database's own, ``stored_common``."""

    def __init__(self, path: Path) -> None:
        # read by arrowquery: made into Arrow from Python tuples, the labels' rows left
        # ~5 KB a label of freed memory the process kept (400 MiB at 56K labels)
        columns = [(name, sql, pa.string()) for name, sql in _LABEL_SQL]
        found = arrowquery.columns(path, columns, "FROM taxa t", ("label_key",))
        self.keys = found["label_key"]
        self.columns: dict[str, pa.Array | PackedStrings] = {
            name: found[name] for name in LABEL_COLUMNS if name in found
        }
        self.stored_common = common = self.columns["common"]
        missing = pc.equal(common, "")
        lineages = zip(*(self.columns[r].filter(missing).to_pylist() for r in RANKS), strict=True)
        names = [common_name(dict(zip(RANKS, lineage, strict=True)), "") for lineage in lineages]
        self.columns["common"] = pc.replace_with_mask(common, missing, pa.array(names, pa.string()))
        # ~1 KB a label as read (0.65 GB at 560K labels), held in a quarter of that: read
        # again, a chunk of labels at a time, not beside the other columns as one batch
        read = arrowquery.batches(
            path, [_KEY, _PROVENANCE], "FROM taxa t", ("label_key",), (), LABEL_CHUNK
        )
        chunks = (batch.column("provenance") for batch in read)
        self.columns["provenance"] = PackedStrings(chunks, PROVENANCE_CUTS, pa.string())

    def numbers(self, label_keys: pa.Array) -> pa.Array:
        """Each row's label number, looked up once per distinct label of the batch."""
        distinct = pc.dictionary_encode(label_keys)
        return provenance.find(self.keys, distinct.dictionary).take(distinct.indices)


def _split_tables(
    path: Path,
    split: str,
    schema: pa.Schema,
    labels: _Labels,
    kept: tuple[pa.Array, pa.Array],
    own: list[tuple[str, str, pa.DataType]],
) -> Iterator[pa.Table]:
    """One split's rows as published (``schema``), in shard order, a table per fetch of
    BATCH rows of ``samples`` (``own``: :func:`provenance.own_columns`). A row whose label
    has no ``taxa`` row or whose shard has no ``shards`` row is left out, as a join would
    leave it (plan plans neither). The rows are read by :mod:`treeoflife.arrowquery`
    (Arrow made in C, not Python tuples) on its own connection to the database at
    ``path``: this runs in a thread of its own (:func:`treeoflife.ahead.ahead`)."""
    shard_columns = [("shard", "shard", pa.int64()), ("name", "name", pa.string())]
    split_shards = arrowquery.columns(
        path, shard_columns, "FROM shards WHERE split = ?", ("shard",), (split,)
    )
    shards, names = split_shards["shard"], split_shards["name"]
    with_own = split in provenance.SPLITS  # train_small rows: nulls, provenance skips them
    types = {f.name: f.type for f in schema} | {"shard": pa.int64()}
    columns = [(c, f"s.{c}", types[c]) for c in FETCHED] + (own if with_own else [])
    found = arrowquery.batches(
        path,
        columns,
        "FROM samples s WHERE s.split = ?",
        ("shard", "position"),
        (split,),
        BATCH,
    )
    for batch in found:
        rows = batch.num_rows
        arrays = dict(zip(batch.schema.names, batch.columns, strict=True))
        number = labels.numbers(arrays["label_key"])
        shard = provenance.find(shards, arrays["shard"])
        arrays["split"] = pa.repeat(pa.scalar(split), rows)
        arrays["shard"] = names.take(shard)
        arrays |= {name: values.take(number) for name, values in labels.columns.items()}
        arrays["kept_reasons"] = (
            provenance.kept_of(arrays["treeoflife_id"], *kept)
            if with_own
            else pa.nulls(rows, pa.string())
        )
        table = pa.Table.from_arrays(
            [arrays.get(f.name, pa.nulls(rows, f.type)) for f in schema], schema=schema
        ).append_column("label_number", number)
        if number.null_count or shard.null_count:
            table = table.filter(pc.and_(number.is_valid(), shard.is_valid()))
        yield table


def _batches(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """The rows of ``tables`` in tables of ``size`` rows (the last one fewer): a Parquet
    row group is a table, whatever its splits."""
    held: list[pa.Table] = []
    rows = 0
    for table in tables:
        held.append(table)
        rows += table.num_rows
        while rows >= size:
            whole = pa.concat_tables(held)
            rest = whole.slice(size)
            # one chunk a column, as a batch of one fetch has (Parquet pages as before)
            yield whole.slice(0, size).combine_chunks() if len(held) > 1 else whole.slice(0, size)
            held, rows = [rest], rest.num_rows
    if rows:
        yield pa.concat_tables(held).combine_chunks()


def _tables(ctx: BuildContext, schema: pa.Schema, labels: _Labels) -> Iterator[pa.Table]:
    """The catalog's rows as published (``schema``: the catalog's columns, then the
    provenance columns, then the label's number), every split in turn, in tables of BATCH
    rows (a table may span two splits: a Parquet row group is a table, whatever its
    splits); each column is made into Arrow once, and every file is written from it. They
    are made in a thread of their own, a table ahead of the writing (which is
    Arrow's, Parquet's and the CSV's C code nearly all the time, as the reading is SQLite's
    and Arrow's): at 1M samples the stage took 15.4-17.1 s in one thread, 10.7-10.8 s in two
    (runs interleaved on one build; the same bytes), ~1.9 cores busy while the rows last;
    one table waits at most (the reading is the faster side), ~50-90 MB more at the peak."""
    kept = provenance.kept_reasons(ctx.db)
    own = provenance.own_columns(ctx.db)
    # the stage's connection rests while the rows are read on the driver's own: the pages
    # kept_reasons read (up to the cache's 256 MiB) would sit beside every batch
    memory.shrink_cache(ctx.db)
    path = ctx.out / builddb.DB_NAME
    splits = (
        table
        for split in layout.SPLITS
        for table in _split_tables(path, split, schema, labels, kept, own)
    )
    return ahead(_batches(splits, BATCH), depth=1)


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
        [
            *arrow_schema,
            *(pa.field(name, kind) for name, _, kind in provenance.own_columns(ctx.db)),
            *(pa.field(name, pa.string()) for name in sorted(provenance.LOOKED_UP)),
        ]
    )
    prov_splits = pa.array(provenance.SPLITS)
    n = provenance_rows = 0
    counts: dict[str, int] = {}
    labels = _Labels(ctx.out / builddb.DB_NAME)
    images = check_taxa.LabelCounts(len(labels.keys))
    with (
        atomic.removed_on_failure(tmp_csv, tmp_pq, tmp_prov),  # all, whatever stops the writing
        open(tmp_csv, "wb") as fh,
        pq.ParquetWriter(tmp_pq, arrow_schema, use_dictionary=_repeated(arrow_schema)) as pw,
        pq.ParquetWriter(tmp_prov, prov_schema, use_dictionary=_repeated(prov_schema)) as prov,
    ):
        fh.write(csvtext.rows_text([pa.array([c]) for c in CSV_COLUMNS]))
        for table in _tables(ctx, rows_schema, labels):
            fh.write(csvtext.rows_text(table.columns[: len(CSV_COLUMNS)]))
            pw.write_table(table.select(arrow_schema.names))
            split = table.column("split")
            for row in pc.value_counts(split).to_pylist():
                counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
            # train and val rows come first (layout.SPLITS), so provenance's row groups are
            # the catalog's, the last one cut where val ends
            rows = table.select([*prov_schema.names, "label_number"])
            in_provenance = pc.is_in(split, prov_splits)
            if not pc.all(in_provenance).as_py():  # a filter copies every column
                rows = rows.filter(in_provenance)
            if rows.num_rows:
                prov.write_table(provenance.table(rows.select(prov_schema.names), prov_schema))
                provenance_rows += rows.num_rows
                # check-taxa's rows are each sample once: train and val
                images.add(*(rows.column(c) for c in ("label_number", "treeoflife_id", "source")))
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
    summary["check_taxa"] = _check_taxa(ctx, csv_path, labels, images)
    changed = since.changes(ctx.out, ctx.config.report.changes)
    if changed is not None:
        summary["changes"] = changed
    return summary


def _check_taxa(
    ctx: BuildContext, csv_path: Path, labels: _Labels, images: check_taxa.LabelCounts
) -> dict[str, Any]:
    """The check-taxa report on the final catalog's rows (from the batches, not the CSV),
    a row per label with its images (as :func:`check_taxa.label_rows` has them): printed,
    and kept as reports/check-taxa.json."""
    conflicted = check_taxa.conflicted_labels(ctx.db)
    numbers, first, sources, count = images.labels()
    names = ("label_key", *RANKS, "common", "status")
    columns = [labels.keys, *(labels.columns[r] for r in RANKS), labels.stored_common]
    columns.append(labels.columns["taxon_status"])

    def rows() -> Iterator[dict[str, Any]]:
        # the labels' columns made into Python a chunk of labels at a time (all at once:
        # ten lists of every label, ~0.6 KB a label)
        for start in range(0, len(numbers), LABEL_CHUNK):
            values = [c.take(numbers.slice(start, LABEL_CHUNK)).to_pylist() for c in columns]
            end = start + len(values[0])
            for *label, tid, source, k in zip(
                *values, first[start:end], sources[start:end], count[start:end], strict=True
            ):
                yield dict(zip(names, label, strict=True)) | {
                    "treeoflife_id": tid,
                    "source": source,
                    "count": k,
                    "conflict": label[0] in conflicted,
                }

    result = check_taxa.check_rows(rows())
    result["catalog"] = csv_path.name  # relative to OUT: a build does not depend on where it is
    atomic.write_text(
        layout.reports_dir(ctx.out) / "check-taxa.json",
        json.dumps(result, indent=2, sort_keys=True) + "\n",
    )
    ctx.log(check_taxa.format_report(result))
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
