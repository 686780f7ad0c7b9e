"""treeoflife.arrowquery: a query's rows as Arrow batches, typed as asked whatever the
first batch holds, in the query's order, none lost or added."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from treeoflife import arrowquery

COLUMNS = [
    ("k", "t.k", pa.int64()),
    ("name", "t.name", pa.string()),
    ("n", "t.n", pa.int64()),
]


def _table(path: Path, rows: list[tuple]) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()


def _read(path: Path, batch_rows: int, where: str = "") -> list[pa.RecordBatch]:
    rest = f"FROM t {where}"
    return list(arrowquery.batches(path, COLUMNS, rest, ("k",), (), batch_rows))


def test_a_column_null_in_the_whole_first_batch_keeps_its_type(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    # names NULL for the first 50 rows (the driver alone would make the column int64 and
    # fail on the first name), counts NULL throughout
    rows = [(k, None if k < 50 else f"name {k}", None) for k in range(120)]
    _table(path, rows[::-1])  # stored out of order: the order is the query's
    got = pa.Table.from_batches(_read(path, batch_rows=16))
    assert got.schema == pa.schema([(n, t) for n, _, t in COLUMNS])
    assert got.to_pylist() == [{"k": k, "name": name, "n": n} for k, name, n in rows]


def test_empty_and_filtered_results(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    _table(path, [(k, str(k), k) for k in range(10)])
    assert _read(path, 4, "WHERE t.k > 100") == []
    got = pa.Table.from_batches(_read(path, 4, "WHERE t.k % 3 = 0"))
    assert got.column("k").to_pylist() == [0, 3, 6, 9]
    assert got.column("name").to_pylist() == ["0", "3", "6", "9"]


def test_an_order_key_not_selected_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    _table(path, [(1, "a", 1)])
    with pytest.raises(ValueError):
        list(arrowquery.batches(path, COLUMNS[1:], "FROM t", ("k",)))


def test_columns_hold_the_whole_result_in_the_query_order_typed_as_asked(tmp_path: Path) -> None:
    """catalog holds its labels through ``columns``: every row, in order, one array a
    column (no chunks to copy), typed as asked even for a column that is all NULL; no rows
    give empty arrays of those types."""
    path = tmp_path / "db.sqlite"
    rows = [(k, f"name {k}" if k % 3 else None, None) for k in range(5_000)]
    _table(path, rows[::-1])
    got = arrowquery.columns(path, COLUMNS, "FROM t", ("k",))
    assert list(got) == ["k", "name", "n"]
    assert all(isinstance(a, pa.Array) for a in got.values())
    assert got["k"].to_pylist() == list(range(5_000))
    assert got["name"].to_pylist() == [r[1] for r in rows]
    assert got["n"].type == pa.int64() and got["n"].null_count == 5_000
    none = arrowquery.columns(path, COLUMNS, "FROM t WHERE k < 0", ("k",))
    assert {k: (len(a), a.type) for k, a in none.items()} == {
        "k": (0, pa.int64()),
        "name": (0, pa.string()),
        "n": (0, pa.int64()),
    }
