"""The labels a correct build gives, computed straight from the taxa table by the plainest
rules (no name parsing, no hierarchy walking), so a wrong build cannot agree by accident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from treeoflife.sample.taxa import RANKS, Taxon


def label_of(t: Taxon | None, upto: str = "species", common: str = "") -> dict[str, str]:
    """The seven ranks of ``t`` down to ``upto`` (the rest empty), and ``common`` if the label
    reaches species."""
    lab = dict.fromkeys(RANKS, "")
    if t is not None:
        for r in RANKS:
            lab[r] = t.ranks[r]
            if r == upto:
                break
    lab["common"] = common if lab["species"] else ""
    return lab


def empty_label() -> dict[str, str]:
    return dict.fromkeys((*RANKS, "common"), "")


def label_status(lab: dict[str, str]) -> str:
    return "resolved" if all(lab[r] for r in RANKS) else "partial"


@dataclass(frozen=True)
class CommonNames:
    """The English common name a build gives a species: the first of ITIS, iNaturalist and the
    EOL vernacular list (by page, for pages in the Dynamic Hierarchy) that has one. The three
    tables hold the names exactly as the writers of those references write them."""

    itis: dict[str, str]
    inat: dict[str, str]
    eol: dict[int | None, str]

    @classmethod
    def from_species(cls, species: Sequence[Taxon]) -> CommonNames:
        return cls(
            itis={
                t.binomial: t.common_name
                for t in species
                if t.has("itis") and t.common_name and not t.has("itis_es")
            },
            inat={
                t.binomial: t.common_name
                for t in species
                if (t.has("inat") or t.has("inat21")) and t.common_name
            },
            eol={
                t.eol_page_id: (t.eol_common or t.common_name)
                for t in species
                if not t.has("eolx") and (t.eol_common or t.common_name)
            },
        )

    def of(self, t: Taxon, eol_page: int | None = None) -> str:
        b = t.binomial
        return (
            self.itis.get(b) or self.inat.get(b) or (self.eol.get(eol_page, "") if eol_page else "")
        )
