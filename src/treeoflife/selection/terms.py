"""Taxon names as a user writes them in ``tol.toml``, found in a build's own ``taxa``.

``"Aves"``, ``"family:Felidae"``, ``"Quercus robur"``: a name alone is looked up at every
rank; a species is written as its binomial (``taxa`` keeps genus and epithet apart). A name
no label of the build has, or one that names taxa at two ranks, is a one-line error: a
typo in ``include`` must not silently select nothing, and a name that means two things
must not silently mean one of them.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from treeoflife.errors import TolError
from treeoflife.taxonomy.ranks import RANKS


@dataclass(frozen=True)
class Term:
    """One taxon of a setting: a rank and the name it has there."""

    rank: str
    name: str  # as in taxa; a species as "Genus epithet"

    def __str__(self) -> str:
        return f"{self.rank}:{self.name}"


def parse_term(text: str) -> tuple[str | None, str]:
    """``"family:Felidae"`` -> ``("family", "Felidae")``; ``"Aves"`` -> ``(None, "Aves")``."""
    rank, sep, name = text.partition(":")
    if not sep:
        return None, " ".join(text.split())
    rank, name = rank.strip().lower(), " ".join(name.split())
    if rank not in RANKS:
        raise TolError(f"{text!r}: {rank!r} is not a rank; ranks are {', '.join(RANKS)}")
    if not name:
        raise TolError(f"{text!r}: no name after the rank")
    return rank, name


def rank_value(rank: str, alias: str = "t") -> str:
    """SQL for the name a ``taxa`` row (``alias``) has at ``rank``: the binomial for species,
    '' when the label stops above it."""
    if rank == "species":
        return (
            f"CASE WHEN {alias}.species = '' THEN '' "
            f"ELSE TRIM({alias}.genus || ' ' || {alias}.species) END"
        )
    return f'{alias}."{rank}"'


def _known(db: sqlite3.Connection, rank: str, name: str) -> bool:
    sql = f"SELECT 1 FROM taxa t WHERE {rank_value(rank)} = ? LIMIT 1"
    return db.execute(sql, (name,)).fetchone() is not None


def _near(db: sqlite3.Connection, ranks: Sequence[str], name: str) -> list[str]:
    """Names of the build close to a misspelt one (only on the error path)."""
    names: set[str] = set()
    for rank in ranks:
        names.update(r[0] for r in db.execute(f"SELECT DISTINCT {rank_value(rank)} FROM taxa t"))
    names.discard("")
    return difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.75)


def resolve_terms(db: sqlite3.Connection, setting: str, texts: Sequence[str]) -> list[Term]:
    """The terms of a setting's names, each found in ``taxa``, or a one-line TolError."""
    terms = []
    for text in texts:
        rank, name = parse_term(text)
        ranks = [rank] if rank else [r for r in RANKS if _known(db, r, name)]
        if rank and not _known(db, rank, name):
            ranks = []
        if not ranks:
            where = f"at rank {rank}" if rank else "at any rank"
            near = _near(db, [rank] if rank else RANKS, name)
            hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
            raise TolError(f"{setting}: no label of this build has {name!r} {where}{hint}")
        if len(ranks) > 1:
            raise TolError(
                f"{setting}: {name!r} names a taxon at {' and at '.join(ranks)}; write "
                + " or ".join(f"'{r}:{name}'" for r in ranks)
            )
        terms.append(Term(ranks[0], name))
    return terms


def matches(terms: Sequence[Term], alias: str = "t") -> tuple[str, list[str]]:
    """SQL condition (and its parameters) true for a ``taxa`` row under any of ``terms``."""
    if not terms:
        return "0", []
    return (
        "(" + " OR ".join(f"{rank_value(t.rank, alias)} = ?" for t in terms) + ")",
        [t.name for t in terms],
    )
