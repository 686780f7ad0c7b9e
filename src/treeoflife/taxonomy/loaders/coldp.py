"""Catalogue of Life ColDP ``NameUsage.tsv`` and ``VernacularName.tsv`` (docs/sources.md).

The form ChecklistBank exports (the COL release and the eXtended Release alike): one
usage per row, tab-separated, headers ``col:ID``, ``col:parentID``, ``col:status``,
``col:scientificName`` (without authorship), ``col:rank``; the ``col:`` prefix is
optional. The classification is parent-linked (the denormalised ``col:kingdom`` ...
``col:genus`` columns are empty in COL's own exports), so the file is read like the EOL
DH: a tree of arrays, names only on the wanted lineages (``_tree``), its columns parsed
by Arrow a batch at a time (a file Arrow reads otherwise than the ``csv`` module is read
row by row, with the same result).

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.loaders._csv import (
    NotColumnar,
    coded,
    collapsed,
    column_batches,
    lowered,
    rows_with_id,
    table,
)
from treeoflife.taxonomy.loaders._csv import field as cell
from treeoflife.taxonomy.loaders._tree import (
    ACCEPTED_STATUS,
    NO_RANK,
    PROVISIONAL_STATUS,
    TreeBuilder,
    Walker,
    rank_code,
    wanted_rows,
)
from treeoflife.taxonomy.ranks import UNKNOWN_VALUES, is_unknown
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
_SKIP = 255  # a uint8, as the columnar pass codes statuses


SYNONYM_ROW = 2
NO_ACCEPTED = "\x00"  # a synonym without parentID: an id no row has, so no lineage


_FIRST_PASS = ("ID", "parentID", "status", "scientificName", "rank")  # ID first: rows with one


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


def _rank_and_name(rank: str, scientific_name: str) -> tuple[int, str]:
    """(rank code, name) of a usage's rank and name cells; NO_RANK without both."""
    r = rank_code(rank)
    name = " ".join(scientific_name.split())
    if r != NO_RANK and name and not is_unknown(name):
        return r, name
    return NO_RANK, ""


@dataclass
class _FirstPass:
    """What the first pass over the file keeps: the tree's rows and the rows the labels
    want."""

    builder: TreeBuilder = field(default_factory=TreeBuilder)
    wanted_ids: dict[int, str] = field(default_factory=dict)  # file row -> ID, wanted rows
    name_rows: dict[NameKey, list[int]] = field(default_factory=dict)
    synonym_of: dict[str, str] = field(default_factory=dict)  # wanted synonym ID -> accepted
    # the header's columns when Arrow read the file (so does the second pass), else None
    columns: dict[str, int] | None = None


def load(path: Path, names: set[NameKey], progress: Callable | None = None) -> BackboneResult:
    """Candidates for the wanted (name, rank) keys (record = the usage's ``col:ID``).

    Read by Arrow (:func:`_columnar_pass`) unless the file needs the row-by-row reader.
    """
    try:
        first = _columnar_pass(path, names)
    except NotColumnar:
        first = _row_pass(path, names, progress)
    rows = len(first.builder)
    tree, canon = first.builder.finish(first.wanted_ids)
    name_nodes = {key: [int(canon[n]) for n in ns] for key, ns in first.name_rows.items()}
    wanted = wanted_rows(tree, canon, (i for ns in name_nodes.values() for i in ns))
    if wanted is not None:  # the second pass: names on the wanted lineages
        for n, name, r in _lineage_names(path, wanted, first.columns):
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
                result.accepted_of[cand.record] = first.synonym_of.get(cand.record, "")
    prefer_accepted(result.by_name)
    return result


def _row_pass(path: Path, names: set[NameKey], progress: Callable | None) -> _FirstPass:
    """The first pass row by row (``csv``): for files the columnar reader cannot take."""
    first = _FirstPass()
    builder = first.builder
    for n, row, cols in _rows(path, progress):
        usage = row[cols["ID"]].strip()
        parent = row[cols["parentID"]].strip()
        status = _status(row[cols["status"]])
        r, name = (
            _rank_and_name(row[cols["rank"]], row[cols["scientificName"]])
            if status != _SKIP
            else (NO_RANK, "")
        )
        if r != NO_RANK and (key := name_key(name, r)) in names:
            first.name_rows.setdefault(key, []).append(n)
            first.wanted_ids[n] = usage
            if status == SYNONYM_ROW:
                first.synonym_of[usage] = parent
        if status == SYNONYM_ROW:  # parentID is the accepted taxon
            builder.add(usage, "", parent or NO_ACCEPTED, r, 0, ACCEPTED_STATUS)
        elif status == _SKIP:
            builder.add(usage, "", "", NO_RANK, 0, ACCEPTED_STATUS)
        else:
            builder.add(usage, parent, "", r, 0, status)
    return first


def _columnar_pass(path: Path, names: set[NameKey]) -> _FirstPass:
    """The first pass over Arrow batches: the same rows, codes and wanted rows as
    :func:`_row_pass`, with Python only for the rows the labels want (and any odd id).

    Raises NotColumnar when the file needs the row-by-row reader.
    """
    with table(path, REQUIRED, what=WHAT, delimiter="\t", prefix=PREFIX) as (columns, _body):
        pass  # the header, checked as the row-by-row reader checks it
    first = _FirstPass(columns=columns)
    wanted_names = pa.array(sorted({name for name, _r in names}), pa.string())
    unknown = pa.array(sorted(UNKNOWN_VALUES), pa.string())
    start = 0  # file row number of the batch's first row
    for cols in column_batches(path, columns, _FIRST_PASS, delimiter="\t"):
        usage, parent = cols["ID"], cols["parentID"]
        count = len(usage)
        status = coded(cols["status"], _status)
        synonym = status == SYNONYM_ROW
        low = lowered(collapsed(cols["scientificName"]))
        known = ~np.asarray(pc.is_in(low, unknown), dtype=bool)  # "" is an unknown value
        rank = np.where(known & (status != _SKIP), coded(cols["rank"], rank_code), NO_RANK)
        rank = rank.astype(np.uint8)
        # rows whose (name, rank) a label wants, in file order
        hits = np.flatnonzero(np.asarray(pc.is_in(low, wanted_names), dtype=bool))
        hits = hits[rank[hits] != NO_RANK]
        for i, low_name, uid, pid in zip(
            hits.tolist(),
            low.take(hits).to_pylist(),
            usage.take(hits).to_pylist(),
            parent.take(hits).to_pylist(),
            strict=True,
        ):
            if (key := (low_name, int(rank[i]))) in names:
                first.name_rows.setdefault(key, []).append(start + i)
                first.wanted_ids[start + i] = uid
                if synonym[i]:
                    first.synonym_of[uid] = pid
        # a taxon's parent; a synonym's parentID is its accepted taxon (NO_ACCEPTED: none)
        taxon = (status == ACCEPTED_STATUS) | (status == PROVISIONAL_STATUS)
        accepted = pc.if_else(pc.equal(parent, ""), NO_ACCEPTED, parent)
        not_self = np.asarray(pc.not_equal(parent, usage), dtype=bool)
        own, par, acc = first.builder.codes.code_columns(
            [
                (usage, np.ones(count, dtype=bool)),
                (parent, taxon & not_self & np.asarray(pc.not_equal(parent, ""), dtype=bool)),
                (accepted, synonym & np.asarray(pc.not_equal(accepted, usage), dtype=bool)),
            ]
        )
        page = np.zeros(count, dtype=np.int64)
        first.builder.extend(own, par, acc, rank, page, np.where(taxon, status, ACCEPTED_STATUS))
        start += count
    return first


def _lineage_names(
    path: Path, wanted: bytes, columns: dict[str, int] | None
) -> Iterator[tuple[int, str, int]]:
    """(file row, name, rank code) of the wanted rows, in file order; read by Arrow when
    the first pass was (``columns``: its header)."""
    if columns is None:
        for n, row, cols in _rows(path, None):
            if wanted[n]:
                r, name = _rank_and_name(row[cols["rank"]], row[cols["scientificName"]])
                yield n, name, r
        return
    flags = np.frombuffer(wanted, dtype=np.uint8)
    start = 0
    for cols in column_batches(path, columns, ("ID", "scientificName", "rank"), delimiter="\t"):
        count = len(cols["ID"])
        rows = np.flatnonzero(flags[start : start + count])
        for i, name, rank in zip(
            rows.tolist(),
            cols["scientificName"].take(rows).to_pylist(),
            cols["rank"].take(rows).to_pylist(),
            strict=True,
        ):
            r, clean = _rank_and_name(rank, name)
            yield start + i, clean, r
        start += count


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
