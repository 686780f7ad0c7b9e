"""EOL Dynamic Hierarchy 2.1 ``taxon.tab``: lineages by EOL page id and by name.

The file has millions of rows and parents may come after their children, so one pass
keeps compact parallel arrays (parent, accepted, rank code, name of rows at the seven
ranks) indexed by an interned row number; lineages are then walked only for the rows the
labels need (their page ids and names), with memoised ancestors. Synonyms (a row whose
``acceptedNameUsageID`` names another row) resolve to their accepted taxon.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


class _Tree:
    """Compact arrays over all rows: parent, accepted, rank code, names at the seven ranks."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.parent = array("l")
        self.accepted = array("l")
        self.rank = bytearray()
        self.name: list[str | None] = []
        self.taxon_id: list[str] = []
        self.page = array("q")

    def index(self, taxon_id: str) -> int:
        i = self.ids.get(taxon_id)
        if i is None:
            i = self.ids[taxon_id] = len(self.taxon_id)
            self.taxon_id.append(taxon_id)
            self.parent.append(-1)
            self.accepted.append(-1)
            self.rank.append(NO_RANK)
            self.name.append(None)
            self.page.append(0)
        return i


def load(
    path: Path, pages: set[int], names: set[NameKey], progress: Callable | None = None
) -> DHResult:
    """Candidates for the wanted EOL page ids and (name, rank) keys; streams the file once."""
    tree = _Tree()
    page_rows: dict[int, int] = {}
    name_rows: dict[NameKey, list[int]] = {}
    with table(path, REQUIRED, what=WHAT, delimiter="\t") as (cols, body):
        c_id, c_parent, c_acc = (
            cols["taxonID"],
            cols["parentNameUsageID"],
            cols["acceptedNameUsageID"],
        )
        c_rank, c_canon, c_page = cols["taxonRank"], cols["canonicalName"], cols["eolID"]
        c_sci = cols.get("scientificName")
        width = max(cols.values()) + 1
        for row in progress(body) if progress else body:
            if len(row) < width:
                row = row + [""] * (width - len(row))
            taxon_id = row[c_id].strip()
            if not taxon_id:
                continue
            i = tree.index(taxon_id)
            parent, accepted = row[c_parent].strip(), row[c_acc].strip()
            if parent and parent != taxon_id:
                tree.parent[i] = tree.index(parent)
            if accepted and accepted != taxon_id:
                tree.accepted[i] = tree.index(accepted)
            rank = rank_name(row[c_rank])
            name = row[c_canon].strip() or (row[c_sci].strip() if c_sci is not None else "")
            if rank is not None and name and not is_unknown(name):
                r = RANKS.index(rank)
                tree.rank[i] = r
                tree.name[i] = name
                key = name_key(name, r)
                if key in names:
                    name_rows.setdefault(key, []).append(i)
            page = row[c_page].strip()
            if page.isdigit():
                tree.page[i] = int(page)
                if int(page) in pages:
                    page_rows.setdefault(int(page), i)  # the first row listing a page wins
    result = DHResult(rows=len(tree.taxon_id))
    walker = _Walker(tree)
    for page, i in page_rows.items():
        cand = walker.candidate(i, "id")
        if cand is not None:
            result.by_page[page] = cand
    for key, rows_ in name_rows.items():
        for i in rows_:
            cand = walker.candidate(i, "name")
            if cand is not None:
                add_candidate(result.by_name, key, cand)
    return result


class _Walker:
    """Walks rows up to the root, collecting the seven ranks; memoises ancestors' lineages."""

    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.memo: dict[int, Lineage] = {}

    def candidate(self, i: int, how: str) -> Candidate | None:
        t = self.tree
        start = i
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
                        base[GENUS_INDEX] = name.split()[0]
                    name = species_epithet(name)
                # a row's own rank is lower than its ancestors'; below it nothing is known
                base = base[:r] + [name] + [""] * (len(RANKS) - r - 1)
            lineage = tuple(base)
            if r != NO_RANK and r < SPECIES_INDEX or r == NO_RANK:
                self.memo[n] = lineage
        return tuple(base)
