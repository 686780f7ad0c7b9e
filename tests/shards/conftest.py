"""Fixtures for the shard tests: one small source collection and one reference build per
session (per xdist worker); tests that change a build work on a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shard_helpers import build, write_sources


@pytest.fixture(scope="session")
def shard_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sources(tmp_path_factory.mktemp("shard-src") / "sources")


@pytest.fixture(scope="session")
def built(shard_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete build (shard, verify, catalog) with one worker. Read-only."""
    out = tmp_path_factory.mktemp("built") / "out"
    build(shard_sources, out, workers=1)
    return out


@pytest.fixture
def built_copy(built: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(built, out)
    (out / ".tol.lock").unlink(missing_ok=True)
    return out
