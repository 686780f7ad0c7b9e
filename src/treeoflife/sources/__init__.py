"""Source adapters: one module per published format. Each has ``NAME``,
``input_files(config)`` (what its scan reads, for the stage fingerprint) and
``scan(config)`` yielding ImageRecord or ScanReject."""

from __future__ import annotations

from types import ModuleType

from treeoflife.sources import bioscan, eol, generic, inat21, tol10m

ADAPTERS: tuple[ModuleType, ...] = (eol, inat21, bioscan, tol10m, generic)
