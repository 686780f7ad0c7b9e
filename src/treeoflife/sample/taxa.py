"""The curated taxa table (``taxa.csv``): real species, real lineages, and where each appears.

Columns: ``key`` ("Genus epithet", or "Order|Family|Genus" for taxa known only above
species), the seven ranks (species = epithet only), ``authority``, ``common_name`` (the
English name), ``eol_common`` (EOL's preferred English name when it differs), ``sources``
(space-separated tokens, ``name=count`` for image sources), and plausible reference ids.

Source tokens: ``eol`` (EOL images of a page that is in the Dynamic Hierarchy), ``eolx``
(one EOL image of a page missing from the hierarchy; only a dirty scraped name), ``inat21``,
``bioscan``, ``tol10m``, ``generic`` (images), ``itis``, ``itis_es`` (ITIS, Spanish
vernacular only), ``inat`` (iNaturalist DwC-A), ``resolved`` (resolved.jsonl),
``seen`` / ``unseen`` (Rare Species lists).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")

# Named hybrids in the table, as the references spell them.
HYBRIDS = {"Mentha piperita", "Salix rubens"}


@dataclass(frozen=True)
class Taxon:
    key: str
    ranks: dict[str, str]
    authority: str
    common_name: str
    eol_common: str
    sources: dict[str, int] = field(default_factory=dict)
    eol_page_id: int | None = None
    itis_tsn: int | None = None
    inat_taxon_id: int | None = None

    @property
    def is_species(self) -> bool:
        return bool(self.ranks["species"])

    @property
    def binomial(self) -> str:
        return f"{self.ranks['genus']} {self.ranks['species']}"

    @property
    def hybrid(self) -> bool:
        return self.is_species and self.binomial in HYBRIDS

    def count(self, token: str) -> int:
        return self.sources.get(token, 0)

    def has(self, token: str) -> bool:
        return token in self.sources


def _int(v: str) -> int | None:
    return int(v) if v.strip() else None


def load_taxa() -> list[Taxon]:
    """The table, in file order."""
    text = resources.files("treeoflife.sample").joinpath("taxa.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        sources = {}
        for tok in row["sources"].split():
            name, _, n = tok.partition("=")
            sources[name] = int(n) if n else 1
        out.append(
            Taxon(
                key=row["key"],
                ranks={r: row[r] for r in RANKS},
                authority=row["authority"],
                common_name=row["common_name"],
                eol_common=row["eol_common"],
                sources=sources,
                eol_page_id=_int(row["eol_page_id"]),
                itis_tsn=_int(row["itis_tsn"]),
                inat_taxon_id=_int(row["inat_taxon_id"]),
            )
        )
    return out
