"""Seven-rank lineages: how rank values are cleaned, compared and keyed.

A lineage is a tuple of the seven rank values (``""`` = unknown), kingdom in
TreeOfLife-10M spelling and species as the epithet only (``bassanus``, as the
TreeOfLife-10M catalog has it). Source values go through :func:`clean_rank_value`
(gnparser, once per unique value); reference values, which are already canonical, go
through the cheap :func:`reference_lineage` so millions of rows load fast.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from treeoflife.taxonomy import names
from treeoflife.taxonomy.ranks import RANKS, is_unknown, normalise_kingdom

Lineage = tuple[str, ...]
EMPTY: Lineage = ("",) * len(RANKS)
SPECIES_INDEX = len(RANKS) - 1
GENUS_INDEX = len(RANKS) - 2


def clean_rank_value(rank: str, value: object, genus: str = "") -> tuple[str, str]:
    """(clean value, note) for a rank value a source gave; note says what changed.

    Species values may be an epithet (``bassanus``) or a full name (``Bombus affinis
    Cresson``); either way the epithet is returned, or "" for ``sp.``/``cf.``/placeholders.
    """
    if is_unknown(value):
        return "", "" if value is None or not str(value).strip() else "unknown value"
    text = str(value).strip()
    if rank == "species":
        return _clean_species(text, genus)
    parsed = names.parse_name(text)
    if parsed.kind == names.UNINOMIAL:
        word = parsed.uninomial
    elif parsed.kind == names.SPECIES and rank == "genus":
        word = parsed.genus
    else:
        return "", f"not a {rank} name ({parsed.kind})"
    if rank == "kingdom":
        word = normalise_kingdom(word)
    return word, "" if word == text else "normalised"


def species_name(text: str, genus: str) -> str:
    """The name a species value is parsed as: itself when it is a full name (``Bombus
    affinis Cresson, 1863``), else the epithet under its genus (``bassanus``, ``cf. flava``,
    ``sp.``)."""
    words = text.split()
    if len(words) >= 2 and words[0][:1].isupper() and words[0].rstrip(".") not in ("X", "×"):
        return text
    return f"{genus or 'Genus'} {text}"


def _clean_species(text: str, genus: str) -> tuple[str, str]:
    words = text.split()
    parsed = names.parse_name(species_name(text, genus))
    if parsed.kind != names.SPECIES:
        return "", parsed.note or f"not a species ({parsed.kind})"
    if genus and parsed.genus != genus and len(words) >= 2 and words[0] != genus:
        return (
            parsed.epithet,
            f"species given as {parsed.genus} {parsed.epithet} under genus {genus}",
        )
    return parsed.epithet, "" if parsed.epithet == text else "normalised"


def reference_lineage(values: Mapping[str, str]) -> Lineage:
    """A lineage from a reference row's rank -> name mapping (canonical names; cheap).

    The names are interned: a reference's rows repeat the same higher names thousands of
    times, and every candidate a loader keeps holds its lineage.
    """
    return tuple(reference_value(rank, values.get(rank)) for rank in RANKS)


def reference_value(rank: str, value: str | None) -> str:
    """One rank's value of :func:`reference_lineage`."""
    v = (value or "").strip()
    if is_unknown(v):
        v = ""
    elif rank == "kingdom":
        v = normalise_kingdom(v)
    elif rank == "species":
        v = species_epithet(v)
    return sys.intern(v)


class ReferenceLineages:
    """:func:`reference_lineage` of rows given as the seven cells, each distinct cell
    worked out once: a reference's rows repeat the same higher names."""

    def __init__(self) -> None:
        self.memo: list[dict[str, str]] = [{} for _ in RANKS]

    def lineage(self, cells: Sequence[str]) -> Lineage:
        out = []
        for memo, rank, cell in zip(self.memo, RANKS, cells, strict=True):
            value = memo.get(cell)
            if value is None:
                value = memo[cell] = reference_value(rank, cell)
            out.append(value)
        return tuple(out)


def species_epithet(value: str) -> str:
    """The epithet of a canonical species name: ``Puma concolor`` -> ``concolor``.

    Named hybrids written with the sign (``Mentha × piperita``) give ``piperita``.
    """
    words = [w for w in value.replace("×", " ").split() if w not in ("x", "X")]
    if len(words) >= 2 and words[0][:1].isupper():
        return words[1]
    return words[0] if words else ""


def lowest(lineage: Lineage) -> int:
    """Index of the lowest known rank, or -1 when nothing is known."""
    for i in range(len(lineage) - 1, -1, -1):
        if lineage[i]:
            return i
    return -1


def truncate(lineage: Lineage, index: int) -> Lineage:
    """The lineage down to rank ``index`` (inclusive); lower ranks become unknown."""
    return lineage[: index + 1] + ("",) * (len(RANKS) - index - 1)


def name_at(lineage: Lineage, index: int) -> str:
    """The name a reference would list the taxon at ``index`` under (``Genus epithet`` for species)."""
    if index == SPECIES_INDEX:
        return f"{lineage[GENUS_INDEX]} {lineage[SPECIES_INDEX]}" if lineage[GENUS_INDEX] else ""
    return lineage[index]


def common_key(lineage: Lineage) -> tuple[str, int, str] | None:
    """The key common names are joined on: (kingdom, lowest rank, its name).

    The kingdom is part of the key so two homonyms (the bird genus Morus and the plant
    genus Morus) never share a common name; without a kingdom there is no key.
    """
    index = lowest(lineage)
    if index <= 0 or not lineage[0]:
        return None
    name = name_at(lineage, index)
    return (lineage[0], index, name.lower()) if name else None


def same(a: str, b: str) -> bool:
    return a.lower() == b.lower()
