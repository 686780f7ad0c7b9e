"""iNaturalist DwC-A ``taxa.csv`` and ``VernacularNames-english.csv``.

Every taxa row carries its own lineage columns (kingdom ... genus, specificEpithet), so a
row answers for its own name at its own rank. Vernacular names join on the taxon id, so
two homonyms never share one; the first English name listed for an id is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.lineage import Lineage, reference_lineage, truncate
from treeoflife.taxonomy.loaders._csv import NotColumnar, field, lowered, selected_rows, table
from treeoflife.taxonomy.ranks import RANK_INDEX, RANKS, rank_name
from treeoflife.taxonomy.reference import INAT, Candidate, NameKey, add_candidate, name_key

TAXA_WHAT = "an iNaturalist DwC-A taxa.csv (with id, kingdom ... genus, specificEpithet, scientificName, taxonRank)"
TAXA_REQUIRED = (
    "id",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "specificEpithet",
    "scientificName",
    "taxonRank",
)
VERN_WHAT = "an iNaturalist DwC-A VernacularNames-english.csv (with id, vernacularName)"


def row_lineage(values: dict[str, str], rank: int) -> Lineage:
    """The row's lineage down to its own rank (iNat fills nothing below it anyway)."""
    lineage = reference_lineage(values)
    return truncate(lineage, rank)


def load_taxa(path: Path, names: set[NameKey]) -> dict[NameKey, list[Candidate]]:
    """(name, rank) -> candidates (record = iNat taxon id), for the wanted keys only.

    Arrow reads the cells and picks the rows whose name may be wanted (:func:`_name_filter`);
    only those become Python rows. A file Arrow reads otherwise than the ``csv`` module
    (ragged rows, bad UTF-8) is read row by row.
    """
    with table(path, TAXA_REQUIRED, what=TAXA_WHAT) as (cols, _body):
        pass  # the header, checked as the row-by-row reader checks it
    try:
        rows = selected_rows(path, cols, TAXA_REQUIRED, _name_filter(names), ("scientificName",))
        return _taxa(rows, cols, names)
    except NotColumnar:
        with table(path, TAXA_REQUIRED, what=TAXA_WHAT) as (cols, body):
            return _taxa(body, cols, names)


def _taxa(
    rows: Iterable[list[str]], cols: dict[str, int], names: set[NameKey]
) -> dict[NameKey, list[Candidate]]:
    """The candidate of each row whose (name, rank) is wanted, in row order."""
    out: dict[NameKey, list[Candidate]] = {}
    c_id, c_name, c_rank = cols["id"], cols["scientificName"], cols["taxonRank"]
    rank_cols = [(r, cols[r]) for r in RANKS[:-1]]
    c_epithet = cols["specificEpithet"]
    for row in rows:
        rank = rank_name(field(row, c_rank))
        if rank is None:
            continue
        r = RANK_INDEX[rank]
        name = field(row, c_name)
        if rank == "species":
            name = " ".join(name.split()[:2])
        key = name_key(name, r)
        if key not in names:
            continue
        values = {k: field(row, i) for k, i in rank_cols}
        values["species"] = field(row, c_epithet)
        if rank == "species" and not values["genus"] and len(name.split()) == 2:
            values["genus"] = name.split()[0]
        lineage = row_lineage(values, r)
        if not lineage[r]:  # the rank column was empty: use the row's own name
            lineage = (
                lineage[:r] + (name.split()[-1] if rank == "species" else name,) + lineage[r + 1 :]
            )
        add_candidate(out, key, Candidate(lineage, INAT, field(row, c_id)))
    return out


def _name_filter(names: set[NameKey]) -> Callable[[dict[str, pa.Array]], np.ndarray]:
    """Which rows of a batch may give a wanted key (a superset of :func:`_taxa`'s test):
    the lower-case name is wanted at some rank, or, for a name of printable ASCII (where
    ``str.split`` splits on spaces alone), its first two words are. Other names, rare,
    are left to Python."""
    wanted = pa.array(sorted({name for name, _r in names}), pa.string())

    def select(batch: dict[str, pa.Array]) -> np.ndarray:
        low = lowered(batch["scientificName"])
        hit = np.asarray(pc.is_in(low, wanted), dtype=bool)
        # names of three words or more (or two spaces): their first two words
        longer = np.flatnonzero(np.asarray(pc.greater(pc.count_substring(low, " "), 1)))
        if len(longer):
            two = pc.replace_substring_regex(
                pc.replace_substring_regex(low.take(longer), " +", " "),
                r"^([^ ]+ [^ ]+) .*$",
                r"\1",
            )
            hit[longer] |= np.asarray(pc.is_in(two, wanted), dtype=bool)
        other = pc.match_substring_regex(batch["scientificName"], "[^ -~]")
        return hit | np.asarray(other, dtype=bool)

    return select


def load_vernacular(path: Path, ids: set[str]) -> dict[str, str]:
    """iNat taxon id -> its first listed English common name, for the wanted ids only."""
    with table(path, ("id", "vernacularName"), what=VERN_WHAT) as (cols, _body):
        pass  # the header, checked as the row-by-row reader checks it
    wanted = pa.array(sorted(ids), pa.string())
    try:
        rows = selected_rows(
            path,
            cols,
            ("id", "vernacularName", "language"),
            lambda b: pc.is_in(b["id"], wanted),
            ("id",),
        )
        return _vernacular(rows, cols, ids)
    except NotColumnar:
        with table(path, ("id", "vernacularName"), what=VERN_WHAT) as (cols, body):
            return _vernacular(body, cols, ids)


def _vernacular(rows: Iterable[list[str]], cols: dict[str, int], ids: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    c_id, c_name, c_lang = cols["id"], cols["vernacularName"], cols.get("language")
    for row in rows:
        taxon = field(row, c_id)
        if taxon not in ids or taxon in out:
            continue
        lang = field(row, c_lang).lower()
        if lang and lang not in ("en", "eng", "english"):
            continue
        name = " ".join(field(row, c_name).split())
        if name:
            out[taxon] = name
    return out
