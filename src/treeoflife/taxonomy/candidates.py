"""The references' candidates for a build's labels, kept on disk while the labels resolve.

A full build's ~500K labels find ~2M candidates in six references; as Python objects
(a lineage tuple, a record id and a dataclass each) they took over a GiB, on top of the
labels' queries, and grew with the labels. Each loader's candidates are written here as
soon as that reference is read, and the resolver looks them up one key at a time through
:class:`NameIndex` and :class:`PageIndex`, which answer ``get`` as the dicts did, in the
same order: references in trust order, each reference's candidates in the order its loader
found them.

The store is a private temporary SQLite database (``sqlite3.connect("")``): on disk, not
in the build database, and deleted when it is closed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping

from treeoflife.taxonomy.ranks import RANKS
from treeoflife.taxonomy.reference import Candidate, NameKey

# the store's own page cache: lookups are by index, and the OS caches the file
CACHE_KIB = 32 * 1024
_LINEAGE = ", ".join(f"r{i}" for i in range(len(RANKS)))
_FIELDS = f"{_LINEAGE}, source, record, how, common, page_id, synonym"
_WIDTH = len(RANKS) + 6


def _row(cand: Candidate) -> tuple:
    return (
        *cand.lineage,
        cand.source,
        cand.record,
        cand.how,
        cand.common,
        cand.page_id,
        cand.synonym,
    )


def _candidate(row: tuple) -> Candidate:
    n = len(RANKS)
    source, record, how, common, page_id, synonym = row[n : n + 6]
    return Candidate(row[:n], source, record, how, common, page_id, synonym)


class CandidateStore:
    """Candidates by (name, rank) and by EOL page id, written reference by reference."""

    def __init__(self, priority: tuple[str, ...]) -> None:
        self.priority = {source: i for i, source in enumerate(priority)}
        self.db = sqlite3.connect("")
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        # rowid: the order the candidates were added in
        self.db.execute(f"CREATE TABLE by_name (name TEXT, rank INTEGER, prio INTEGER, {_FIELDS})")
        self.db.execute(f"CREATE TABLE by_page (page INTEGER, {_FIELDS})")
        self.indexed = False

    def add_names(self, source: str, index: Mapping[NameKey, list[Candidate]]) -> int:
        """One reference's candidates by name, in the index's order; how many."""
        prio = self.priority.get(source, len(self.priority))
        with self.db:
            cursor = self.db.executemany(
                f"INSERT INTO by_name VALUES (?, ?, ?, {', '.join('?' * _WIDTH)})",
                (
                    (name, rank, prio, *_row(c))
                    for (name, rank), cands in index.items()
                    for c in cands
                ),
            )
        return cursor.rowcount

    def add_pages(self, pages: Mapping[int, Candidate]) -> None:
        """The DH's candidate for each page id, in the mapping's order."""
        with self.db:
            self.db.executemany(
                f"INSERT INTO by_page VALUES (?, {', '.join('?' * _WIDTH)})",
                ((page, *_row(c)) for page, c in pages.items()),
            )

    def candidates(self, source: str) -> Iterator[Candidate]:
        """A reference's name candidates, streamed in the order they were added."""
        rows = self.db.execute(
            f"SELECT {_FIELDS} FROM by_name WHERE source = ? ORDER BY rowid", (source,)
        )
        return map(_candidate, rows)

    def page_candidates(self) -> Iterator[Candidate]:
        """The page candidates, streamed in the order they were added."""
        return map(_candidate, self.db.execute(f"SELECT {_FIELDS} FROM by_page ORDER BY rowid"))

    def indexes(self) -> tuple[NameIndex, PageIndex]:
        """Look-ups for the resolver, once every reference is in (the keys are indexed once,
        after the appends)."""
        if not self.indexed:
            with self.db:
                self.db.execute("CREATE INDEX by_name_key ON by_name (name, rank, prio)")
                self.db.execute("CREATE INDEX by_page_id ON by_page (page)")
            self.indexed = True
        return NameIndex(self.db), PageIndex(self.db)

    def close(self) -> None:
        self.db.close()


class NameIndex:
    """(name, rank) -> candidates, trusted reference first; ``get`` as on a dict."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._query = (
            f"SELECT {_FIELDS} FROM by_name WHERE name = ? AND rank = ? ORDER BY prio, rowid"
        )
        self._db = db

    def get(
        self, key: NameKey, default: Iterable[Candidate] = ()
    ) -> list[Candidate] | Iterable[Candidate]:
        rows = self._db.execute(self._query, key).fetchall()
        return [_candidate(r) for r in rows] if rows else default


class PageIndex:
    """EOL page id -> the DH's candidate; ``get`` as on a dict."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._query = f"SELECT {_FIELDS} FROM by_page WHERE page = ? ORDER BY rowid LIMIT 1"
        self._db = db

    def get(self, page: int | None, default: Candidate | None = None) -> Candidate | None:
        row = self._db.execute(self._query, (page,)).fetchone()
        return _candidate(row) if row is not None else default
