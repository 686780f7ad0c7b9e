"""Changes since the last build (``[report] changes = true``): the catalog stage keeps the
catalog it replaces as ``reports/previous-catalog.parquet`` and records ``tol diff``'s
counts against it; the dataset card shows them.

Off by default: with it on, a rebuild's card says what changed and so differs from a
fresh build's, which has nothing to compare with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from treeoflife import atomic
from treeoflife.diff import compare

PREVIOUS = "reports/previous-catalog.parquet"


def keep_previous(out: Path, enabled: bool) -> None:
    """Move the catalog about to be replaced aside (a killed run that already moved it
    finds no catalog and keeps the one it moved)."""
    current = out / "catalog.parquet"
    if enabled and current.is_file():
        (out / PREVIOUS).parent.mkdir(parents=True, exist_ok=True)
        os.replace(current, out / PREVIOUS)
        atomic.fsync_dir(out)


def changes(out: Path, enabled: bool) -> dict[str, Any] | None:
    """The diff's counts of the previous catalog against the one just published."""
    previous = out / PREVIOUS
    if not enabled or not previous.is_file():
        return None
    return compare.diff(previous, out).to_json()
