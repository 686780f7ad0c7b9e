"""Source adapters: one module per published format. Each has ``NAME``,
``input_files(config)`` (what its scan reads, for the stage fingerprint) and
``scan(config)`` yielding ImageRecord or ScanReject."""

from __future__ import annotations

from types import ModuleType

from treeoflife.sources import bioscan, bioscan5m, eol, gbif, generic, inat21, tol10m

# new adapters go last: the order of the scan's units (and so of a resumed scan) follows it
ADAPTERS: tuple[ModuleType, ...] = (eol, inat21, bioscan, tol10m, generic, bioscan5m, gbif)
