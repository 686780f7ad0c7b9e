"""What a label says, cleaned: given ranks with how each was cleaned, and the names to look up.

Built once per distinct label from the ``labels`` table's ``given`` JSON (eol: page_id;
inat21/tol10m/bioscan/generic: ranks, maybe a name and a common name).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from treeoflife.taxonomy import names
from treeoflife.taxonomy.lineage import (
    GENUS_INDEX,
    SPECIES_INDEX,
    Lineage,
    clean_rank_value,
    lowest,
    name_at,
    species_name,
)
from treeoflife.taxonomy.ranks import RANKS, label_text
from treeoflife.taxonomy.reference import NameKey, name_key

# a uninomial of unknown rank is looked up at every rank above species
ANY_RANK = tuple(range(SPECIES_INDEX))
# most labels need no note: they share one empty mapping instead of a dict each
NO_NOTES: Mapping[int, str] = MappingProxyType({})


@dataclass(slots=True)
class LabelQuery:
    label_key: str
    source: str
    given: Lineage  # cleaned given ranks
    # rank index -> what cleaning changed
    notes: Mapping[int, str] = field(default_factory=lambda: NO_NOTES)
    page_id: int | None = None
    name: str = ""  # the label's scientific name as given
    common: str = ""  # a common name the source gives (tol10m, generic)
    # the label's own name cleaned, kept here so the name cache can be dropped once every
    # label has its query
    parsed: names.CleanName = field(init=False)

    def __post_init__(self) -> None:
        self.parsed = names.parse_name(self.name)

    def lookups(self, name: str | None = None) -> list[list[NameKey]]:
        """Name keys to try, most specific first; each entry is one alternative (any of its keys)."""
        out: list[list[NameKey]] = []
        parsed = self.parsed if name is None else names.parse_name(name)
        if parsed.kind == names.SPECIES:
            out.append([name_key(parsed.canonical, SPECIES_INDEX)])
        g = self.given
        if g[GENUS_INDEX] and g[SPECIES_INDEX]:
            out.append([name_key(name_at(g, SPECIES_INDEX), SPECIES_INDEX)])
        if parsed.kind == names.HYBRID_FORMULA and parsed.genus or parsed.kind == names.SPECIES:
            out.append([name_key(parsed.genus, GENUS_INDEX)])
        elif parsed.kind in (names.UNINOMIAL, names.SURROGATE) and parsed.uninomial:
            out.append([name_key(parsed.uninomial, r) for r in ANY_RANK])
        low = lowest(g)
        if low == SPECIES_INDEX:
            low = max((i for i in range(SPECIES_INDEX) if g[i]), default=-1)
        if low >= 0:
            out.append([name_key(g[low], low)])
        seen: set[tuple] = set()
        unique = []
        for keys in out:
            if tuple(keys) not in seen:
                seen.add(tuple(keys))
                unique.append(keys)
        return unique

    def keys(self, scraped: str = "") -> set[NameKey]:
        """Every name key this label might look up (for loaders to keep)."""
        out = {k for alt in self.lookups() for k in alt}
        if scraped:
            out |= {k for alt in self.lookups(scraped) for k in alt}
        return out


def make_query(label_key: str, source: str, given: Mapping[str, Any]) -> LabelQuery:
    """Clean a label's given ranks (genus before species, which may repeat it)."""
    ranks = {r: label_text(v) for r, v in (given.get("ranks") or {}).items()}
    values: dict[str, str] = {}
    notes: dict[int, str] = {}
    order = [r for r in RANKS if r != "species"] + ["species"]
    for rank in order:
        value, note = clean_rank_value(rank, ranks.get(rank), values.get("genus", ""))
        values[rank] = value
        if note:
            notes[RANKS.index(rank)] = note
    page = given.get("page_id")
    return LabelQuery(
        label_key=label_key,
        source=sys.intern(source),  # a handful of distinct values over 400K-odd labels
        given=tuple(values[r] for r in RANKS),
        notes=notes or NO_NOTES,
        page_id=int(page) if page not in (None, "") else None,
        name=label_text(given.get("name")),
        common=label_text(given.get("common")),
    )


def make_queries(labels: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[LabelQuery]:
    """The query of every (label key, source, given) label.

    The name cache is emptied afterwards: it holds a parse of every distinct rank value,
    which nothing needs again once the queries hold their cleaned values and own names
    (a full build's labels leave several hundred thousand parses in it).
    """
    labels = list(labels)
    _parse_ahead(labels)
    queries = [make_query(key, source, given) for key, source, given in labels]
    names.clear_cache()
    return queries


def _parse_ahead(labels: list[tuple[str, str, Mapping[str, Any]]]) -> None:
    """Parse, in batches, the names :func:`make_query` will parse: every given name and
    rank value, then each species value under its genus as given (a genus that cleaning
    changes leaves a name to parse one at a time). Only the speed depends on this."""
    species = []
    values: list[str] = []
    for _key, _source, given in labels:
        ranks = {r: label_text(v) for r, v in (given.get("ranks") or {}).items()}
        values.append(label_text(given.get("name")))
        values.extend(str(v).strip() for r, v in ranks.items() if r in RANKS[:-1] and v)
        if ranks.get("species"):
            species.append((str(ranks["species"]).strip(), str(ranks.get("genus") or "").strip()))
    names.parse_names(values)
    names.parse_names(species_name(text, genus) for text, genus in species)
