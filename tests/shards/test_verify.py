"""`tol verify` detects each kind of damage, and `tol shard` then rewrites exactly those."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from shard_helpers import shard_files, tol

from treeoflife import builddb
from treeoflife.shards.tario import TarWriter


def verify(out: Path) -> int:
    return tol("verify", "--out", str(out), "--workers", "2")


def report(out: Path) -> dict:
    return json.loads((out / "reports" / "verify.json").read_text())


def first_shard(out: Path) -> Path:
    return sorted(out.glob("64x48/train/shard-*.tar"))[0]


def rewrite(path: Path, edit) -> None:
    """Rewrite a shard's members through ``edit(list of (name, bytes)) -> list``."""
    with tarfile.open(path) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar]
    buf = io.BytesIO()
    w = TarWriter(buf)
    for name, data in edit(members):
        w.add(name, data)
    w.close()
    path.write_bytes(buf.getvalue())


def flip_jpeg_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = data.index(b"\xff\xd8\xff")  # the first sample's JPEG
    data[start + 400] ^= 0xFF
    path.write_bytes(bytes(data))


def drop_member(path: Path) -> None:
    rewrite(path, lambda ms: [m for m in ms if m[0] != ms[0][0].split(".")[0] + ".sci_com.txt"])


def duplicate_key(path: Path) -> None:
    rewrite(path, lambda ms: ms + [(n, d) for n, d in ms if n.startswith(ms[0][0].split(".")[0])])


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "flipped_jpeg_byte": flip_jpeg_byte,
    "missing_member": drop_member,
    "duplicated_key": duplicate_key,
}


def test_a_good_build_verifies(built_copy: Path) -> None:
    assert verify(built_copy) == 0
    assert report(built_copy)["ok"] is True


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_verify_detects_damage_and_shard_rewrites_exactly_that_shard(
    built_copy: Path, damage: str
) -> None:
    good = shard_files(built_copy)
    target = first_shard(built_copy)
    DAMAGE[damage](target)
    others = {
        p: p.stat().st_mtime_ns for p in built_copy.glob("64x48/*/shard-*.tar") if p != target
    }
    assert verify(built_copy) != 0
    bad = report(built_copy)["bad"]
    assert [b["shard"] for b in bad] == [target.relative_to(built_copy).as_posix()]
    db = builddb.connect(built_copy)
    assert db.execute("SELECT COUNT(*) FROM shards WHERE status = 'bad'").fetchone()[0] == 1
    db.close()
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    assert shard_files(built_copy) == good
    assert others == {p: p.stat().st_mtime_ns for p in others}  # nothing else rewritten
    assert verify(built_copy) == 0


def test_verify_detects_a_duplicated_key_across_shards(built_copy: Path) -> None:
    a, b = sorted(built_copy.glob("64x48/train/shard-*.tar"))[:2]
    with tarfile.open(a) as tar:
        first = [(m.name, tar.extractfile(m).read()) for m in tar][:13]
    rewrite(b, lambda ms: first + ms)
    assert verify(built_copy) != 0
    text = json.dumps(report(built_copy))
    assert "also in" in text or "not planned here" in text


def test_verify_detects_a_shard_not_in_the_plan(built_copy: Path) -> None:
    files = sorted(built_copy.glob("64x48/val/shard-*.tar"))
    stray = files[0].with_name(f"shard-{len(files) + 5:06d}.tar")
    stray.write_bytes(files[0].read_bytes())
    assert verify(built_copy) != 0
    assert report(built_copy)["not_in_plan"] == [stray.relative_to(built_copy).as_posix()]
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    assert not stray.exists()
    assert verify(built_copy) == 0


def test_verify_detects_a_deleted_shard_and_shard_rewrites_it(built_copy: Path) -> None:
    good = shard_files(built_copy)
    first_shard(built_copy).unlink()
    assert verify(built_copy) != 0
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    assert shard_files(built_copy) == good
