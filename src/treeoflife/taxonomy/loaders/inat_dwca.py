"""iNaturalist DwC-A ``taxa.csv`` and ``VernacularNames-english.csv``.

Every taxa row carries its own lineage columns (kingdom ... genus, specificEpithet), so a
row answers for its own name at its own rank. Vernacular names join on the taxon id, so
two homonyms never share one; the first English name listed for an id is kept.
"""

from __future__ import annotations

from pathlib import Path

from treeoflife.taxonomy.lineage import Lineage, reference_lineage, truncate
from treeoflife.taxonomy.loaders._csv import field, table
from treeoflife.taxonomy.ranks import RANK_INDEX, RANKS, rank_name
from treeoflife.taxonomy.reference import INAT, Candidate, NameKey, add_candidate, name_key

TAXA_WHAT = "an iNaturalist DwC-A taxa.csv (with id, kingdom ... genus, specificEpithet, scientificName, taxonRank)"
TAXA_REQUIRED = (
    "id",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "specificEpithet",
    "scientificName",
    "taxonRank",
)
VERN_WHAT = "an iNaturalist DwC-A VernacularNames-english.csv (with id, vernacularName)"


def row_lineage(values: dict[str, str], rank: int) -> Lineage:
    """The row's lineage down to its own rank (iNat fills nothing below it anyway)."""
    lineage = reference_lineage(values)
    return truncate(lineage, rank)


def load_taxa(path: Path, names: set[NameKey]) -> dict[NameKey, list[Candidate]]:
    """(name, rank) -> candidates (record = iNat taxon id), for the wanted keys only."""
    out: dict[NameKey, list[Candidate]] = {}
    with table(path, TAXA_REQUIRED, what=TAXA_WHAT) as (cols, body):
        c_id, c_name, c_rank = cols["id"], cols["scientificName"], cols["taxonRank"]
        rank_cols = [(r, cols[r]) for r in RANKS[:-1]]
        c_epithet = cols["specificEpithet"]
        for row in body:
            rank = rank_name(field(row, c_rank))
            if rank is None:
                continue
            r = RANK_INDEX[rank]
            name = field(row, c_name)
            if rank == "species":
                name = " ".join(name.split()[:2])
            key = name_key(name, r)
            if key not in names:
                continue
            values = {k: field(row, i) for k, i in rank_cols}
            values["species"] = field(row, c_epithet)
            if rank == "species" and not values["genus"] and len(name.split()) == 2:
                values["genus"] = name.split()[0]
            lineage = row_lineage(values, r)
            if not lineage[r]:  # the rank column was empty: use the row's own name
                lineage = (
                    lineage[:r]
                    + (name.split()[-1] if rank == "species" else name,)
                    + lineage[r + 1 :]
                )
            add_candidate(out, key, Candidate(lineage, INAT, field(row, c_id)))
    return out


def load_vernacular(path: Path, ids: set[str]) -> dict[str, str]:
    """iNat taxon id -> its first listed English common name, for the wanted ids only."""
    out: dict[str, str] = {}
    with table(path, ("id", "vernacularName"), what=VERN_WHAT) as (cols, body):
        c_id, c_name, c_lang = cols["id"], cols["vernacularName"], cols.get("language")
        for row in body:
            taxon = field(row, c_id)
            if taxon not in ids or taxon in out:
                continue
            lang = field(row, c_lang).lower()
            if lang and lang not in ("en", "eng", "english"):
                continue
            name = " ".join(field(row, c_name).split())
            if name:
                out[taxon] = name
    return out
