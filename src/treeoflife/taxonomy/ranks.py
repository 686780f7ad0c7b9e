"""The seven ranks of a TreeOfLife-10M label, and what counts as "unknown": one place."""

from __future__ import annotations

import re

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


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\s]+")


def label_text(value: object) -> str:
    """A label value as text, with control characters (NUL, tab, CR, ...) made spaces,
    runs of spaces made one, and no space at either end.

    Stripped, not rejected: a control character in a name is an artifact of how a file was
    written (a spreadsheet cell's tab or line break, a C string's NUL), not part of the
    name, and the rest of the label is what the source meant; rejecting the image would
    drop it for formatting. Left in, it breaks ``catalog.csv`` rows and the one-line
    captions. Replaced by a space, so ``Morus\talba`` stays two words. Every label value a
    source gives and every value a label resolves to passes through here.
    """
    if value is None:
        return ""
    text = str(value)
    # printable text has no control character and no space but " " (what _CONTROL finds
    # besides runs of spaces): most values, returned without the regex
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return _CONTROL.sub(" ", text).strip()


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
