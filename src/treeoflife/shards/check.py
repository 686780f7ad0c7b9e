"""Verification of one shard, in a worker: read it once, at disk speed.

Checks, in order: the file exists; its size and sha256 match what write recorded; it reads
as a tar; every key is one of the expected keys, in the expected order, none repeated;
every sample has exactly the expected members; every JPEG has the sha256 recorded when its
image was encoded, every JSON parses and every text is UTF-8. With ``decode`` every JPEG
is also decoded in full (what a trainer's loader would do; as slow as writing the shard).
The file is streamed through the digest and the tar reader (:func:`tario.read_members`,
~10x faster than ``tarfile`` on these small members) in one pass, so a worker holds one
member at a time, never the shard. Returns problems as short sentences; an empty list
means the shard is good.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from treeoflife.shards import tario
from treeoflife.shards.records import member_suffixes


@dataclass(frozen=True)
class CheckTask:
    split: str
    shard: int
    path: str
    sha256: str | None
    bytes: int | None
    keys: tuple[str, ...]  # expected, in order
    jpeg_sha256: tuple[str, ...]  # of each key's .jpg, as encoded
    decode: bool = False


@dataclass(frozen=True)
class CheckResult:
    split: str
    shard: int
    problems: tuple[str, ...]
    keys: tuple[str, ...]  # keys found, in order (for cross-shard duplicate checks)


class _Digesting(io.RawIOBase):
    """A file read forward once, every byte also fed to a sha256."""

    def __init__(self, fh: io.BufferedReader):
        self.fh, self.sha256, self.count = fh, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.count += n
        return n or 0

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _split_name(name: str) -> tuple[str, str]:
    base = name.rsplit("/", 1)[-1]
    key, _, suffix = base.partition(".")
    return key, suffix


def _member_problem(suffix: str, data: bytes, jpeg_sha256: str | None, decode: bool) -> str | None:
    try:
        if suffix == "jpg":
            if jpeg_sha256 is not None and hashlib.sha256(data).hexdigest() != jpeg_sha256:
                return "JPEG bytes differ from the encoded image's sha256"
            if decode:
                from PIL import Image

                with Image.open(io.BytesIO(data)) as im:
                    im.load()
        elif suffix == "json":
            json.loads(data)
        else:
            data.decode("utf-8")
    except Exception as exc:
        return f"does not decode: {type(exc).__name__}: {exc}"
    return None


def check_shard(task: CheckTask) -> CheckResult:
    path = Path(task.path)
    if not path.is_file():
        return CheckResult(task.split, task.shard, ("missing: the shard file does not exist",), ())
    problems: list[str] = []
    expected_members = set(member_suffixes())
    digests = dict(zip(task.keys, task.jpeg_sha256, strict=True))
    found: dict[str, set[str]] = {}
    order: list[str] = []
    with open(path, "rb") as fh:
        stream = _Digesting(fh)
        try:
            last = None
            for name, content in tario.read_members(io.BufferedReader(stream, 1 << 20)):
                key, suffix = _split_name(name)
                if key != last:
                    if key in found:
                        problems.append(f"key {key} repeated within the shard")
                    else:
                        found[key] = set()
                        order.append(key)
                    last = key
                if suffix in found[key]:
                    problems.append(f"member {name} repeated")
                found[key].add(suffix)
                bad = _member_problem(suffix, content, digests.get(key), task.decode)
                if bad:
                    problems.append(f"member {name} {bad}")
        except (tario.TarFormatError, OSError) as exc:
            problems.append(f"not a readable tar: {exc}")
        stream.drain()
    if task.bytes is not None and stream.count != task.bytes:
        problems.append(
            f"size {stream.count} bytes, recorded {task.bytes} (truncated or overwritten)"
        )
    digest = stream.sha256.hexdigest()
    if task.sha256 is not None and digest != task.sha256:
        problems.append(f"sha256 {digest[:16]}… differs from the recorded {task.sha256[:16]}…")
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
