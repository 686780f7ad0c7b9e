"""What a build does between stages with the memory a stage freed (treeoflife.memory)."""

import sqlite3
from pathlib import Path

import pytest

from treeoflife import memory


def test_a_failed_stage_reports_its_own_error_even_when_its_connection_is_unusable(
    tmp_path: Path,
) -> None:
    """run_stages gives memory back in a ``finally``: after a stage that failed and left its
    connection closed, the user sees the stage's error, not the connection's."""
    db = sqlite3.connect(tmp_path / "build.sqlite")
    db.close()
    with pytest.raises(ValueError, match="the stage's own error"):
        try:
            raise ValueError("the stage's own error")
        finally:
            memory.give_back(db)


def test_giving_back_leaves_the_connection_usable(tmp_path: Path) -> None:
    """The next stage reads through the same connection: its page cache emptied, the rows
    are all still there."""
    db = sqlite3.connect(tmp_path / "build.sqlite")
    db.execute("CREATE TABLE t (x)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10_000)])
    db.commit()
    memory.give_back(db)
    assert db.execute("SELECT COUNT(*), SUM(x) FROM t").fetchone() == (10_000, 49_995_000)
