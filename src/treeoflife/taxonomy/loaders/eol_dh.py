"""EOL Dynamic Hierarchy 2.1 ``taxon.tab``: lineages by EOL page id and by name.

The file has millions of rows and parents may come after their children, so one pass
keeps compact int64 arrays (taxon id codes, parent, accepted, rank code, page) and no
names; parents are linked by sorting the codes. A second pass reads the names of only the
taxa on the lineages the labels need (their page ids and names), which are then walked
with memoised ancestors. Synonyms (a row whose ``acceptedNameUsageID`` names another row)
resolve to their accepted taxon.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from treeoflife.taxonomy.lineage import GENUS_INDEX, SPECIES_INDEX, Lineage, species_epithet
from treeoflife.taxonomy.loaders._csv import table
from treeoflife.taxonomy.ranks import RANKS, is_unknown, normalise_kingdom, rank_name
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
NO_RANK = 255
MAX_DEPTH = 200  # deeper than any real hierarchy: a longer walk is a parent cycle


@dataclass
class DHResult:
    """What the build needs from the DH: a candidate per wanted page, candidates per wanted name."""

    by_page: dict[int, Candidate] = field(default_factory=dict)
    by_name: dict[NameKey, list[Candidate]] = field(default_factory=dict)
    rows: int = 0


class _Codes:
    """Taxon ids as int64 codes: ``EOL-<digits>`` and plain digits packed, others numbered.

    A code keeps the digit count, so ``EOL-007`` and ``EOL-7`` stay distinct ids.
    """

    def __init__(self) -> None:
        self.other: dict[str, int] = {}

    def code(self, taxon_id: str) -> int:
        if taxon_id.startswith("EOL-"):
            digits, tag = taxon_id[4:], 0
        else:
            digits, tag = taxon_id, 1
        if digits.isascii() and digits.isdigit() and len(digits) <= 15:
            return ((int(digits) << 4 | len(digits)) << 2) | tag
        k = self.other.get(taxon_id)
        if k is None:
            k = self.other[taxon_id] = len(self.other)
        return k << 2 | 2


class _Tree:
    """Arrays over the distinct taxon ids: parent, accepted, rank code, page; the names of
    the taxa on wanted lineages (None elsewhere)."""

    def __init__(self) -> None:
        self.parent = array("q")
        self.accepted = array("q")
        self.rank = bytearray()
        self.page = array("q")
        self.name: list[str | None] = []
        self.taxon_id: dict[int, str] = {}  # only for the rows candidates are made from


def _to_array(values: np.ndarray) -> array:
    out = array("q")
    out.frombytes(memoryview(np.ascontiguousarray(values, dtype=np.int64)).cast("B"))
    return out


def _rows(path: Path, progress: Callable | None) -> Iterator[tuple[int, list[str], dict]]:
    """(row number, cells, columns) for every row with a taxonID, in file order."""
    with table(path, REQUIRED, what=WHAT, delimiter="\t") as (cols, body):
        width = max(cols.values()) + 1
        c_id = cols["taxonID"]
        n = 0
        for row in progress(body) if progress else body:
            if len(row) < width:
                row = row + [""] * (width - len(row))
            if not row[c_id].strip():
                continue
            yield n, row, cols
            n += 1


def _rank_and_name(row: list[str], cols: dict[str, int]) -> tuple[int, str]:
    rank = rank_name(row[cols["taxonRank"]])
    c_sci = cols.get("scientificName")
    name = row[cols["canonicalName"]].strip() or (row[c_sci].strip() if c_sci is not None else "")
    if rank is not None and name and not is_unknown(name):
        return RANKS.index(rank), name
    return NO_RANK, ""


def _ints(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def load(
    path: Path, pages: set[int], names: set[NameKey], progress: Callable | None = None
) -> DHResult:
    """Candidates for the wanted EOL page ids and (name, rank) keys.

    One pass keeps int64 codes per row (no per-row Python objects); parents are linked by
    sorting the codes; a second pass reads the names on the wanted lineages.
    """
    codes = _Codes()
    own, par, acc, pg = array("q"), array("q"), array("q"), array("q")
    rank = bytearray()
    wanted_ids: dict[int, str] = {}  # file row -> taxonID, for wanted rows
    page_rows: dict[int, int] = {}
    name_rows: dict[NameKey, list[int]] = {}
    for n, row, cols in _rows(path, progress):
        taxon_id = row[cols["taxonID"]].strip()
        own.append(codes.code(taxon_id))
        parent = row[cols["parentNameUsageID"]].strip()
        accepted = row[cols["acceptedNameUsageID"]].strip()
        par.append(codes.code(parent) if parent and parent != taxon_id else -1)
        acc.append(codes.code(accepted) if accepted and accepted != taxon_id else -1)
        r, name = _rank_and_name(row, cols)
        rank.append(r)
        if r != NO_RANK:
            key = name_key(name, r)
            if key in names:
                name_rows.setdefault(key, []).append(n)
                wanted_ids[n] = taxon_id
        page = row[cols["eolID"]].strip()
        if page.isascii() and page.isdigit():
            pg.append(int(page))
            if int(page) in pages and int(page) not in page_rows:
                page_rows[int(page)] = n  # the first row listing a page wins
                wanted_ids[n] = taxon_id
        else:
            pg.append(0)
    rows = len(own)
    own_np = _ints(own)
    uniq, first = np.unique(own_np, return_index=True)  # a repeated taxonID is one node
    canon = np.searchsorted(uniq, own_np)  # file row -> node
    del own, own_np
    nodes = len(uniq)

    def link(linked: array, uniq: np.ndarray) -> np.ndarray:
        """Node of each row's link: -1 none, -2 an id no row has."""
        c = _ints(linked)
        if not nodes:
            return np.where(c == -1, -1, -2)
        at = np.minimum(np.searchsorted(uniq, c), nodes - 1)
        return np.where(c == -1, -1, np.where(uniq[at] == c, at, -2))

    par_np, acc_np = link(par, uniq), link(acc, uniq)
    del par, acc, uniq
    tree = _Tree()
    tree.parent = _to_array(np.maximum(par_np[first], -1))  # a missing parent: a root
    tree.accepted = _to_array(acc_np[first])  # a missing accepted taxon stays -2: no lineage
    tree.page = _to_array(_ints(pg)[first])
    tree.rank = bytearray(np.frombuffer(bytes(rank), dtype=np.uint8)[first].tobytes())
    tree.name = [None] * nodes
    if nodes != rows:  # later rows repeating a taxonID update it, in file order
        later = np.ones(rows, dtype=bool)
        later[first] = False
        for n in np.flatnonzero(later).tolist():
            i = int(canon[n])
            if par_np[n] != -1:
                tree.parent[i] = max(int(par_np[n]), -1)
            if acc_np[n] != -1:
                tree.accepted[i] = int(acc_np[n])
            if rank[n] != NO_RANK:
                tree.rank[i] = rank[n]
            if pg[n]:
                tree.page[i] = pg[n]
    del par_np, acc_np, pg, rank, first
    for n, taxon_id in wanted_ids.items():
        tree.taxon_id[int(canon[n])] = taxon_id
    page_nodes = {page: int(canon[n]) for page, n in page_rows.items()}
    name_nodes = {key: [int(canon[n]) for n in ns] for key, ns in name_rows.items()}
    _read_lineage_names(path, tree, canon, page_nodes, name_nodes)
    del canon
    result = DHResult(rows=rows)
    walker = _Walker(tree)
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
    tree: _Tree,
    canon: np.ndarray,
    page_nodes: dict[int, int],
    name_nodes: dict[NameKey, list[int]],
) -> None:
    """Read the names of the taxa the wanted lineages pass through (the second pass).

    A taxon listed on several rows takes the name of its last row with a rank, as its rank.
    """
    starts = set(page_nodes.values()) | {i for ns in name_nodes.values() for i in ns}
    starts |= {tree.accepted[i] for i in starts if tree.accepted[i] >= 0}
    if not starts:
        return
    on_lineage = np.zeros(len(tree.name), dtype=bool)
    on_lineage[np.fromiter(_lineage_nodes(tree, starts), np.int64)] = True
    wanted = on_lineage[canon].tobytes()  # file row -> 1 if its name is needed
    del on_lineage
    for n, row, cols in _rows(path, None):
        if wanted[n]:
            r, name = _rank_and_name(row, cols)
            if r != NO_RANK:
                tree.name[int(canon[n])] = name


def _lineage_nodes(tree: _Tree, starts: Iterable[int]) -> Iterable[int]:
    """Every taxon fewer than MAX_DEPTH steps up from a start: all the walker may name."""
    closest: dict[int, int] = {}  # taxon -> fewest steps up from any start so far
    for i in starts:
        node, depth = i, 0
        while node >= 0 and depth < MAX_DEPTH and closest.get(node, MAX_DEPTH) > depth:
            closest[node] = depth
            node, depth = tree.parent[node], depth + 1
    return closest.keys()


class _Walker:
    """Walks rows up to the root, collecting the seven ranks; memoises ancestors' lineages."""

    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.memo: dict[int, Lineage] = {}

    def candidate(self, i: int, how: str) -> Candidate | None:
        t = self.tree
        start = i
        if t.accepted[i] == -2:  # a synonym of a taxon the file does not have
            return None
        if t.accepted[i] >= 0:  # a synonym: the accepted taxon's lineage
            i, how = t.accepted[i], "synonym"
        lineage = self.lineage(i)
        if not any(lineage):
            return None
        page = t.page[i] or t.page[start] or None
        return Candidate(lineage, EOL_DH, t.taxon_id[start], how, page_id=page)

    def lineage(self, i: int) -> Lineage:
        t = self.tree
        chain: list[int] = []
        node = i
        while node >= 0 and node not in self.memo and len(chain) < MAX_DEPTH:
            chain.append(node)
            node = t.parent[node]
        base = list(self.memo.get(node, ("",) * len(RANKS))) if node >= 0 else [""] * len(RANKS)
        # apply from the highest ancestor down, memoising every step
        for n in reversed(chain):
            r = t.rank[n]
            if r != NO_RANK:
                base = list(base)
                name = t.name[n] or ""
                if r == 0:
                    name = normalise_kingdom(name)
                elif r == SPECIES_INDEX:
                    if not base[GENUS_INDEX] and len(name.split()) >= 2:
                        base[GENUS_INDEX] = sys.intern(name.split()[0])
                    name = species_epithet(name)
                # a row's own rank is lower than its ancestors'; below it nothing is known;
                # interned, so other references' lineages share the name
                base = base[:r] + [sys.intern(name)] + [""] * (len(RANKS) - r - 1)
            lineage = tuple(base)
            if r != NO_RANK and r < SPECIES_INDEX or r == NO_RANK:
                self.memo[n] = lineage
        return tuple(base)
