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
