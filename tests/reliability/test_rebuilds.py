"""Every output follows its inputs: after a change to the sources or damage to OUT, the next
`tol build` gives exactly what a fresh build of the same sources gives."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from collection import eol_member, jpeg_bytes, write_small_collection, write_tar_gz
from treeoflife import builddb
from treeoflife.cli import main


def _sources(root: Path) -> Path:
    write_small_collection(root)
    generic = root / "generic"
    generic.mkdir()
    with (generic / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "scientific_name", "kingdom", "genus", "species"])
        for i in range(4):
            (generic / f"g{i}.jpg").write_bytes(jpeg_bytes(200 + i))
            w.writerow([f"g{i}.jpg", "Corvus corax", "Animalia", "Corvus", "corax"])
    return root


def _build(src: Path, out: Path) -> None:
    args = ["build", "--sources", str(src), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(args) == 0


def _files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not builddb.is_record(p.name)
    }


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    src = _sources(tmp_path / "src")
    out = tmp_path / "out"
    _build(src, out)
    return src, out


def _replace_generic_image(src: Path) -> None:
    (src / "generic" / "g1.jpg").write_bytes(jpeg_bytes(999, (80, 60)))


def _replace_archive_member(src: Path) -> None:
    # the same member list, one member's bytes different
    members = {eol_member(1000 + i, 45509000 + i % 3): jpeg_bytes(i) for i in range(6)}
    members[eol_member(1002, 45509002)] = jpeg_bytes(777)
    write_tar_gz(src / "eol/images/images_01.tar.gz", members)


@pytest.mark.parametrize("change", [_replace_generic_image, _replace_archive_member])
def test_a_replaced_source_image_is_read_again(built, tmp_path: Path, change) -> None:
    src, out = built
    before = _files(out)
    change(src)
    _build(src, out)
    fresh = tmp_path / "fresh"
    _build(src, fresh)
    assert _files(out) == _files(fresh)
    assert _files(out) != before  # the new photo is in the shards


DAMAGE = {
    "catalog.csv deleted": lambda out: (out / "catalog.csv").unlink(),
    "catalog.parquet deleted": lambda out: (out / "catalog.parquet").unlink(),
    "README.md deleted": lambda out: (out / "README.md").unlink(),
    "reports/ deleted": lambda out: shutil.rmtree(out / "reports"),
    "predicted-catalog.csv deleted": lambda out: (out / "predicted-catalog.csv").unlink(),
    "plotly.min.js truncated": lambda out: os.truncate(out / "reports/plotly.min.js", 100),
    "sizes.json deleted": lambda out: (out / "224x224/train/sizes.json").unlink(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_deleted_or_damaged_output_is_rebuilt(built, damage: str) -> None:
    src, out = built
    before = _files(out)
    shards = {p: p.stat().st_mtime_ns for p in out.glob("224x224/*/shard-*.tar")}
    DAMAGE[damage](out)
    _build(src, out)
    assert _files(out) == before
    # nothing but the damaged output was redone: every intact shard stays as it was
    assert {p: p.stat().st_mtime_ns for p in out.glob("224x224/*/shard-*.tar")} == shards


def test_bit_rot_is_found_by_tol_verify_and_repaired_by_tol_shard(built) -> None:
    src, out = built
    before = _files(out)
    shard = sorted(out.glob("224x224/train/shard-*.tar"))[0]
    st = shard.stat()
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF  # inside the first JPEG
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before
    assert main(["verify", "--out", str(out), "--workers", "1", "--no-progress"]) == 2
    assert main(["shard", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert main(["verify", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    _build(src, out)
    assert _files(out) == before


def test_the_build_after_a_repair_has_nothing_to_do(built, capsys) -> None:
    """A deleted shard is rewritten by the next build; the build after that finds every
    stage up to date (write's fingerprint is of what it left to repair: nothing)."""
    src, out = built
    next(out.glob("224x224/train/shard-*.tar")).unlink()
    _build(src, out)
    assert "write: running" in capsys.readouterr().err
    _build(src, out)
    assert ": running" not in capsys.readouterr().err
