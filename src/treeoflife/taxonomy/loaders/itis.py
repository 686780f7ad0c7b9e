"""ITIS ``species_level_taxonomy_chains.csv``: lineages and English common names by name.

Each row is one species-level chain with the seven rank columns (Species holds
``Genus species``). A row answers for its species and, truncated, for each of its higher
names, so a genus lookup finds every chain through that genus. The English common name
is the first of ``terminal_vernacular`` whose ``terminal_vernacular_lang`` entry is
English (both comma-separated, pairwise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.lineage import (
    GENUS_INDEX,
    SPECIES_INDEX,
    Lineage,
    ReferenceLineages,
    name_at,
    reference_lineage,
    species_epithet,
    truncate,
)
from treeoflife.taxonomy.loaders._csv import NotColumnar, field, lowered, selected_rows, table
from treeoflife.taxonomy.ranks import RANKS
from treeoflife.taxonomy.reference import ITIS, Candidate, NameKey, name_key

WHAT = "an ITIS species-level taxonomy chains table (CSV with terminal_tsn, Kingdom ... Species)"
COLUMNS = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species")
REQUIRED = ("terminal_tsn", *COLUMNS)


def english(vernacular: str, languages: str) -> str:
    """The first English name of ITIS's comma-separated (name, language) lists."""
    for name, lang in zip(vernacular.split(","), languages.split(","), strict=False):
        if name.strip() and lang.strip().lower() == "english":
            return " ".join(name.split())
    return ""


def load(path: Path, names: set[NameKey]) -> dict[NameKey, list[Candidate]]:
    """(name, rank) -> candidates, for the wanted keys only.

    Arrow reads the cells and picks the chains that may give a wanted key
    (:func:`_may_give`); only those become Python rows. A file Arrow reads otherwise
    than the ``csv`` module (ragged rows, bad UTF-8) is read row by row.
    """
    with table(path, REQUIRED, what=WHAT) as (cols, _body):
        pass  # the header, checked as the row-by-row reader checks it
    used = (*REQUIRED, "terminal_vernacular", "terminal_vernacular_lang")
    idx = [cols[c] for c in COLUMNS]
    try:
        rows = selected_rows(path, cols, used, _chain_filter(names), COLUMNS)
        return _candidates(rows, cols, names)
    except NotColumnar:
        with table(path, REQUIRED, what=WHAT) as (cols, body):
            return _candidates(_wanted_rows(body, idx, names), cols, names)


def _candidates(
    rows: Iterable[list[str]], cols: dict[str, int], names: set[NameKey]
) -> dict[NameKey, list[Candidate]]:
    """The candidates of each chain for every wanted key it gives, in row order."""
    out: dict[NameKey, list[Candidate]] = {}
    idx = [cols[c] for c in COLUMNS]
    c_tsn = cols["terminal_tsn"]
    c_vern, c_lang = cols.get("terminal_vernacular"), cols.get("terminal_vernacular_lang")
    lineages = ReferenceLineages()
    keys: dict[tuple[str, int], NameKey] = {}  # (name, rank) -> its key, once per name
    seen: set[tuple[NameKey, Lineage, str]] = set()  # add_candidate's test, as a set
    for row in rows:
        lineage = lineages.lineage([field(row, i) for i in idx])
        tsn = field(row, c_tsn)
        for r in range(len(RANKS)):
            name = name_at(lineage, r)
            if not name:
                continue
            key = keys.get((name, r))
            if key is None:
                key = keys[name, r] = name_key(name, r)
            if key not in names:
                continue
            if r == SPECIES_INDEX:
                cand = Candidate(
                    lineage, ITIS, tsn, common=english(field(row, c_vern), field(row, c_lang))
                )
            else:
                cand = Candidate(truncate(lineage, r), ITIS, f"{tsn}@{RANKS[r]}")
            if (key, cand.lineage, cand.record) not in seen:
                seen.add((key, cand.lineage, cand.record))
                out.setdefault(key, []).append(cand)
    return out


def _chain_filter(names: set[NameKey]) -> Callable[[dict[str, pa.Array]], np.ndarray]:
    """Which chains of a batch may give a wanted key (a superset of :func:`_candidates`'s
    test), in Arrow: a wanted kingdom (normalised, once per spelling), a name wanted at its
    rank, a genus that is a wanted species name (an empty epithet leaves the key
    ``genus``), or a wanted ``genus epithet``: worked out as :func:`species_epithet` does
    where both cells are printable ASCII without a hybrid ``x``, else any genus that starts
    a wanted species name."""
    by_rank = _names_by_rank(names)
    species = by_rank[SPECIES_INDEX]
    species_names = pa.array(sorted(species), pa.string())
    genera = pa.array(sorted({n.rsplit(" ", 1)[0] for n in species}), pa.string())
    middle = [
        (COLUMNS[r], pa.array(sorted(by_rank[r]), pa.string()))
        for r in range(1, SPECIES_INDEX)
        if by_rank[r]
    ]
    kingdoms: dict[str, bool] = {}  # kingdom as written -> whether its key is wanted

    def wanted_kingdom(kingdom: str) -> bool:
        hit = kingdoms.get(kingdom)
        if hit is None:
            name = reference_lineage({"kingdom": kingdom})[0]
            hit = kingdoms[kingdom] = bool(name) and name_key(name, 0) in names
        return hit

    def select(batch: dict[str, pa.Array]) -> np.ndarray:
        spellings = pc.unique(batch["Kingdom"])
        wanted = [k for k in spellings.to_pylist() if wanted_kingdom(k)]
        hit = np.asarray(pc.is_in(batch["Kingdom"], pa.array(wanted, pa.string())), dtype=bool)
        for column, values in middle:
            hit |= np.asarray(pc.is_in(lowered(batch[column]), values), dtype=bool)
        genus, cell = batch["Genus"], batch["Species"]
        low_genus = lowered(genus)
        hit |= np.asarray(pc.is_in(low_genus, species_names), dtype=bool)
        simple = np.asarray(
            pc.invert(
                pc.or_(
                    pc.or_(
                        pc.match_substring_regex(genus, "[^!-~]"),
                        pc.match_substring_regex(cell, "[^ -~]"),
                    ),
                    pc.match_substring_regex(cell, "(^| )[xX]( |$)"),
                )
            ),
            dtype=bool,
        )
        words = pc.replace_substring_regex(cell, " +", " ")
        epithet = pc.if_else(
            pc.match_substring_regex(words, "^[A-Z][^ ]* [^ ]"),
            pc.replace_substring_regex(words, r"^[^ ]+ ([^ ]+).*$", r"\1"),
            pc.replace_substring_regex(words, r"^([^ ]*).*$", r"\1"),
        )
        key = pc.binary_join_element_wise(low_genus, pc.ascii_lower(epithet), " ")
        exact = np.asarray(pc.is_in(key, species_names), dtype=bool)
        loose = np.asarray(pc.is_in(low_genus, genera), dtype=bool)
        return hit | np.where(simple, exact, loose)

    return select


def _names_by_rank(names: set[NameKey]) -> list[set[str]]:
    by_rank: list[set[str]] = [set() for _ in RANKS]
    for name, rank in names:
        by_rank[rank].add(name)
    return by_rank


def _wanted_rows(
    body: Iterable[list[str]], idx: list[int], names: set[NameKey]
) -> Iterator[list[str]]:
    """The rows that may give a wanted key, padded to every rank column; most chains give
    none, and this test costs a fraction of building a row's lineage and keys.

    A superset, checked on each rank's cell as the lineage takes it: a name wanted at that
    rank (the kingdom normalised, once per spelling), or a species key ``genus epithet``
    (the epithet taken only where the genus starts a wanted species name).
    """
    by_rank = _names_by_rank(names)
    species = by_rank[SPECIES_INDEX]
    genera = {n.rsplit(" ", 1)[0] for n in species}
    middle = [(idx[r], by_rank[r]) for r in range(1, SPECIES_INDEX) if by_rank[r]]
    width = max(idx) + 1
    k_col, g_col, s_col = idx[0], idx[GENUS_INDEX], idx[SPECIES_INDEX]
    kingdoms: dict[str, bool] = {}  # kingdom as written -> whether its key is wanted
    for row in body:
        if len(row) < width:  # as ``field`` reads a short row
            row = row + [""] * (width - len(row))
        kingdom = row[k_col]
        hit = kingdoms.get(kingdom)
        if hit is None:
            name = reference_lineage({"kingdom": kingdom.strip()})[0]
            hit = kingdoms[kingdom] = bool(name) and name_key(name, 0) in names
        if hit or any(row[i].strip().lower() in wanted for i, wanted in middle):
            yield row
            continue
        genus = row[g_col].strip().lower()
        if genus in species or (  # an empty epithet leaves the key "genus"
            genus in genera and f"{genus} {species_epithet(row[s_col].strip()).lower()}" in species
        ):
            yield row
