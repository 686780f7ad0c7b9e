"""GBIF Backbone Taxonomy DwC-A: ``backbone/Taxon.tsv`` and ``backbone/VernacularName.tsv``.

Read with the ``csv`` module, not python-dwca-reader: the archive is unpacked (the
layout docs/sources.md gives), its two files are plain tab-separated tables with a
header row, and ``Taxon.tsv`` has ~7M rows, which dwca-reader would turn into a row
object (or a pandas frame) each; streamed as lists, only the wanted rows are kept.

Every row carries its own classification (``kingdom`` ... ``genus``), so an accepted row
answers for its own name at its own rank in one pass. A synonym's row is not trusted for
its lineage (its ``genus`` is the accepted taxon's, its name the synonym's): it points at
its accepted taxon (``acceptedNameUsageID``), whose row is read in a second pass over the
ids alone, only when a wanted name is a synonym. ``taxonomicStatus``: ``accepted`` rows are
taxa; ``doubtful`` ones too, marked provisional (and dropped where the same name is also
accepted, see :func:`~treeoflife.taxonomy.reference.prefer_accepted`); ``synonym``,
``heterotypic synonym``, ``homotypic synonym``, ``proparte synonym`` rows give their
accepted taxon's lineage; ``misapplied`` rows answer for nothing (the name means another
taxon there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from treeoflife.taxonomy.lineage import Lineage, reference_lineage, species_epithet, truncate
from treeoflife.taxonomy.loaders._csv import field as cell
from treeoflife.taxonomy.loaders._csv import table
from treeoflife.taxonomy.ranks import RANK_INDEX, RANKS, rank_name
from treeoflife.taxonomy.reference import (
    GBIF,
    PROVISIONAL,
    SYNONYM,
    BackboneResult,
    Candidate,
    NameKey,
    add_candidate,
    name_key,
    prefer_accepted,
)

WHAT = (
    "a GBIF backbone Taxon.tsv (tab-separated, with taxonID, acceptedNameUsageID, "
    "canonicalName, taxonRank, taxonomicStatus, kingdom ... genus)"
)
HIGHER = ("kingdom", "phylum", "class", "order", "family", "genus")
REQUIRED = (
    "taxonID",
    "acceptedNameUsageID",
    "canonicalName",
    "taxonRank",
    "taxonomicStatus",
    *HIGHER,
)
USED = (*REQUIRED, "specificEpithet", "genericName", "scientificName")  # what is read of a row
VERN_WHAT = (
    "a GBIF backbone VernacularName.tsv (tab-separated, with taxonID, vernacularName, language)"
)
ENGLISH = frozenset({"en", "eng", "english"})
ACCEPTED, DOUBTFUL, SYNONYM_ROW, SKIP = 0, 1, 2, 3


def _status(value: str) -> int:
    v = value.strip().lower()
    if v == "accepted":
        return ACCEPTED
    if v == "doubtful":
        return DOUBTFUL
    if v.endswith("synonym"):
        return SYNONYM_ROW
    return SKIP


def _name(row: list[str], cols: dict[str, int]) -> str:
    name = " ".join(cell(row, cols["canonicalName"]).split())
    return name or " ".join(cell(row, cols.get("scientificName")).split()[:2])


def _lineage(row: list[str], cols: dict[str, int], r: int, name: str) -> Lineage:
    """The row's lineage down to its own rank, from its classification columns."""
    values = {rank: cell(row, cols[rank]) for rank in HIGHER}
    if RANKS[r] == "species":
        values["species"] = cell(row, cols.get("specificEpithet")) or species_epithet(name)
        if not values["genus"]:
            values["genus"] = cell(row, cols.get("genericName")) or name.split()[0]
    lineage = truncate(reference_lineage(values), r)
    if not lineage[r]:  # its own rank's column empty: the row's own name
        own = species_epithet(name) if RANKS[r] == "species" else name
        lineage = lineage[:r] + (own,) + lineage[r + 1 :]
    return lineage


def load(path: Path, names: set[NameKey], progress: Callable | None = None) -> BackboneResult:
    """Candidates for the wanted (name, rank) keys (record = the row's ``taxonID``)."""
    result = BackboneResult()
    pending: list[tuple[NameKey, str, str, str]] = []  # key, synonym id, accepted id, name
    with table(path, REQUIRED, what=WHAT, delimiter="\t", used=USED) as (cols, body):
        c_id, c_rank, c_status = cols["taxonID"], cols["taxonRank"], cols["taxonomicStatus"]
        c_acc = cols["acceptedNameUsageID"]
        for row in progress(body) if progress else body:
            result.rows += 1
            rank = rank_name(cell(row, c_rank))
            if rank is None:
                continue
            r = RANK_INDEX[rank]
            name = _name(row, cols)
            key = name_key(name, r)
            if not name or key not in names:
                continue
            status = _status(cell(row, c_status))
            taxon = cell(row, c_id)
            if status == SYNONYM_ROW:
                accepted = cell(row, c_acc)
                if accepted and accepted != taxon:
                    pending.append((key, taxon, accepted, name))
            elif status != SKIP:
                how = PROVISIONAL if status == DOUBTFUL else "name"
                add_candidate(
                    result.by_name, key, Candidate(_lineage(row, cols, r, name), GBIF, taxon, how)
                )
    if pending:
        accepted_lineage = _accepted_rows(path, {acc for _, _, acc, _ in pending})
        for key, taxon, accepted, name in pending:
            lineage = accepted_lineage.get(accepted)
            if lineage is not None:
                cand = Candidate(lineage, GBIF, taxon, SYNONYM, synonym=name)
                add_candidate(result.by_name, key, cand)
                result.accepted_of[taxon] = accepted
    prefer_accepted(result.by_name)
    return result


def _accepted_rows(path: Path, ids: set[str]) -> dict[str, Lineage]:
    """taxonID -> lineage of the wanted accepted (or doubtful) rows: the second pass."""
    out: dict[str, Lineage] = {}
    with table(path, REQUIRED, what=WHAT, delimiter="\t", used=USED) as (cols, body):
        c_id, c_rank, c_status = cols["taxonID"], cols["taxonRank"], cols["taxonomicStatus"]
        for row in body:
            taxon = cell(row, c_id)
            if taxon not in ids:
                continue
            rank = rank_name(cell(row, c_rank))
            name = _name(row, cols)
            if rank is not None and name and _status(cell(row, c_status)) in (ACCEPTED, DOUBTFUL):
                out[taxon] = _lineage(row, cols, RANK_INDEX[rank], name)
    return out


def load_vernacular(path: Path, ids: set[str]) -> dict[str, str]:
    """taxonID -> its first listed English common name, for the wanted ids only."""
    out: dict[str, str] = {}
    with table(path, ("taxonID", "vernacularName", "language"), what=VERN_WHAT, delimiter="\t") as (
        cols,
        body,
    ):
        c_id, c_name, c_lang = cols["taxonID"], cols["vernacularName"], cols["language"]
        for row in body:
            taxon = cell(row, c_id)
            if taxon not in ids or taxon in out or cell(row, c_lang).lower() not in ENGLISH:
                continue
            name = " ".join(cell(row, c_name).split())
            if name:
                out[taxon] = name
    return out
