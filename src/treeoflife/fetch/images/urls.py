"""The reader of ``tol fetch-images``: a URL list (CSV or Parquet) as one :class:`Job` a row.

A row that cannot be fetched (no id, no URL, a URL that is not a fetchable http(s) URL,
an image listed twice) is a Job with a ``problem``: it is recorded as a failure of that
row, never raised, so one bad cell cannot stop a list of millions. Credentials in a URL
(``user:pass@``) are dropped here, before anything is stored: ``open_url`` never sent
them (it connects to the host and sends the path), so the request is the same, and no
state, CSV or message can leak them.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from treeoflife.errors import TolError
from treeoflife.fetch.http import strip_credentials
from treeoflife.sources.generic import LABEL_COLUMNS, RIGHTS_COLUMNS

EOL_URL = "EOL Full-Size Copy URL"
EOL_CONTENT = "EOL content ID"
EOL_PAGE = "EOL page ID"
# the label and rights columns the generic source reads (license, rights_holder,
# source_url), passed through from the URL list when it has them
GENERIC_LABELS = LABEL_COLUMNS + RIGHTS_COLUMNS
# reasons a retry cannot fix: the row itself is wrong (fix the list instead)
ROW_REASONS = ("bad_row", "no_url", "duplicate", "bad_url")
_ROW_DETAIL = {
    "bad_row": "content or page id is not an integer",
    "no_url": "the URL cell is empty",
    "duplicate": "the same image is listed earlier",
}


@dataclass(frozen=True)
class Job:
    """One row of the list: where it is (idx), what to fetch, and what to call it."""

    idx: int
    url: str
    name: str  # EOL member name, or the generic file stem
    labels: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # a row reason (ROW_REASONS) when the row cannot be fetched
    detail: str = ""  # why, for fetch-images-failures.csv


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched, or None.

    Checked when the list is read, because ``http.client`` raises on these deep inside a
    download (ValueError, UnicodeEncodeError), which used to end every run with a traceback.
    """
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "the URL contains whitespace or control characters"
    if not url.isascii():
        return "the URL contains non-ASCII characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        return f"the URL cannot be parsed: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"the URL scheme {parts.scheme!r} is not http or https"
    if not parts.hostname:
        return "the URL has no host"
    return None


def _rows(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Header and rows of a CSV or Parquet file, streamed."""
    if not path.is_file():
        raise TolError(f"URL list {path} does not exist")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)

        def parquet_rows() -> Iterator[dict[str, Any]]:
            for batch in pf.iter_batches(batch_size=10_000):
                yield from batch.to_pylist()

        return list(pf.schema_arrow.names), parquet_rows()
    fh = path.open(newline="", encoding="utf-8-sig")
    reader = csv.DictReader(fh)
    header = list(reader.fieldnames or [])

    def csv_rows() -> Iterator[dict[str, Any]]:
        with fh:
            yield from reader

    return header, csv_rows()


def _int_id(value: Any) -> int | None:
    text = "" if value is None else str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return int(text) if text.isdigit() else None


def read_jobs(
    path: Path, fmt: str, url_column: str | None = None, label_columns: list[str] | None = None
) -> tuple[list[str], Iterator[Job]]:
    """The label columns passed through, and one Job per row in list order."""
    header, rows = _rows(path)
    url_col = url_column or (EOL_URL if fmt == "eol" else "url")
    needed = [url_col] + ([EOL_CONTENT, EOL_PAGE] if fmt == "eol" else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise TolError(
            f"{path} has no column {missing[0]!r} (columns: {', '.join(header[:12])}); "
            "name the URL column with --url-column"
        )
    if label_columns is None:
        labels = [c for c in GENERIC_LABELS if c in header] if fmt == "generic" else []
    else:
        labels = label_columns
        absent = [c for c in labels if c not in header]
        if absent:
            raise TolError(f"{path} has no label column {absent[0]!r}")

    def jobs() -> Iterator[Job]:
        seen: set[str] = set()
        for idx, row in enumerate(rows):
            raw = ("" if row.get(url_col) is None else str(row[url_col])).strip()
            url = strip_credentials(raw)
            lab = {c: "" if row.get(c) is None else str(row[c]) for c in labels}
            if fmt == "eol":
                content, page = _int_id(row.get(EOL_CONTENT)), _int_id(row.get(EOL_PAGE))
                name = f"{content}_{page}_eol-full-size-copy.jpg"
                problem = "bad_row" if content is None or page is None else ""
            else:
                name = hashlib.sha1(url.encode()).hexdigest()[:20]
                problem = ""
            detail = _ROW_DETAIL.get(problem, "")
            if not problem and not url:
                problem, detail = "no_url", _ROW_DETAIL["no_url"]
            if not problem and (why := url_problem(url)):
                problem, detail = "bad_url", why
            if not problem and name in seen:
                problem, detail = "duplicate", _ROW_DETAIL["duplicate"]
            seen.add(name)
            yield Job(idx, url, name, lab, problem, detail)

    return labels, jobs()


def read_gbif_jobs(folder: Path) -> Iterator[Job]:
    """One Job per StillImage row of a GBIF download's ``multimedia.txt``, in file order.

    The name is the image's treeoflife_id, so the file lands where the GBIF source looks
    for it (``images/<id[:2]>/<id>.<type>``, see :func:`treeoflife.sources.gbif.image_stem`).
    The same (occurrence, URL) listed again is a ``duplicate``; "seen" is kept on disk, as
    a download lists up to hundreds of millions of media rows.
    """
    from treeoflife.sources import gbif
    from treeoflife.sources.base import disk_set

    if not gbif.present(folder):
        raise TolError(
            f"{folder} is not an unpacked GBIF occurrence download: it needs "
            f"{gbif.OCCURRENCE} and {gbif.MULTIMEDIA} (the Darwin Core Archive format)"
        )
    with disk_set() as seen:
        rows = (r for r in gbif.media_rows(folder) if gbif.is_still_image(r))
        for idx, row in enumerate(rows):
            raw = row["identifier"].strip()
            name = gbif.image_stem(row["gbifID"], raw).rsplit("/", 1)[1]
            url = strip_credentials(raw)
            problem = detail = ""
            if not url:
                problem, detail = "no_url", _ROW_DETAIL["no_url"]
            elif why := url_problem(url):
                problem, detail = "bad_url", why
            elif not seen.add(name):
                problem, detail = "duplicate", _ROW_DETAIL["duplicate"]
            yield Job(idx, url, name, {}, problem, detail)
