"""End to end on the bundled sample collection with the real `tol build` (resolve included)."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import pytest
from shard_helpers import has_resolve, tol

from treeoflife import builddb

IMAGE_REASONS = {
    "image_corrupt",
    "image_truncated",
    "image_too_large",
    "image_unsupported",
    "converted_cmyk",
    "exif_rotated",
    "format_mismatch",
}


@pytest.fixture(scope="module")
def sample_build(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not has_resolve():
        pytest.skip("the resolve stage has not landed")
    tmp = tmp_path_factory.mktemp("sample-build")
    config = tmp / "tol.toml"
    config.write_text("[images]\nwidth = 64\nheight = 64\n\n[shards]\nmax_samples = 40\n")
    out = tmp / "out"
    assert (
        tol(
            "build",
            "--out",
            str(out),
            "--sources",
            str(sample_dir),
            "--config",
            str(config),
            "--workers",
            "2",
        )
        == 0
    )
    return out


def shard_keys(out: Path) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for p in sorted(out.glob("64x64/*/shard-*.tar")):
        with tarfile.open(p) as tar:
            keys.setdefault(p.parent.name, set()).update(m.name.split(".", 1)[0] for m in tar)
    return keys


def test_sample_build_image_outcomes_match_expected(sample_build: Path, expected: dict) -> None:
    db = builddb.connect(sample_build)
    rejects = {
        (r[0], r[1]) for r in db.execute("SELECT item, reason FROM rejects WHERE stage = 'scan'")
    }
    held = {r[0] for r in db.execute("SELECT treeoflife_id FROM holdout")}
    planned = {r[0] for r in db.execute("SELECT treeoflife_id FROM samples")}
    db.close()
    in_shards = set().union(*shard_keys(sample_build).values())
    assert in_shards and not held & in_shards
    checked = 0
    for img in expected["images"]:
        tid, reason = img["treeoflife_id"], img.get("reason")
        if reason in IMAGE_REASONS:  # found by the image pass, whether or not it is planned
            assert (tid, reason) in rejects
            assert (tid in in_shards) == (img["status"] == "kept" and tid in planned)
            checked += 1
        if img["status"] == "dropped":
            assert tid not in in_shards
    assert checked >= 6


def test_sample_catalog_matches_shards(sample_build: Path) -> None:
    with open(sample_build / "catalog.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_split: dict[str, set[str]] = {}
    for r in rows:
        by_split.setdefault(r["split"], set()).add(r["treeoflife_id"])
    assert by_split == shard_keys(sample_build)
