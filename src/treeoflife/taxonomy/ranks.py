"""The seven ranks of a TreeOfLife-10M label, and what counts as "unknown": one place."""

from __future__ import annotations

RANKS: tuple[str, ...] = ("kingdom", "phylum", "class", "order", "family", "genus", "species")

# Values that sources use for "we do not know this rank" (compared case-insensitively,
# after stripping whitespace). A rank with one of these values is empty.
UNKNOWN_VALUES: frozenset[str] = frozenset(
    {
        "",
        "unknown",
        "(unidentified)",
        "unidentified",
        "not_classified",
        "pleasehelp",
        "none",
        "null",
        "nan",
        "n/a",
        "na",
        "incertae sedis",
        "incertae_sedis",
    }
)

# Kingdom names as sources spell them -> the kingdom TreeOfLife-10M uses.
KINGDOM_SYNONYMS: dict[str, str] = {
    "animalia": "Animalia",
    "metazoa": "Animalia",
    "animals": "Animalia",
    "plantae": "Plantae",
    "viridiplantae": "Plantae",
    "chloroplastida": "Plantae",
    "archaeplastida": "Plantae",
    "plants": "Plantae",
    "fungi": "Fungi",
    "chromista": "Chromista",
    "protozoa": "Protozoa",
    "bacteria": "Bacteria",
    "archaea": "Archaea",
    "viruses": "Viruses",
}


def is_unknown(value: object) -> bool:
    """True when a source's rank value means "not known"."""
    if value is None:
        return True
    return str(value).strip().lower() in UNKNOWN_VALUES


def normalise_kingdom(value: str) -> str:
    """A kingdom name in TreeOfLife-10M spelling; unknown spellings are kept, capitalised."""
    v = value.strip()
    return KINGDOM_SYNONYMS.get(v.lower(), v[:1].upper() + v[1:].lower())


RANK_INDEX: dict[str, int] = {r: i for i, r in enumerate(RANKS)}

# Rank names as references spell them -> one of RANKS (ITIS says "Division" for plant phyla).
RANK_ALIASES: dict[str, str] = {
    **{r: r for r in RANKS},
    "regnum": "kingdom",
    "division": "phylum",
    "divisio": "phylum",
    "classis": "class",
    "ordo": "order",
    "familia": "family",
}


def rank_name(value: str) -> str | None:
    """One of RANKS for a reference's rank label (any case), or None for other ranks."""
    return RANK_ALIASES.get(value.strip().lower())
