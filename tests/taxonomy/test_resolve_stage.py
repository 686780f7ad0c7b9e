"""The resolve stage's own plumbing (the end-to-end behaviour is in test_resolve_sample)."""

from __future__ import annotations

import gc
import sqlite3

import pytest

from treeoflife import builddb
from treeoflife.stages.resolve import _no_cycle_collection, _page_cache, _record_holdout
from treeoflife.taxonomy import holdout as rare


def test_page_cache_is_capped_while_resolving_and_restored_after() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA cache_size=-262144")
    with _page_cache(db, 1024):
        assert db.execute("PRAGMA cache_size").fetchone() == (-1024,)
    assert db.execute("PRAGMA cache_size").fetchone() == (-262144,)
    with pytest.raises(RuntimeError), _page_cache(db, 1024):
        raise RuntimeError("a failed resolve")
    assert db.execute("PRAGMA cache_size").fetchone() == (-262144,)


def test_cycle_collection_is_off_while_resolving_and_back_on_after() -> None:
    """Later stages of one ``tol build`` run in the same process: they get the collector back,
    also when resolving fails."""
    assert gc.isenabled()
    with _no_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _no_cycle_collection():
        raise RuntimeError("a failed resolve")
    assert gc.isenabled()


def test_holdout_matches_listed_file_names_at_any_depth_and_unseen_species() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(builddb.SCHEMA)
    images = [  # id, member, label
        ("a", "1_2_eol-full-size-copy.jpg", "eol:page:2"),  # an archive member: bare name
        ("b", "rarespecies/images/3_4_eol-full-size-copy.jpg", "generic:x"),
        ("c", "x/1_2_eol-full-size-copy.jpg/other.jpg", "generic:x"),  # the name is other.jpg
        ("d", "inat21/train/00001_bear/e.jpg", "inat21:bear"),  # unseen species
        ("e", "1_2_eol-full-size-copy.jpg.bak", "eol:page:2"),
    ]
    db.executemany(
        "INSERT INTO images (treeoflife_id, identity_key, source, member, label_key)"
        " VALUES (?, ?, 'generic', ?, ?)",
        [(tid, tid, member, label) for tid, member, label in images],
    )
    bear = ("Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae", "Ursus", "maritimus")
    db.execute(
        "INSERT INTO taxa VALUES ('inat21:bear', ?, ?, ?, ?, ?, ?, ?, '', 'resolved', '{}')", bear
    )
    held = rare.Holdout(
        seen_files={"1_2_eol-full-size-copy.jpg", "3_4_eol-full-size-copy.jpg"},
        unseen={("animalia", "ursus", "maritimus")},
    )
    unseen = [
        key for key, lineage in (("inat21:bear", bear),) if rare.unseen_species(held, lineage)
    ]
    assert _record_holdout(db, held, unseen) == 3
    assert db.execute("SELECT * FROM holdout").fetchall() == [
        ("a", rare.SEEN),
        ("b", rare.SEEN),
        ("d", rare.UNSEEN),
    ]
    for tid, member, _label in images:  # the one rule, in Python, agrees
        lineage = bear if tid == "d" else ("",) * 7
        expected = rare.reason(held, member, lineage)
        got = db.execute("SELECT reason FROM holdout WHERE treeoflife_id=?", (tid,)).fetchone()
        assert (got[0] if got else None) == expected
    assert db.execute(
        "SELECT item, reason, outcome, detail FROM rejects ORDER BY rowid"
    ).fetchall() == [
        ("a", "rare_species_holdout", "dropped", rare.SEEN),
        ("b", "rare_species_holdout", "dropped", rare.SEEN),
        ("d", "rare_species_holdout", "dropped", rare.UNSEEN),
    ]


def test_holdout_matches_listed_names_that_end_differently() -> None:
    """The listed names share no ending (the pass looks names up only where members end
    as every listed name does): each is still matched at any depth."""
    db = sqlite3.connect(":memory:")
    db.executescript(builddb.SCHEMA)
    members = [("a", "set/b.png"), ("b", "x/y/a.jpg"), ("c", "a.jpg"), ("d", "x/a.jpeg")]
    db.executemany(
        "INSERT INTO images (treeoflife_id, identity_key, source, member, label_key)"
        " VALUES (?, ?, 'generic', ?, 'generic:x')",
        [(tid, tid, member) for tid, member in members],
    )
    held = rare.Holdout(seen_files={"a.jpg", "b.png"})
    assert _record_holdout(db, held, []) == 3
    assert db.execute("SELECT treeoflife_id FROM holdout").fetchall() == [("a",), ("b",), ("c",)]
