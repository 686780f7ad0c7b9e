"""docs/sources.md is for users; its [paths] table must say what config.SourcePaths does."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from treeoflife.config import SourcePaths

SOURCES_MD = Path(__file__).resolve().parents[1] / "docs" / "sources.md"


def test_the_paths_table_in_docs_lists_every_key_with_its_default() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", SOURCES_MD.read_text(), re.MULTILINE)
    documented = dict(rows)
    assert len(documented) == len(rows)
    defaults = {f.name: f.default for f in dataclasses.fields(SourcePaths)}
    assert documented == defaults
