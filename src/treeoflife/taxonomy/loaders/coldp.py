"""Catalogue of Life ColDP ``NameUsage.tsv`` and ``VernacularName.tsv`` (docs/sources.md).

The form ChecklistBank exports (the COL release and the eXtended Release alike): one
usage per row, tab-separated, headers ``col:ID``, ``col:parentID``, ``col:status``,
``col:scientificName`` (without authorship), ``col:rank``; the ``col:`` prefix is
optional. The classification is parent-linked (the denormalised ``col:kingdom`` ...
``col:genus`` columns are empty in COL's own exports), so the file is read like the EOL
DH: a tree of arrays, names only on the wanted lineages (``_tree``).

Statuses: ``accepted`` rows are taxa; ``provisionally accepted`` ones too, marked
provisional (and dropped where the same name is also accepted, see
:func:`~treeoflife.taxonomy.reference.prefer_accepted`); for ``synonym`` and
``ambiguous synonym`` rows ``parentID`` is the accepted taxon, whose lineage they give
(a pro parte synonym has a row per accepted taxon: several candidates). ``misapplied``
names (another author's wrong use of the name: it means a different taxon) and
``bare name`` rows answer for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from treeoflife.taxonomy.loaders._csv import field as cell
from treeoflife.taxonomy.loaders._csv import rows_with_id, table
from treeoflife.taxonomy.loaders._tree import (
    ACCEPTED_STATUS,
    NO_RANK,
    PROVISIONAL_STATUS,
    TreeBuilder,
    Walker,
    wanted_rows,
)
from treeoflife.taxonomy.ranks import RANKS, is_unknown, rank_name
from treeoflife.taxonomy.reference import (
    COL,
    SYNONYM,
    BackboneResult,
    NameKey,
    add_candidate,
    name_key,
    prefer_accepted,
)

PREFIX = "col:"
WHAT = "a ColDP NameUsage.tsv (tab-separated, with col:ID, col:parentID, col:status, col:scientificName, col:rank)"
REQUIRED = ("ID", "parentID", "status", "scientificName", "rank")
VERN_WHAT = "a ColDP VernacularName.tsv (tab-separated, with col:taxonID, col:name, col:language)"
VERN_REQUIRED = ("taxonID", "name", "language")
ENGLISH = frozenset({"eng", "en", "english"})
TRUE = frozenset({"true", "t", "1", "yes", "y"})
_SKIP = -1


SYNONYM_ROW = 2
NO_ACCEPTED = "\x00"  # a synonym without parentID: an id no row has, so no lineage


def _status(value: str) -> int:
    """ACCEPTED_STATUS, PROVISIONAL_STATUS, SYNONYM_ROW, or _SKIP (misapplied, bare name)."""
    v = value.strip().lower()
    if v in ("accepted", ""):
        return ACCEPTED_STATUS
    if v == "provisionally accepted":
        return PROVISIONAL_STATUS
    if v.endswith("synonym"):
        return SYNONYM_ROW
    return _SKIP


def _rows(path: Path, progress: Callable | None) -> Iterator[tuple[int, list[str], dict]]:
    """(row number, cells, columns) for every row with an ID, in file order."""
    with table(path, REQUIRED, what=WHAT, delimiter="\t", prefix=PREFIX, used=REQUIRED) as (
        cols,
        body,
    ):
        width = max(cols[c] for c in REQUIRED) + 1  # lines are split up to these
        for n, row in rows_with_id(body, cols["ID"], width, progress):
            yield n, row, cols


def _rank_and_name(row: list[str], cols: dict[str, int]) -> tuple[int, str]:
    rank = rank_name(row[cols["rank"]])
    name = " ".join(row[cols["scientificName"]].split())
    if rank is not None and name and not is_unknown(name):
        return RANKS.index(rank), name
    return NO_RANK, ""


def load(path: Path, names: set[NameKey], progress: Callable | None = None) -> BackboneResult:
    """Candidates for the wanted (name, rank) keys (record = the usage's ``col:ID``)."""
    builder = TreeBuilder()
    wanted_ids: dict[int, str] = {}  # file row -> ID, for wanted rows
    name_rows: dict[NameKey, list[int]] = {}
    synonym_of: dict[str, str] = {}  # wanted synonym ID -> its accepted taxon's ID
    for n, row, cols in _rows(path, progress):
        usage = row[cols["ID"]].strip()
        parent = row[cols["parentID"]].strip()
        status = _status(row[cols["status"]])
        r, name = _rank_and_name(row, cols) if status != _SKIP else (NO_RANK, "")
        if r != NO_RANK and (key := name_key(name, r)) in names:
            name_rows.setdefault(key, []).append(n)
            wanted_ids[n] = usage
            if status == SYNONYM_ROW:
                synonym_of[usage] = parent
        if status == SYNONYM_ROW:  # parentID is the accepted taxon
            builder.add(usage, "", parent or NO_ACCEPTED, r, 0, ACCEPTED_STATUS)
        elif status == _SKIP:
            builder.add(usage, "", "", NO_RANK, 0, ACCEPTED_STATUS)
        else:
            builder.add(usage, parent, "", r, 0, status)
    rows = len(builder)
    tree, canon = builder.finish(wanted_ids)
    name_nodes = {key: [int(canon[n]) for n in ns] for key, ns in name_rows.items()}
    wanted = wanted_rows(tree, canon, (i for ns in name_nodes.values() for i in ns))
    if wanted is not None:  # the second pass: names on the wanted lineages
        for n, row, cols in _rows(path, None):
            if wanted[n]:
                r, name = _rank_and_name(row, cols)
                if r != NO_RANK:
                    tree.name[int(canon[n])] = name
    del canon
    result = BackboneResult(rows=rows)
    walker = Walker(tree, COL)
    for key, nodes in name_nodes.items():
        for i in nodes:
            cand = walker.candidate(i, "name")
            if cand is None:
                continue
            add_candidate(result.by_name, key, cand)
            if cand.how == SYNONYM:
                result.accepted_of[cand.record] = synonym_of.get(cand.record, "")
    prefer_accepted(result.by_name)
    return result


def load_vernacular(path: Path, ids: set[str]) -> dict[str, str]:
    """Taxon ID -> its English common name (the preferred one, else the first listed),
    for the wanted IDs only."""
    best: dict[str, tuple[int, str]] = {}
    with table(path, VERN_REQUIRED, what=VERN_WHAT, delimiter="\t", prefix=PREFIX) as (
        cols,
        body,
    ):
        c_id, c_name, c_lang = cols["taxonID"], cols["name"], cols["language"]
        c_pref = cols.get("preferred")
        for row in body:
            taxon = cell(row, c_id)
            if taxon not in ids or cell(row, c_lang).lower() not in ENGLISH:
                continue
            name = " ".join(cell(row, c_name).split())
            if not name:
                continue
            score = 0 if cell(row, c_pref).lower() in TRUE else 1
            old = best.get(taxon)
            if old is None or score < old[0]:
                best[taxon] = (score, name)
    return {taxon: name for taxon, (_, name) in best.items()}
