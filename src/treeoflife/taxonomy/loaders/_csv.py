"""Shared streaming of delimited reference files, with one clear error for a bad file."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

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
