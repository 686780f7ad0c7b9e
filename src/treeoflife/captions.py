"""The texts of a sample, exactly as TreeOfLife-10M has them: one place for every template.

BioCLIP trains on these member names, so names and wording must not drift.
"""

from __future__ import annotations

from collections.abc import Mapping

from treeoflife.taxonomy.ranks import RANKS

# member name (without ".txt") in the order TreeOfLife-10M lists them
NAME_MEMBERS: tuple[str, ...] = ("scientific_name", "taxonomic_name", "common_name")
CAPTION_MEMBERS: tuple[str, ...] = (
    "sci",
    "com",
    "taxon",
    "taxonTag",
    "sci_com",
    "taxon_com",
    "taxonTag_com",
)


def scientific_name(ranks: Mapping[str, str]) -> str:
    """``Genus species`` when both are known, else the lowest known rank's name."""
    genus, species = ranks.get("genus", ""), ranks.get("species", "")
    if genus and species:
        return f"{genus} {species}"
    for rank in reversed(RANKS[:-1]):
        if ranks.get(rank):
            return ranks[rank]
    return ""


def taxonomic_name(ranks: Mapping[str, str]) -> str:
    """The seven ranks, blanks skipped: ``Animalia Chordata Aves ... Morus bassanus``."""
    return " ".join(ranks[r] for r in RANKS if ranks.get(r))


def tagged_name(ranks: Mapping[str, str]) -> str:
    """``kingdom Animalia phylum Chordata ...``, blanks skipped."""
    return " ".join(f"{r} {ranks[r]}" for r in RANKS if ranks.get(r))


def common_name(ranks: Mapping[str, str], common: str) -> str:
    """The common name a sample is captioned and cataloged with: the vernacular name, else
    the scientific name, else the taxonomic name (the reference's ``common_name.txt``)."""
    return common or scientific_name(ranks) or taxonomic_name(ranks)


def sample_texts(ranks: Mapping[str, str], common: str) -> dict[str, str]:
    """The ten text members of a sample, keyed by member name without ``.txt``.

    Common falls back to scientific, then taxonomic, as in the reference.
    """
    sci = scientific_name(ranks)
    tax = taxonomic_name(ranks)
    tag = tagged_name(ranks)
    com = common_name(ranks, common)
    return {
        "scientific_name": sci,
        "taxonomic_name": tax,
        "common_name": com,
        "sci": f"a photo of {sci}.",
        "com": f"a photo of {com}.",
        "taxon": f"a photo of {tax}.",
        "taxonTag": f"a photo of {tag}.",
        "sci_com": f"a photo of {sci} with common name {com}.",
        "taxon_com": f"a photo of {tax} with common name {com}.",
        "taxonTag_com": f"a photo of {tag} with common name {com}.",
    }
