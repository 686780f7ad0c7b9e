"""The references' candidates for a build's labels, kept on disk while the labels resolve.

A full build's ~500K labels find ~2M candidates in six references; as Python objects
(a lineage tuple, a record id and a dataclass each) they took over a GiB, on top of the
labels' queries, and grew with the labels. Each loader's candidates are written here as
soon as that reference is read, and the resolver looks them up one key at a time through
:class:`NameIndex` and :class:`PageIndex`, which answer ``get`` as the dicts did, in the
same order: references in trust order, each reference's candidates in the order its loader
found them.

The store is a private temporary SQLite database (:func:`treeoflife.builddb.scratch`): on
disk, not in the build database, and deleted when it is closed.
"""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields
from operator import attrgetter

from treeoflife import builddb
from treeoflife.taxonomy.lineage import common_key
from treeoflife.taxonomy.reference import Candidate, NameKey

# the store's own page cache: look-ups are by key, and the OS caches the file
CACHE_KIB = 32 * 1024


# every field of a Candidate, in its order: a field added to the class is stored too
_FIELDS = attrgetter(*(f.name for f in fields(Candidate)))


def _pack(cand: Candidate) -> bytes:
    """A candidate's fields as one value: SQLite then decodes one column a row, not 13, and
    the candidate is made from it in one call."""
    return marshal.dumps(_FIELDS(cand))


def _candidate(packed: bytes) -> Candidate:
    return Candidate(*marshal.loads(packed))


def _joined(cand: Candidate) -> tuple:
    """What the common names are joined on: record, page id, common name and
    :func:`common_key` (three columns, NULL for none)."""
    key = common_key(cand.lineage) or (None, None, None)
    return (cand.record, cand.page_id, cand.common, *key)


# :meth:`CandidateStore.records`' columns
_JOINED = "record, page_id, common, key_kingdom, key_rank, key_name"


def _record(row: tuple) -> tuple[str, int | None, str, tuple | None]:
    record, page_id, common, *key = row
    return record, page_id, common, (tuple(key) if key[0] is not None else None)


class CandidateStore:
    """Candidates by (name, rank) and by EOL page id, written reference by reference.

    Written in the loaders' order to staging tables (appends); :meth:`indexes` then copies
    them sorted by key into tables clustered on it, so a look-up reads one stretch of one
    B-tree, the candidates of every reference for that key side by side.
    """

    def __init__(self, priority: tuple[str, ...]) -> None:
        self.priority = {source: i for i, source in enumerate(priority)}
        self.db = builddb.scratch()
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # rowid: the order the candidates were added in
        self.db.execute(
            "CREATE TABLE name_rows (name TEXT, rank INTEGER, prio INTEGER, source TEXT, "
            f"cand BLOB, {_JOINED})"
        )
        self.db.execute(f"CREATE TABLE page_rows (page INTEGER, cand BLOB, {_JOINED})")
        self.indexed = False

    def add_names(self, source: str, index: Mapping[NameKey, list[Candidate]]) -> int:
        """One reference's candidates by name, in the index's order; how many."""
        prio = self.priority[source]  # only the references in the trust order are read
        with self.db:
            cursor = self.db.executemany(
                "INSERT INTO name_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (name, rank, prio, source, _pack(c), *_joined(c))
                    for (name, rank), cands in index.items()
                    for c in cands
                ),
            )
        return cursor.rowcount

    def add_pages(self, pages: Mapping[int, Candidate]) -> None:
        """The DH's candidate for each page id, in the mapping's order."""
        with self.db:
            self.db.executemany(
                "INSERT INTO page_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((p, _pack(c), *_joined(c)) for p, c in pages.items()),
            )

    def records(self, source: str) -> Iterator[tuple[str, int | None, str, tuple | None]]:
        """(record, page id, common, common key) of a reference's name candidates, in the
        order they were added (before :meth:`indexes`): what the common names are joined
        on, without making the candidates again."""
        rows = self.db.execute(
            f"SELECT {_JOINED} FROM name_rows WHERE source = ? ORDER BY rowid", (source,)
        )
        return map(_record, rows)

    def page_records(self) -> Iterator[tuple[str, int | None, str, tuple | None]]:
        """:meth:`records` of the page candidates."""
        return map(_record, self.db.execute(f"SELECT {_JOINED} FROM page_rows ORDER BY rowid"))

    def indexes(self) -> tuple[NameIndex, PageIndex]:
        """Look-ups for the resolver, once every reference is in (the staging tables are
        then gone)."""
        if not self.indexed:
            with self.db:
                self.db.execute(
                    "CREATE TABLE by_name (name TEXT, rank INTEGER, prio INTEGER, seq INTEGER, "
                    "cand BLOB, PRIMARY KEY (name, rank, prio, seq)) WITHOUT ROWID"
                )
                self.db.execute(
                    "INSERT INTO by_name SELECT name, rank, prio, rowid, cand FROM name_rows "
                    "ORDER BY name, rank, prio, rowid"
                )
                self.db.execute("CREATE TABLE by_page (page INTEGER PRIMARY KEY, cand BLOB)")
                self.db.execute(
                    "INSERT INTO by_page SELECT page, cand FROM page_rows ORDER BY page"
                )
                self.db.execute("DROP TABLE name_rows")
                self.db.execute("DROP TABLE page_rows")
            self.indexed = True
        return NameIndex(self.db), PageIndex(self.db)

    def close(self) -> None:
        self.db.close()


class NameIndex:
    """(name, rank) -> candidates, trusted reference first; ``get`` as on a dict."""

    _QUERY = "SELECT cand FROM by_name WHERE name = ? AND rank = ? ORDER BY prio, seq"

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(
        self, key: NameKey, default: Iterable[Candidate] = ()
    ) -> list[Candidate] | Iterable[Candidate]:
        rows = self._db.execute(self._QUERY, key).fetchall()
        return [_candidate(packed) for (packed,) in rows] if rows else default


class PageIndex:
    """EOL page id -> the DH's candidate; ``get`` as on a dict."""

    _QUERY = "SELECT cand FROM by_page WHERE page = ?"

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, page: int | None, default: Candidate | None = None) -> Candidate | None:
        row = self._db.execute(self._QUERY, (page,)).fetchone()
        return _candidate(row[0]) if row is not None else default
