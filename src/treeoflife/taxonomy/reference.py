"""What a reference hierarchy contributes: candidates keyed by id or by (name, rank).

Each loader in ``taxonomy.loaders`` reads one published file and returns candidates for
only the ids and names the build's labels need, so memory follows the labels, not the
size of the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from treeoflife.config import TaxonomyConfig
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
COL = "col"
COL_VERNACULAR = "col_vernacular"
GBIF = "gbif"
GBIF_VERNACULAR = "gbif_vernacular"

# ``[taxonomy] references`` names -> the reference name candidates carry in provenance
REFERENCE_NAMES: dict[str, str] = {
    "eol_dh": EOL_DH,
    "itis": ITIS,
    "inat": INAT,
    "resolved": RESOLVED,
    "col": COL,
    "gbif": GBIF,
}
# order in which name references are trusted for a lineage (first = most trusted) when
# nothing sets it: the default of ``[taxonomy] references``
NAME_PRIORITY: tuple[str, ...] = tuple(REFERENCE_NAMES[n] for n in TaxonomyConfig().references)

# how a candidate was found, besides "id" (by EOL page id) and "name"
SYNONYM = "synonym"  # the name is a synonym: the lineage is its accepted taxon's
PROVISIONAL = "provisional"  # the reference accepts the name only provisionally (doubtful)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One lineage a reference offers for an id or a name, and where it came from."""

    lineage: Lineage
    source: str  # reference name (EOL_DH, ITIS, ...)
    record: str  # the record's id in that reference (taxonID, TSN, iNat id, source title)
    how: str = "name"  # "id" (by page id), "name", SYNONYM, PROVISIONAL
    common: str = ""  # English common name the record itself carries (ITIS chains)
    page_id: int | None = None  # the EOL page of the record (DH), for EOL common names
    synonym: str = ""  # for SYNONYM: the synonym's name as the reference spells it


@dataclass
class BackboneResult:
    """What a backbone loader (ColDP, GBIF) gives: candidates per wanted name, and the
    accepted taxon of each synonym candidate (the common names are looked up under it)."""

    by_name: dict[NameKey, list[Candidate]] = field(default_factory=dict)
    accepted_of: dict[str, str] = field(default_factory=dict)  # synonym record -> accepted id
    rows: int = 0


def name_key(name: str, rank_index: int) -> NameKey:
    return (name.strip().lower(), rank_index)


def add_candidate(index: dict[NameKey, list[Candidate]], key: NameKey, cand: Candidate) -> None:
    """Append a candidate unless the same record already offers the same lineage."""
    found = index.setdefault(key, [])
    if not any(c.lineage == cand.lineage and c.record == cand.record for c in found):
        found.append(cand)


def prefer_accepted(index: dict[NameKey, list[Candidate]]) -> None:
    """Drop a name's provisional candidates where the same reference also accepts it.

    A backbone lists the same name as accepted in one place and doubtful (GBIF) or
    provisionally accepted (ColDP) in another; the reference's own judgement is that the
    accepted usage is the one the name means. A provisional usage alone stays a candidate,
    marked provisional in the provenance. Applied per reference, so one backbone's doubt
    never hides another's candidate.
    """
    for key, cands in index.items():
        if any(c.how == PROVISIONAL for c in cands) and any(c.how != PROVISIONAL for c in cands):
            index[key] = [c for c in cands if c.how != PROVISIONAL]
