"""The resolve stage's own plumbing (the end-to-end behaviour is in test_resolve_sample)."""

from __future__ import annotations

import sqlite3

import pytest

from treeoflife.stages.resolve import _page_cache


def test_page_cache_is_capped_while_resolving_and_restored_after() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA cache_size=-262144")
    with _page_cache(db, 1024):
        assert db.execute("PRAGMA cache_size").fetchone() == (-1024,)
    assert db.execute("PRAGMA cache_size").fetchone() == (-262144,)
    with pytest.raises(RuntimeError), _page_cache(db, 1024):
        raise RuntimeError("a failed resolve")
    assert db.execute("PRAGMA cache_size").fetchone() == (-262144,)
