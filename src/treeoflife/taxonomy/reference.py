"""What a reference hierarchy contributes: candidates keyed by id or by (name, rank).

Each loader in ``taxonomy.loaders`` reads one published file and returns candidates for
only the ids and names the build's labels need, so memory follows the labels, not the
size of the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from treeoflife.taxonomy.lineage import Lineage

# (lower-case canonical name, rank index): "puma concolor" at species, "morus" at genus
NameKey = tuple[str, int]

# reference names, as they appear in provenance
EOL_DH = "eol_dh"
EOL_SCRAPED = "eol_scraped"
EOL_VERNACULAR = "eol_vernacular"
ITIS = "itis"
INAT = "inat_taxa"
INAT_VERNACULAR = "inat_vernacular"
RESOLVED = "resolved"

# order in which name references are trusted for a lineage (first = most trusted)
NAME_PRIORITY: tuple[str, ...] = (EOL_DH, ITIS, INAT, RESOLVED)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One lineage a reference offers for an id or a name, and where it came from."""

    lineage: Lineage
    source: str  # reference name (EOL_DH, ITIS, ...)
    record: str  # the record's id in that reference (taxonID, TSN, iNat id, source title)
    how: str = "name"  # "id" (by page id), "name", "synonym" (a synonym's accepted taxon)
    common: str = ""  # English common name the record itself carries (ITIS chains)
    page_id: int | None = None  # the EOL page of the record (DH), for EOL common names


def name_key(name: str, rank_index: int) -> NameKey:
    return (name.strip().lower(), rank_index)


def add_candidate(index: dict[NameKey, list[Candidate]], key: NameKey, cand: Candidate) -> None:
    """Append a candidate unless the same record already offers the same lineage."""
    found = index.setdefault(key, [])
    if not any(c.lineage == cand.lineage and c.record == cand.record for c in found):
        found.append(cand)
