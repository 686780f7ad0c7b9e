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

from treeoflife.taxonomy.loaders._csv import rows_with_id, table
from treeoflife.taxonomy.loaders._tree import (
    ACCEPTED_STATUS,
    NO_RANK,
    Tree,
    TreeBuilder,
    Walker,
    wanted_rows,
)
from treeoflife.taxonomy.ranks import RANKS, is_unknown, rank_name
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
    rank = rank_name(row[cols["taxonRank"]])
    c_sci = cols.get("scientificName")
    name = row[cols["canonicalName"]].strip() or (row[c_sci].strip() if c_sci is not None else "")
    if rank is not None and name and not is_unknown(name):
        return RANKS.index(rank), name
    return NO_RANK, ""


def load(
    path: Path, pages: set[int], names: set[NameKey], progress: Callable | None = None
) -> DHResult:
    """Candidates for the wanted EOL page ids and (name, rank) keys.

    One pass keeps int64 codes per row (no per-row Python objects); parents are linked by
    sorting the codes; a second pass reads the names on the wanted lineages.
    """
    builder = TreeBuilder()
    wanted_ids: dict[int, str] = {}  # file row -> taxonID, for wanted rows
    page_rows: dict[int, int] = {}
    name_rows: dict[NameKey, list[int]] = {}
    for n, row, cols in _rows(path, progress):
        taxon_id = row[cols["taxonID"]].strip()
        r, name = _rank_and_name(row, cols)
        if r != NO_RANK:
            key = name_key(name, r)
            if key in names:
                name_rows.setdefault(key, []).append(n)
                wanted_ids[n] = taxon_id
        page = row[cols["eolID"]].strip()
        page_id = int(page) if page.isascii() and page.isdigit() else 0
        if page_id and page_id in pages and page_id not in page_rows:
            page_rows[page_id] = n  # the first row listing a page wins
            wanted_ids[n] = taxon_id
        builder.add(
            taxon_id,
            row[cols["parentNameUsageID"]].strip(),
            row[cols["acceptedNameUsageID"]].strip(),
            r,
            page_id,
            ACCEPTED_STATUS,
        )
    rows = len(builder)
    tree, canon = builder.finish(wanted_ids)
    page_nodes = {page: int(canon[n]) for page, n in page_rows.items()}
    name_nodes = {key: [int(canon[n]) for n in ns] for key, ns in name_rows.items()}
    _read_lineage_names(path, tree, canon, page_nodes, name_nodes)
    del canon
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


def _read_lineage_names(
    path: Path,
    tree: Tree,
    canon: np.ndarray,
    page_nodes: dict[int, int],
    name_nodes: dict[NameKey, list[int]],
) -> None:
    """Read the names of the taxa the wanted lineages pass through (the second pass).

    A taxon listed on several rows takes the name of its last row with a rank, as its rank.
    """
    starts = set(page_nodes.values()) | {i for ns in name_nodes.values() for i in ns}
    wanted = wanted_rows(tree, canon, starts)
    if wanted is None:
        return
    for n, row, cols in _rows(path, None):
        if wanted[n]:
            r, name = _rank_and_name(row, cols)
            if r != NO_RANK:
                tree.name[int(canon[n])] = name
