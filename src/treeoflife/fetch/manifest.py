"""``SRC/fetch-manifest.json``: what was fetched, from where, and what it produced.

Each entry records the URL asked for and the final URL after redirects, the size and
SHA-256 of the download, when it was fetched, the server's validators (ETag /
Last-Modified, for conditional re-checks) and every file it produced in the layout with
its own size and SHA-256. That is what lets a second ``tol fetch`` tell a verified copy
from a partial or edited one without trusting file names or dates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from treeoflife.errors import TolError
from treeoflife.fetch.http import sha256_file

MANIFEST_NAME = "fetch-manifest.json"
VERSION = 1


def load(root: Path) -> dict[str, Any]:
    """The manifest of a sources root (empty when there is none yet)."""
    path = root / MANIFEST_NAME
    if not path.exists():
        return {"version": VERSION, "entries": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TolError(
            f"{path} is not readable JSON ({exc}); delete it to fetch everything again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise TolError(f"{path} is not a fetch manifest; delete it to fetch everything again")
    return data


def save(root: Path, data: dict[str, Any]) -> None:
    """Write the manifest atomically (temp + rename)."""
    path = root / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def outputs_record(root: Path, files: list[Path]) -> dict[str, dict[str, Any]]:
    """{relative path: {size, sha256}} of the files an entry put in the layout."""
    out = {}
    for f in sorted(files):
        rel = f.relative_to(root).as_posix()
        out[rel] = {"size": f.stat().st_size, "sha256": sha256_file(f)}
    return out


def outputs_intact(root: Path, record: dict[str, Any]) -> str | None:
    """None when every recorded output is on disk unchanged, else the reason it is not."""
    outputs = record.get("outputs") or {}
    if not outputs:
        return "nothing recorded"
    for rel, want in outputs.items():
        p = root / rel
        if not p.is_file():
            return f"{rel} is missing"
        if p.stat().st_size != want.get("size"):
            return f"{rel} changed size"
    for rel, want in outputs.items():  # hashing last: sizes catch most edits cheaply
        if sha256_file(root / rel) != want.get("sha256"):
            return f"{rel} changed (sha256)"
    return None
