"""The reliability tests: each fault a user can cause, and what the tool must do about it.
They share the small collections of ``tests/collection.py`` and the shard helpers."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for folder in (TESTS, TESTS / "shards"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# the misbehaving HTTP server of tests/fetch, for the fetch-images faults
from fetch.conftest import server  # noqa: E402, F401
