"""EOL Dynamic Hierarchy 2.1 ``taxon.tab``: lineages by EOL page id and by name.

The file has millions of rows and parents may come after their children: it is read as a
parent-linked tree of arrays (``_tree``), names only on the lineages the labels need
(their page ids and names). Synonyms (a row whose ``acceptedNameUsageID`` names another row)
resolve to their accepted taxon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.loaders._csv import (
    NotColumnar,
    coded,
    column_batches,
    lowered,
    rows_with_id,
    table,
)
from treeoflife.taxonomy.loaders._tree import (
    ACCEPTED_STATUS,
    NO_RANK,
    Tree,
    TreeBuilder,
    Walker,
    rank_code,
    wanted_rows,
)
from treeoflife.taxonomy.ranks import UNKNOWN_VALUES, is_unknown
from treeoflife.taxonomy.reference import EOL_DH, Candidate, NameKey, add_candidate, name_key

WHAT = "an EOL Dynamic Hierarchy taxon.tab (tab-separated, with taxonID, parentNameUsageID, acceptedNameUsageID, taxonRank, canonicalName, eolID)"
REQUIRED = (
    "taxonID",
    "parentNameUsageID",
    "acceptedNameUsageID",
    "taxonRank",
    "canonicalName",
    "eolID",
)


@dataclass
class DHResult:
    """What the build needs from the DH: a candidate per wanted page, candidates per wanted name."""

    by_page: dict[int, Candidate] = field(default_factory=dict)
    by_name: dict[NameKey, list[Candidate]] = field(default_factory=dict)
    rows: int = 0


def _rows(path: Path, progress: Callable | None) -> Iterator[tuple[int, list[str], dict]]:
    """(row number, cells, columns) for every row with a taxonID, in file order."""
    with table(path, REQUIRED, what=WHAT, delimiter="\t") as (cols, body):
        for n, row in rows_with_id(body, cols["taxonID"], max(cols.values()) + 1, progress):
            yield n, row, cols


def _rank_and_name(row: list[str], cols: dict[str, int]) -> tuple[int, str]:
    r = rank_code(row[cols["taxonRank"]])
    c_sci = cols.get("scientificName")
    name = row[cols["canonicalName"]].strip() or (row[c_sci].strip() if c_sci is not None else "")
    if r != NO_RANK and name and not is_unknown(name):
        return r, name
    return NO_RANK, ""


@dataclass
class _FirstPass:
    """What the first pass over the file keeps: the tree's rows, and which rows the labels
    want (by page, by name)."""

    builder: TreeBuilder = field(default_factory=TreeBuilder)
    wanted_ids: dict[int, str] = field(default_factory=dict)  # file row -> taxonID
    page_rows: dict[int, int] = field(default_factory=dict)  # page -> its first row
    name_rows: dict[NameKey, list[int]] = field(default_factory=dict)
    # each row's name and rank code (for the second pass), when the columnar reader kept them
    names: pa.ChunkedArray | None = None
    ranks: np.ndarray | None = None


def load(
    path: Path, pages: set[int], names: set[NameKey], progress: Callable | None = None
) -> DHResult:
    """Candidates for the wanted EOL page ids and (name, rank) keys.

    One pass keeps int64 codes per row (no per-row Python objects); parents are linked by
    sorting the codes; a second pass reads the names on the wanted lineages.
    """
    try:
        first = _columnar_pass(path, pages, names)
    except NotColumnar:
        first = _row_pass(path, pages, names, progress)
    rows = len(first.builder)
    tree, canon = first.builder.finish(first.wanted_ids)
    page_nodes = {page: int(canon[n]) for page, n in first.page_rows.items()}
    name_nodes = {key: [int(canon[n]) for n in ns] for key, ns in first.name_rows.items()}
    _read_lineage_names(path, tree, canon, page_nodes, name_nodes, first)
    del canon, first
    pa.default_memory_pool().release_unused()  # the names: hand Arrow's pages back
    result = DHResult(rows=rows)
    walker = Walker(tree, EOL_DH)
    for page, i in page_nodes.items():
        cand = walker.candidate(i, "id")
        if cand is not None:
            result.by_page[page] = cand
    for key, rows_ in name_nodes.items():
        for i in rows_:
            cand = walker.candidate(i, "name")
            if cand is not None:
                add_candidate(result.by_name, key, cand)
    return result


def _row_pass(
    path: Path, pages: set[int], names: set[NameKey], progress: Callable | None
) -> _FirstPass:
    """The first pass row by row (``csv``): for files the columnar reader cannot take."""
    first = _FirstPass()
    for n, row, cols in _rows(path, progress):
        taxon_id = row[cols["taxonID"]].strip()
        r, name = _rank_and_name(row, cols)
        if r != NO_RANK:
            key = name_key(name, r)
            if key in names:
                first.name_rows.setdefault(key, []).append(n)
                first.wanted_ids[n] = taxon_id
        page = row[cols["eolID"]].strip()
        page_id = int(page) if page.isascii() and page.isdigit() else 0
        if page_id and page_id in pages and page_id not in first.page_rows:
            first.page_rows[page_id] = n  # the first row listing a page wins
            first.wanted_ids[n] = taxon_id
        first.builder.add(
            taxon_id,
            row[cols["parentNameUsageID"]].strip(),
            row[cols["acceptedNameUsageID"]].strip(),
            r,
            page_id,
            ACCEPTED_STATUS,
        )
    return first


_USED = (
    "taxonID",
    "parentNameUsageID",
    "acceptedNameUsageID",
    "taxonRank",
    "canonicalName",
    "scientificName",
    "eolID",
)


def _columnar_pass(path: Path, pages: set[int], names: set[NameKey]) -> _FirstPass:
    """The first pass over Arrow batches: the same rows, codes and wanted rows as
    :func:`_row_pass`, with Python only for the rows the labels want (and any odd id).

    Raises NotColumnar when the file needs the row-by-row reader.
    """
    with table(path, REQUIRED, what=WHAT, delimiter="\t") as (columns, _body):
        pass  # the header, checked as the row-by-row reader checks it
    first = _FirstPass()
    wanted_names = pa.array(sorted({name for name, _r in names}), pa.string())
    wanted_pages = pa.array(sorted(pages), pa.int64())
    unknown = pa.array(sorted(UNKNOWN_VALUES), pa.string())
    kept_names, kept_ranks = [], []
    start = 0  # file row number of the batch's first row
    for cols in column_batches(path, columns, _USED, delimiter="\t"):
        taxon_id, count = cols["taxonID"], len(cols["taxonID"])
        rank = coded(cols["taxonRank"], rank_code)
        name = cols["canonicalName"]
        if "scientificName" in cols:
            name = pc.if_else(pc.equal(name, ""), cols["scientificName"], name)
        low = lowered(name)
        known = ~np.asarray(pc.is_in(low, unknown), dtype=bool)  # "" is an unknown value
        rank = np.where(known, rank, NO_RANK).astype(np.uint8)
        kept_names.append(name)
        kept_ranks.append(rank)
        # rows whose (name, rank) a label wants, in file order
        hits = np.flatnonzero(np.asarray(pc.is_in(low, wanted_names), dtype=bool) & known)
        for i, low_name, tid in zip(
            hits.tolist(), low.take(hits).to_pylist(), taxon_id.take(hits).to_pylist(), strict=True
        ):
            if int(rank[i]) != NO_RANK and (key := (low_name, int(rank[i]))) in names:
                first.name_rows.setdefault(key, []).append(start + i)
                first.wanted_ids[start + i] = tid
        # the page column: digits or no page
        page_text = cols["eolID"]
        digits = pc.ascii_is_decimal(page_text)
        if pc.any(pc.and_(digits, pc.greater(pc.utf8_length(page_text), 18))).as_py():
            raise NotColumnar("a page id beyond int64")
        page = np.asarray(pc.cast(pc.if_else(digits, page_text, "0"), pa.int64()))
        page_hits = np.flatnonzero((page != 0) & np.asarray(pc.is_in(page, wanted_pages)))
        for i, tid in zip(page_hits.tolist(), taxon_id.take(page_hits).to_pylist(), strict=True):
            page_id = int(page[i])
            if page_id not in first.page_rows:  # the first row listing a page wins
                first.page_rows[page_id] = start + i
                first.wanted_ids[start + i] = tid
        parent, accepted = cols["parentNameUsageID"], cols["acceptedNameUsageID"]
        own, par, acc = first.builder.codes.code_columns(
            [
                (taxon_id, np.ones(count, dtype=bool)),
                (parent, _linked(parent, taxon_id)),
                (accepted, _linked(accepted, taxon_id)),
            ]
        )
        first.builder.extend(own, par, acc, rank, page, ACCEPTED_STATUS)
        start += count
    first.names = pa.chunked_array(kept_names, pa.string())
    first.ranks = np.concatenate(kept_ranks) if kept_ranks else np.zeros(0, np.uint8)
    return first


def _linked(ids: pa.Array, taxon_id: pa.Array) -> np.ndarray:
    """Rows whose link names another row: not blank, not the row itself."""
    return np.asarray(pc.and_(pc.not_equal(ids, ""), pc.not_equal(ids, taxon_id)), dtype=bool)


def _read_lineage_names(
    path: Path,
    tree: Tree,
    canon: np.ndarray,
    page_nodes: dict[int, int],
    name_nodes: dict[NameKey, list[int]],
    first: _FirstPass,
) -> None:
    """Read the names of the taxa the wanted lineages pass through (the second pass;
    from the first pass's names when it kept every row's).

    A taxon listed on several rows takes the name of its last row with a rank, as its rank.
    """
    starts = set(page_nodes.values()) | {i for ns in name_nodes.values() for i in ns}
    wanted = wanted_rows(tree, canon, starts)
    if wanted is None:
        return
    if first.names is not None and first.ranks is not None:
        rows = np.flatnonzero(np.frombuffer(wanted, dtype=np.uint8))
        rows = rows[first.ranks[rows] != NO_RANK]  # in file order: the last row wins
        for n, name in zip(rows.tolist(), first.names.take(rows).to_pylist(), strict=True):
            tree.name[int(canon[n])] = name
        return
    for n, row, cols in _rows(path, None):
        if wanted[n]:
            r, name = _rank_and_name(row, cols)
            if r != NO_RANK:
                tree.name[int(canon[n])] = name
