"""csvtext: the catalog's CSV bytes made from Arrow columns are those Python's csv writes."""

from __future__ import annotations

import csv
import io
import random

import pyarrow as pa

from treeoflife import csvtext

AWKWARD = [
    "plain",
    "",
    None,
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rhere",
    "crlf\r\n",
    "Ünïcödé ✓ 蝴蝶",
    " lead",
    "trail ",
    "tab\there",
    "'single'",
    '"',
    ",",
    '""',
    'a"b,c\nd',
    "#hash",
]


def _python_csv(rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def test_rows_text_is_what_python_csv_writes_for_awkward_values() -> None:
    rnd = random.Random(7)
    rows = [
        (rnd.choice(AWKWARD), rnd.choice([None, 0, -3, 2**62, 17]), rnd.choice(AWKWARD))
        for _ in range(500)
    ]
    columns = [
        pa.array([r[0] for r in rows], pa.string()),
        pa.array([r[1] for r in rows], pa.int64()),
        pa.array([r[2] for r in rows], pa.string()),
    ]
    assert csvtext.rows_text(columns) == _python_csv(rows)
    # a slice of a batch (Arrow offsets not starting at zero) gives its own rows only
    assert csvtext.rows_text([c.slice(40, 25) for c in columns]) == _python_csv(rows[40:65])
    assert csvtext.rows_text([c.slice(0, 0) for c in columns]) == b""


def test_plain_fields_hold_exactly_when_the_writer_adds_no_quotes() -> None:
    """predicted-catalog.csv writes SQLite's plain join of the id columns (a comma before
    each value and after the last) when this test passes, so it must never pass for values
    the writer would quote."""
    plain = csvtext.plain_test()
    rng = random.Random(5)
    for _ in range(2000):
        values = [rng.choice(AWKWARD) for _ in range(3)]
        joined = "," + ",".join("" if v is None else v for v in values) + ","
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(values)
        written = "," + buf.getvalue().removesuffix("\r\n") + ","
        assert plain(joined, 4, 0) == (written == joined), values


def test_plain_lines_hold_exactly_when_the_writer_adds_no_quotes() -> None:
    """licenses.csv writes a shard's plain lines as they are when this test passes, so it
    must never pass for a batch of rows the writer would quote anything of, and pass for
    every batch it writes as is."""
    for terminator in ("\n", "\r\n"):
        plain = csvtext.plain_test(terminator)
        rng = random.Random(7)
        for _ in range(1000):
            rows = [[rng.choice(AWKWARD) for _ in range(3)] for _ in range(rng.randint(1, 4))]
            joined = "".join(
                ",".join("" if v is None else v for v in row) + terminator for row in rows
            )
            buf = io.StringIO()
            csv.writer(buf, lineterminator=terminator).writerows(rows)
            assert plain(joined, 2 * len(rows), len(rows)) == (buf.getvalue() == joined), rows


def test_a_column_quotes_its_special_values_wherever_they_sit_in_its_buffers() -> None:
    # the quick scan of a column's bytes must see a special character in any chunk, and
    # only in the slice's own bytes: a comma outside the slice quotes nothing
    rows = [("plain",), ("a,b",), ("x",), ("y",)]
    column = pa.array([r[0] for r in rows], pa.string())
    assert csvtext.rows_text([column.slice(2, 2)]) == _python_csv(rows[2:])
    assert csvtext.rows_text([column.slice(1, 2)]) == _python_csv(rows[1:3])
    chunked = pa.chunked_array([column.slice(2, 2), column.slice(0, 2)])
    assert csvtext.rows_text([chunked]) == _python_csv(rows[2:] + rows[:2])
