"""The build database's schema versions: a build made by the previous version is carried
over where only a stage's own output changed shape, and refused otherwise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from treeoflife import builddb
from treeoflife.errors import TolError


def _as_version(out: Path, version: int) -> None:
    """Make a new build's database look as version ``version`` left it: samples of other
    columns (5: without the image's record; 6: with the label's ranks), and a finished
    scan and plan."""
    db = builddb.connect(out, create=True)
    for stage in ("scan", "dedup", "plan", "write", "report"):
        builddb.record_stage(db, stage, f"fp-{stage}", {}, [])
    db.execute("DROP TABLE samples")
    db.execute("CREATE TABLE samples (split TEXT, shard INTEGER, position INTEGER, kingdom TEXT)")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    db.close()


@pytest.mark.parametrize("version", [5, 6])
def test_an_older_build_gets_samples_again_and_plans_again(tmp_path: Path, version: int) -> None:
    _as_version(tmp_path, version)
    db = builddb.connect(tmp_path)
    columns = {r[1] for r in db.execute("PRAGMA table_info(samples)")}
    assert {"license", "source_sha256", "in_train_small"} <= columns
    assert "kingdom" not in columns  # the label's ranks are taxa's
    for stage in ("scan", "dedup"):  # what came before plan is kept
        assert builddb.stage_fingerprint(db, stage) == f"fp-{stage}"
    for stage in ("plan", "write", "report"):  # plan and every stage after it run again
        assert builddb.stage_fingerprint(db, stage) is None
    (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == builddb.SCHEMA_VERSION


def test_an_older_build_is_refused_in_one_line(tmp_path: Path) -> None:
    _as_version(tmp_path, 4)
    with pytest.raises(TolError, match="another version of treeoflife"):
        builddb.connect(tmp_path)
    # and left as it was
    db = sqlite3.connect(tmp_path / builddb.DB_NAME)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)


@pytest.mark.parametrize(("given", "pages", "temp"), [("", 256, 128), ("64", 64, 32), ("1", 1, 1)])
def test_the_sqlite_caches_follow_tol_sqlite_cache_mib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, pages: int, temp: int
) -> None:
    monkeypatch.setenv("TOL_SQLITE_CACHE_MIB", given)
    db = builddb.connect(tmp_path, create=True)
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -pages * 1024
    assert db.execute("PRAGMA temp.cache_size").fetchone()[0] == -temp * 1024
    db.close()


@pytest.mark.parametrize("given", ["abc", "0", "-5", "1.5"])
def test_a_bad_tol_sqlite_cache_mib_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("TOL_SQLITE_CACHE_MIB", given)
    with pytest.raises(TolError, match="TOL_SQLITE_CACHE_MIB"):
        builddb.connect(tmp_path, create=True)


def test_a_new_build_database_has_16_kib_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    db = builddb.connect(tmp_path / "new", create=True)
    assert db.execute("PRAGMA page_size").fetchone()[0] == builddb.PAGE_SIZE == 16384
    db.close()
    old = tmp_path / "old"
    old.mkdir()
    made = sqlite3.connect(old / builddb.DB_NAME)  # 4 KiB pages, as builds made before
    made.execute("CREATE TABLE t (x)")
    made.close()
    db = builddb.connect(old, create=True)
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert db.execute("SELECT COUNT(*) FROM meta").fetchone()[0] >= 1  # usable as before
    db.close()
