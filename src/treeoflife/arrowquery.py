"""A query of the build database as Arrow record batches, the rows made into Arrow in C.

Python's ``sqlite3`` makes every value of every row a Python object first (~9 µs a row of
~30 values at 1M samples, then as much again to make Arrow of the tuples); the ADBC SQLite
driver (``adbc-driver-sqlite``, Apache Arrow's) steps the statement and fills Arrow
buffers itself, ~3x faster end to end. It opens its own read-only connection to the file,
which sees what the build committed.

That driver carries its own copy of SQLite (3.53, linked in; Python's ``sqlite3`` uses the
system's), and two copies in one process do not see each other's POSIX locks: a new
connection of one may take itself for the first on the file and reset the write-ahead
log's shared-memory index while the other is reading through it. So a query here never
runs while a statement of the stage's own connection runs: catalog reads here in a thread
while its main thread only writes files. Report's source fingerprints, tried in a thread
beside its licenses pass (2026-12-01), crashed the process with a bus error in each of
three parallel test runs (it passed once alone); they run between the stage's own
statements.

The driver infers each column's type from the values of the first batch: a column whose
first batch is all NULL comes out as int64, and a string in a later batch is then an
error. So the query is led by one row of typed values (0 for an integer, '' for a string,
NULLs for the order's keys, which sort first), merged in by SQLite's compound ORDER BY
without a sort when the rest is read in an index's order, and dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa

_TYPED = {pa.int64(): "0", pa.string(): "''", pa.float64(): "0.0"}


def _leading_row(columns: Sequence[tuple[str, pa.DataType]], keys: set[str]) -> str:
    values = []
    for name, kind in columns:
        if name in keys:
            values.append(f'NULL AS "{name}"')
        elif kind in _TYPED:
            values.append(f'{_TYPED[kind]} AS "{name}"')
        else:
            raise ValueError(f"arrowquery: no typed literal for {name} ({kind})")
    return "SELECT " + ", ".join(values)


def batches(
    path: Path,
    columns: Sequence[tuple[str, str, pa.DataType]],
    rest: str,
    order_by: Sequence[str],
    params: Sequence[object] = (),
    batch_rows: int = 10_000,
) -> Iterator[pa.RecordBatch]:
    """``SELECT <columns> <rest> ORDER BY <order_by>`` on the database at ``path``, as
    record batches of up to ``batch_rows`` rows whose columns are named and typed as
    ``columns`` says ((name, SQL, type): int64, string or float64). The order's keys must
    be among the columns by name and never NULL."""
    import adbc_driver_sqlite.dbapi as adbc  # imported here: only the stages that read rows

    keys = set(order_by)
    if not keys <= {name for name, _, _ in columns}:
        raise ValueError(f"arrowquery: order keys {sorted(keys)} must be selected columns")
    typed = [(name, kind) for name, _, kind in columns]
    selected = ", ".join(f'{sql} AS "{name}"' for name, sql, _ in columns)
    order = ", ".join(f'"{k}"' for k in order_by)
    sql = f"{_leading_row(typed, keys)} UNION ALL SELECT {selected} {rest} ORDER BY {order}"
    schema = pa.schema(typed)
    with adbc.connect(f"file:{quote(str(path))}?mode=ro") as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cur.execute(sql, tuple(params))
        first = True
        for batch in cur.fetch_record_batch():
            if first:
                batch, first = batch.slice(1), False
            if batch.num_rows:
                yield batch.cast(schema) if batch.schema != schema else batch


# more rows than any table of the build holds: the whole result in one batch
_ALL_ROWS = 1 << 30  # the driver takes less than a C int's largest


def columns(
    path: Path,
    columns: Sequence[tuple[str, str, pa.DataType]],
    rest: str,
    order_by: Sequence[str],
    params: Sequence[object] = (),
) -> dict[str, pa.Array]:
    """The whole result of :func:`batches` as one array per column, to be held: read as one
    batch, each column is the driver's own buffers. Batches made into one would be copied,
    twice their size at the peak (catalog's labels at 2M bench images: 136 MB of columns,
    +329 MB of RSS at the peak from 50K-row batches, +183 MB from one)."""
    read = list(batches(path, columns, rest, order_by, params, _ALL_ROWS))
    schema = pa.schema([(name, kind) for name, _, kind in columns])
    if len(read) == 1:
        return dict(zip(schema.names, read[0].columns, strict=True))
    table = pa.Table.from_batches(read, schema)  # none (no rows), or the driver's own cut
    return {name: table.column(name).combine_chunks() for name in schema.names}
