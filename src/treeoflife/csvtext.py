"""CSV text byte for byte as Python's ``csv.writer(lineterminator="\\n")`` writes the same
values, from Arrow columns: a batch of rows becomes one buffer with no Python object per
row (for a writer that has the columns in Arrow anyway, as the catalog has for its Parquet
file; rows that are Python tuples already are as fast through ``csv.writer``), or from
SQL (:func:`sql_field`, for rows SQLite renders whole). This module is the one place
that knows Python's quoting rule.

Why not ``pyarrow.csv.write_csv``: its ``quoting_style="needed"`` puts every string in
quotes (``"plain"``), and a published catalog's bytes must not change. Python's rule
(QUOTE_MINIMAL) is: quote a field only when it holds the delimiter, the quote character or
a line-terminator character, doubling the quotes inside; ``None`` is an empty field;
integers are their decimal digits. Which characters force quotes is asked of the ``csv``
module itself (Python 3.11 quotes ``\\n`` but not ``\\r`` with a ``\\n`` terminator; later
versions quote both), so the bytes follow the interpreter's own writer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def special_characters(lineterminator: str) -> str:
    """The characters that make Python's csv writer (QUOTE_MINIMAL, ``,`` and ``"``) quote
    a field, for a given line end: asked of the writer itself."""

    def quoted(ch: str) -> bool:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=lineterminator).writerow([f"a{ch}b", "c"])
        return buf.getvalue().startswith('"')

    return "".join(ch for ch in ',"\r\n' if quoted(ch))


SPECIAL = special_characters("\n")  # this module's line end (asked once, at import)
_NEEDS_QUOTES = "[" + re.escape(SPECIAL) + "]"
_SPECIAL_BYTES = np.frombuffer(SPECIAL.encode(), dtype=np.uint8)


def sql_field(expr: str, lineterminator: str = "\r\n") -> str:
    """SQL rendering the value of ``expr`` as the csv writer with that line end does, for a
    writer whose rows SQLite renders whole: NULL as nothing, a value holding a special
    character quoted with its quotes doubled, anything else as its text. (NULL is tested
    first: most id columns are empty for any one source.)"""
    special = " + ".join(
        f"instr({expr}, char({ord(ch)}))" for ch in special_characters(lineterminator)
    )
    return (
        f"CASE WHEN {expr} IS NULL THEN '' "
        f"WHEN {special} THEN '\"' || replace({expr}, '\"', '\"\"') || '\"' ELSE {expr} END"
    )


def sql_fields(exprs: Sequence[str]) -> str:
    """SQL: the values of ``exprs`` as plain text (NULL as nothing), each after a comma and
    a comma after the last (printf joins them in one allocation; a value's own % is never
    read as a format). It is what the csv writer writes for them exactly when
    :func:`plain_test` says so of it."""
    return f"printf('{',%s' * len(exprs)},', {', '.join(exprs)})"


def plain_test(lineterminator: str = "\r\n") -> Callable[[str, int, int], bool]:
    """The test of CSV text that SQLite joined without quoting (values as their plain text,
    NULL as nothing, separated by commas, rows ended by ``lineterminator``):
    ``plain(text, commas, rows)`` is true when the text holds exactly the ``commas`` commas
    and ``rows`` line ends its layout puts there and no other character the writer with
    that line end quotes. A value holding one adds one, so the text is then what the
    writer writes.

    One test of a whole joined text in Python (a few C scans) instead of a ``CASE`` per
    value in SQL (:func:`sql_field`, ~0.8–3 µs a line) where a build renders millions of
    lines that nearly all need no quotes: the predicted catalog's id columns
    (:func:`sql_fields`, a batch at a time), licenses.csv (a shard's lines)."""
    per_row = {
        ch: lineterminator.count(ch) for ch in special_characters(lineterminator) if ch != ","
    }

    def plain(text: str, commas: int, rows: int) -> bool:
        return text.count(",") == commas and all(
            text.count(ch) == n * rows for ch, n in per_row.items()
        )

    return plain


def field_text(column: pa.Array) -> pa.Array:
    """One column as CSV fields: strings quoted where Python's csv quotes them, integers
    as digits, nulls as empty fields."""
    if pa.types.is_integer(column.type):
        return pc.fill_null(pc.cast(column, pa.string()), "")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise TypeError(f"no CSV rule for {column.type}")
    text = pc.fill_null(column, "")
    if not _any_special(text):
        return text
    needs = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _any_special(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a string column's bytes hold a special character anywhere: one scan of its
    data buffer, ~10x cheaper than a regex per value, and most columns hold none (a
    special byte in a null's slot only sends the column the long way)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        _, offsets, data = chunk.buffers()
        if data is None:
            continue
        kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        start, end = np.frombuffer(offsets, dtype=kind)[[chunk.offset, chunk.offset + len(chunk)]]
        if np.isin(np.frombuffer(data, dtype=np.uint8)[start:end], _SPECIAL_BYTES).any():
            return True
    return False


def rows_text(columns: Sequence[pa.Array]) -> bytes:
    """The CSV lines of rows given as columns (each line ending in ``\\n``)."""
    if not columns or not len(columns[0]):
        return b""
    lines = pc.binary_join_element_wise(*(field_text(c) for c in columns), ",")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    kind = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    _, offsets, data = lines.buffers()
    ends = np.frombuffer(offsets, dtype=kind)[[lines.offset, lines.offset + len(lines)]]
    return data.slice(int(ends[0]), int(ends[1] - ends[0])).to_pybytes()
