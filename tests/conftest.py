"""Shared fixtures: the sample collection is written once per test session (per xdist worker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample source collection. Read-only: copy it before changing anything."""
    from treeoflife.sample import write_sample

    dest = tmp_path_factory.mktemp("sample") / "sources"
    write_sample(dest)
    return dest


@pytest.fixture(scope="session")
def expected(sample_dir: Path) -> dict:
    return json.loads((sample_dir / "expected.json").read_text())
