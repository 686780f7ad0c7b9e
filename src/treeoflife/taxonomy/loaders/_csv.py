"""Shared streaming of delimited reference files, with one clear error for a bad file."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from treeoflife.errors import TolError

csv.field_size_limit(sys.maxsize)  # DH higherClassification fields can be long


@contextmanager
def table(
    path: Path,
    required: tuple[str, ...],
    *,
    what: str,
    delimiter: str = ",",
    prefix: str = "",
    used: tuple[str, ...] = (),
) -> Iterator[tuple[dict[str, int], Iterator[list[str]]]]:
    """Open a delimited file: (column name -> index, iterator of rows as lists).

    ``prefix`` is taken off the column names that have it (ChecklistBank writes ColDP
    headers as ``col:ID``; the ColDP spec also allows plain ``ID``). For a tab-separated
    file, ``used`` names every column the caller reads: each line is split only up to the
    last of them (the rest of the line is one more field), which makes wide files such as
    ColDP's 71-column NameUsage.tsv several times faster to stream.

    Raises TolError naming the file and the expected format when it cannot be read, is
    empty, lacks a required column, or breaks mid-way.
    """
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TolError(f"{path} cannot be read ({exc}); expected {what}") from None
    with fh:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.reader(fh, delimiter=delimiter, quoting=quoting)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise TolError(f"{path} is not readable as {what}: {exc}") from None
        if header is None:
            raise TolError(f"{path} is empty; expected {what}")
        columns = {name.strip().removeprefix(prefix): i for i, name in enumerate(header)}
        missing = [c for c in required if c not in columns]
        if missing:
            raise TolError(f"{path} is not {what}: missing column(s) {', '.join(missing)}")

        if delimiter == "\t" and used:
            width = max(columns[c] for c in used if c in columns) + 1

            def split_lines() -> Iterator[list[str]]:
                number = 1
                try:
                    for number, line in enumerate(fh, 2):  # noqa: B007 (used in the error)
                        yield line.rstrip("\r\n").split("\t", width)
                except UnicodeDecodeError as exc:
                    raise TolError(
                        f"{path} is not readable as {what} (line {number}): {exc}"
                    ) from None

            yield columns, split_lines()
            return

        def body() -> Iterator[list[str]]:
            try:
                yield from reader
            except (UnicodeDecodeError, csv.Error) as exc:
                raise TolError(
                    f"{path} is not readable as {what} (line {reader.line_num}): {exc}"
                ) from None

        yield columns, body()


def field(row: list[str], index: int | None) -> str:
    """A field by column index, "" when the column is absent or the row is short."""
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def rows_with_id(
    body: Iterable[list[str]], id_column: int, width: int, progress: Callable | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every row with a non-blank id, in file order; short rows are
    padded to ``width`` cells so a loader may index any column it reads."""
    n = 0
    for row in progress(body) if progress else body:
        if len(row) < width:
            row = row + [""] * (width - len(row))
        if not row[id_column].strip():
            continue
        yield n, row
        n += 1


class NotColumnar(Exception):
    """The file needs the row-by-row reader (ragged rows, bad UTF-8, odd values)."""


# bytes a value may not start or end with to be its own ``str.strip``: the characters
# ``str.strip`` removes from ASCII (whitespace, the C0 separators \x1c-\x1f) and any
# non-ASCII byte (a Unicode space may be there; such values go through Python)
_EDGE_BYTES = np.zeros(256, dtype=bool)
_EDGE_BYTES[[c for c in range(128) if chr(c).isspace()]] = True
_EDGE_BYTES[128:] = True


def stripped(values: pa.Array) -> pa.Array:
    """``str.strip`` of every value of a string array without nulls: values whose first or
    last byte could be stripped go through Python, so the result is exactly Python's."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2] or b"\0", dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    edge = np.zeros(len(values), dtype=bool)
    edge[filled] = _EDGE_BYTES[data[starts[filled]]] | _EDGE_BYTES[data[ends[filled] - 1]]
    dirty = np.flatnonzero(edge)
    if not len(dirty):
        return values
    fixed = [v.strip() for v in values.take(dirty).to_pylist()]
    return pc.replace_with_mask(values, pa.array(edge), pa.array(fixed, pa.string()))


# what ``str.split()`` splits ASCII on, other than the space, and the runs of spaces and
# edge spaces ``" ".join(v.split())`` removes
_NOT_ONE_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f]|  |^ | $"


def collapsed(values: pa.Array) -> pa.Array:
    """``" ".join(v.split())`` of every value of a string array without nulls: ASCII values
    with nothing to collapse are kept, the others go through Python, so the result is
    exactly Python's."""
    odd = pc.or_(
        pc.invert(pc.string_is_ascii(values)), pc.match_substring_regex(values, _NOT_ONE_SPACE)
    )
    dirty = np.flatnonzero(np.asarray(odd, dtype=bool))
    if not len(dirty):
        return values
    fixed = [" ".join(v.split()) for v in values.take(dirty).to_pylist()]
    return pc.replace_with_mask(values, odd, pa.array(fixed, pa.string()))


def coded(values: pa.Array, code: Callable[[str], int]) -> np.ndarray:
    """``code(v)`` of every value (a uint8 each), calling ``code`` once per distinct value:
    for columns of a few labels (ranks, statuses) over millions of rows."""
    labels = pc.unique(values)
    table_ = np.array([code(v) for v in labels.to_pylist()] or [0], dtype=np.uint8)
    return table_[np.asarray(pc.index_in(values, labels).fill_null(0))]


def lowered(values: pa.Array) -> pa.Array:
    """``str.lower`` of every value: ASCII in Arrow, anything else through Python (Arrow's
    Unicode case mapping is not Python's in every case)."""
    if pc.all(pc.string_is_ascii(values)).as_py():
        return pc.ascii_lower(values)
    return pa.array([v.lower() for v in values.to_pylist()], pa.string())


def column_batches(
    path: Path,
    columns: dict[str, int],
    used: tuple[str, ...],
    *,
    delimiter: str,
    skip_blank: bool = True,
    strip: tuple[str, ...] | None = None,
) -> Iterator[dict[str, pa.Array]]:
    """The ``used`` columns (those the header has) of a delimited file, stripped (only
    those named in ``strip``, when given), in batches of rows that have a non-blank first
    used column (every row, without ``skip_blank``), in file order.

    Read by Arrow's CSV parser, a field of a million rows costs what one row costs the
    ``csv`` module. The file is handed to it in pieces of whole lines (Arrow's streaming
    reader would hold hundreds of MB read ahead). Raises NotColumnar where the row-by-row
    reader behaves otherwise than Arrow's (rows narrower or wider than the header, bytes
    that are not UTF-8): the caller falls back to it. ``columns`` is :func:`table`'s
    header map.
    """
    width = max(columns.values()) + 1
    present = [c for c in used if c in columns]
    # one thread: on ColDP's 6M rows 0.7 s slower, and ~50-90 MiB less memory left behind
    # by the reader's threads (the references' peak is resolve's)
    read = pa_csv.ReadOptions(column_names=[f"c{i}" for i in range(width)], use_threads=False)
    parse = pa_csv.ParseOptions(
        delimiter=delimiter,
        quote_char='"' if delimiter != "\t" else False,
        double_quote=delimiter != "\t",
        newlines_in_values=False,
    )
    convert = pa_csv.ConvertOptions(
        include_columns=[f"c{columns[c]}" for c in present],
        column_types={f"c{columns[c]}": pa.string() for c in present},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    with path.open("rb") as fh:
        fh.readline()  # the header, read by table()
        while piece := fh.read(PIECE_BYTES):
            piece += fh.readline()  # to the end of the line
            try:
                batch = pa_csv.read_csv(
                    pa.py_buffer(piece),
                    read_options=read,
                    parse_options=parse,
                    convert_options=convert,
                )
            except pa.ArrowInvalid as exc:
                raise NotColumnar(str(exc)) from None
            out = {c: batch.column(f"c{columns[c]}").combine_chunks() for c in present}
            out = {c: stripped(v) if strip is None or c in strip else v for c, v in out.items()}
            keep = pc.not_equal(out[present[0]], "")
            if skip_blank and not pc.all(keep).as_py():
                out = {c: v.filter(keep) for c, v in out.items()}
            yield out


PIECE_BYTES = 16 << 20


def selected_rows(
    path: Path,
    columns: dict[str, int],
    used: tuple[str, ...],
    select: Callable[[dict[str, pa.Array]], pa.Array | np.ndarray],
    tested: tuple[str, ...],
    *,
    delimiter: str = ",",
) -> Iterator[list[str]]:
    """The rows of a delimited file that ``select`` keeps, as the row reader's lists
    (cells of the ``used`` columns at their header positions, "" elsewhere), in file
    order: Arrow reads every row and tells, a batch at a time, which ones may matter
    (``select``: the batch's columns -> a boolean mask), and only those become Python.

    For loaders that keep a few rows of a large file: ``select`` must keep at least every
    row their row-by-row logic would use, which then runs on these rows unchanged (it
    strips each cell it reads, as ``field`` does: only the ``tested`` columns, which
    ``select`` reads, are stripped here). Raises NotColumnar (possibly after some rows)
    where :func:`column_batches` does.
    """
    width = max(columns.values()) + 1
    present = [c for c in used if c in columns]
    for batch in column_batches(
        path, columns, used, delimiter=delimiter, skip_blank=False, strip=tested
    ):
        hits = np.flatnonzero(np.asarray(select(batch), dtype=bool))
        if not len(hits):
            continue
        cells = [batch[c].take(hits).to_pylist() for c in present]
        positions = [columns[c] for c in present]
        for values in zip(*cells, strict=True):
            row = [""] * width
            for i, v in zip(positions, values, strict=True):
                row[i] = v
            yield row
