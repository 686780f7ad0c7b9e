"""What a label says, cleaned: given ranks with how each was cleaned, and the names to look up.

Built once per distinct label from the ``labels`` table's ``given`` JSON (eol: page_id;
inat21/tol10m/bioscan/generic: ranks, maybe a name and a common name).
"""

from __future__ import annotations

import marshal
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from itertools import islice
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from treeoflife import builddb
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


# genus before species: a species value may repeat its genus
_ORDER = tuple(r for r in RANKS if r != "species") + ("species",)
_INDEX = {r: i for i, r in enumerate(RANKS)}


class Cleaning:
    """What cleaning makes of each distinct value, worked out once for all the labels:
    labels repeat the same higher ranks, and :func:`label_text` and
    :func:`clean_rank_value` are pure."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.values: dict[tuple[str, str | None, str], tuple[str, str]] = {}

    def text(self, value: object) -> str:
        """:func:`label_text` of a value."""
        if type(value) is not str:  # True and 1 are one dict key; their texts differ
            return label_text(value)
        out = self.texts.get(value)
        if out is None:
            out = self.texts[value] = label_text(value)
        return out

    def clean(self, rank: str, value: str | None, genus: str) -> tuple[str, str]:
        """:func:`clean_rank_value` of a value (the genus matters to species only)."""
        key = (rank, value, genus if rank == "species" else "")
        out = self.values.get(key)
        if out is None:
            out = self.values[key] = clean_rank_value(rank, value, genus)
        return out


def make_query(
    label_key: str, source: str, given: Mapping[str, Any], cleaning: Cleaning | None = None
) -> LabelQuery:
    """Clean a label's given ranks (genus before species, which may repeat it).

    ``cleaning`` carries what earlier labels' values cleaned to (one per batch of labels).
    """
    c = cleaning or Cleaning()
    ranks = given.get("ranks") or {}
    values: dict[str, str] = {}
    notes: dict[int, str] = {}
    for rank in _ORDER:
        text = c.text(ranks[rank]) if rank in ranks else None
        value, note = c.clean(rank, text, values.get("genus", ""))
        values[rank] = value
        if note:
            notes[_INDEX[rank]] = note
    page = given.get("page_id")
    return LabelQuery(
        label_key=label_key,
        source=sys.intern(source),  # a handful of distinct values over 400K-odd labels
        given=tuple(values[r] for r in RANKS),
        notes=notes or NO_NOTES,
        page_id=int(page) if page not in (None, "") else None,
        name=c.text(given.get("name")),
        common=c.text(given.get("common")),
    )


# labels cleaned at a time: each batch's given JSON, parses and cleaned values are
# dropped before the next, so a build's ~500K labels never hold them all at once
QUERY_BATCH = 50_000


def _query_batches(
    labels: Iterable[tuple[str, str, Mapping[str, Any]]],
) -> Iterator[list[LabelQuery]]:
    """The labels' queries, a batch of QUERY_BATCH labels at a time.

    The name cache is emptied after each batch: it holds a parse of every distinct rank
    value, which nothing needs again once the queries hold their cleaned values and own
    names (a full build's labels leave several hundred thousand parses in it).
    """
    labels = iter(labels)
    while batch := list(islice(labels, QUERY_BATCH)):
        cleaning = Cleaning()
        _parse_ahead(batch, cleaning)
        queries = [make_query(key, source, given, cleaning) for key, source, given in batch]
        del batch, cleaning
        names.clear_cache()
        yield queries


class StoredQueries:
    """Every label's query, made a batch at a time and kept on disk, read back in order
    each time it is iterated.

    A full build's ~500K queries took ~300 MiB as objects, held while every reference was
    read; here they wait in a private temporary SQLite database
    (:func:`treeoflife.builddb.scratch`), one ``marshal``-ed row each, and the name is not
    parsed again when a query is read back.
    """

    def __init__(self, labels: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        self.db = builddb.scratch()
        self.db.execute("CREATE TABLE queries (packed BLOB)")  # rowid: the labels' order
        self.count = 0
        for batch in _query_batches(labels):
            with self.db:
                self.db.executemany("INSERT INTO queries VALUES (?)", ((_pack(q),) for q in batch))
            self.count += len(batch)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[LabelQuery]:
        rows = self.db.execute("SELECT packed FROM queries ORDER BY rowid")
        return (_unpack(packed) for (packed,) in rows)

    def close(self) -> None:
        self.db.close()


# every field of a CleanName, in its order: a field added to the class is stored too
_PARSED_FIELDS = attrgetter(*(f.name for f in fields(names.CleanName)))


def _pack(q: LabelQuery) -> bytes:
    parsed = _PARSED_FIELDS(q.parsed)
    notes = dict(q.notes) if q.notes else None
    return marshal.dumps(
        (q.label_key, q.source, q.given, notes, q.page_id, q.name, q.common, parsed)
    )


def _unpack(packed: bytes) -> LabelQuery:
    """The query :func:`_pack` packed, its name's parse restored, not redone."""
    key, source, given, notes, page_id, name, common, parsed = marshal.loads(packed)
    q = LabelQuery.__new__(LabelQuery)
    q.label_key, q.source, q.given = key, sys.intern(source), given
    q.notes = notes or NO_NOTES
    q.page_id, q.name, q.common = page_id, name, common
    q.parsed = names.CleanName(*parsed)
    return q


_PARSED_RANKS = frozenset(RANKS[:-1])  # species values are parsed under their genus


def _parse_ahead(labels: list[tuple[str, str, Mapping[str, Any]]], cleaning: Cleaning) -> None:
    """Parse, in batches, the names :func:`make_query` will parse: every given name and
    rank value, then each species value under its genus as given (a genus that cleaning
    changes leaves a name to parse one at a time). Only the speed depends on this."""
    species = []
    values: list[str] = []
    text = cleaning.text
    for _key, _source, given in labels:
        ranks = {r: text(v) for r, v in (given.get("ranks") or {}).items()}
        values.append(text(given.get("name")))
        values.extend(v for r, v in ranks.items() if v and r in _PARSED_RANKS)
        if ranks.get("species"):
            species.append((ranks["species"], ranks.get("genus") or ""))
    names.parse_names(values)
    names.parse_names(species_name(value, genus) for value, genus in species)
