"""Verification of one shard, in a worker: light work only (read bytes, decode small JPEGs).

Checks, in order: the file exists; its sha256 and size match what write recorded; it
reads as a tar; every key is one of the expected keys, in the expected order, none
repeated; every sample has exactly the expected members; every JPEG decodes and every
JSON parses. Returns problems as short sentences; an empty list means the shard is good.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from treeoflife.shards.records import member_suffixes


@dataclass(frozen=True)
class CheckTask:
    split: str
    shard: int
    path: str
    sha256: str | None
    bytes: int | None
    keys: tuple[str, ...]  # expected, in order


@dataclass(frozen=True)
class CheckResult:
    split: str
    shard: int
    problems: tuple[str, ...]
    keys: tuple[str, ...]  # keys found, in order (for cross-shard duplicate checks)


def _split_name(name: str) -> tuple[str, str]:
    base = name.rsplit("/", 1)[-1]
    key, _, suffix = base.partition(".")
    return key, suffix


def _decode_problem(suffix: str, data: bytes) -> str | None:
    try:
        if suffix == "jpg":
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        elif suffix == "json":
            json.loads(data)
        else:
            data.decode("utf-8")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_shard(task: CheckTask) -> CheckResult:
    path = Path(task.path)
    if not path.is_file():
        return CheckResult(task.split, task.shard, ("missing: the shard file does not exist",), ())
    data = path.read_bytes()
    problems: list[str] = []
    if task.bytes is not None and len(data) != task.bytes:
        problems.append(f"size {len(data)} bytes, recorded {task.bytes} (truncated or overwritten)")
    digest = hashlib.sha256(data).hexdigest()
    if task.sha256 is not None and digest != task.sha256:
        problems.append(f"sha256 {digest[:16]}… differs from the recorded {task.sha256[:16]}…")
    expected_members = set(member_suffixes())
    found: dict[str, set[str]] = {}
    order: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            last = None
            for info in tar:
                key, suffix = _split_name(info.name)
                if key != last:
                    if key in found:
                        problems.append(f"key {key} repeated within the shard")
                    else:
                        found[key] = set()
                        order.append(key)
                    last = key
                if suffix in found[key]:
                    problems.append(f"member {info.name} repeated")
                found[key].add(suffix)
                fh = tar.extractfile(info)
                content = fh.read() if fh else b""
                if len(content) != info.size:
                    problems.append(f"member {info.name} cut short")
                    continue
                bad = _decode_problem(suffix, content)
                if bad:
                    problems.append(f"member {info.name} does not decode: {bad}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        problems.append(f"not a readable tar: {exc}")
    for key in order:
        missing = expected_members - found[key]
        extra = found[key] - expected_members
        if missing:
            problems.append(f"sample {key} lacks {', '.join(sorted(missing))}")
        if extra:
            problems.append(f"sample {key} has unexpected {', '.join(sorted(extra))}")
    if tuple(order) != task.keys:
        missing_keys = set(task.keys) - set(order)
        extra_keys = set(order) - set(task.keys)
        detail = f"{len(order)} samples, planned {len(task.keys)}"
        if missing_keys:
            detail += f"; {len(missing_keys)} missing (e.g. {min(missing_keys)})"
        if extra_keys:
            detail += f"; {len(extra_keys)} not planned here (e.g. {min(extra_keys)})"
        problems.append("keys differ from the plan: " + detail)
    return CheckResult(task.split, task.shard, tuple(dict.fromkeys(problems)), tuple(order))
