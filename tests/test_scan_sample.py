"""Scan of the bundled sample: every image the sample says is there is in the database,
with the id its identity key gives, and every broken container or name is a reject."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from treeoflife.cli import main
from treeoflife.ids import treeoflife_id

# found by decoding the image (in the scan's image pass): recorded by the image's id
DECODE_REASONS = {
    "image_corrupt",
    "image_truncated",
    "image_too_large",
    "format_mismatch",
    "converted_cmyk",
    "exif_rotated",
}
# left out after the scan by [filters] (stage filter): scanned like any readable image
FILTER_REASONS = {"image_too_small", "image_aspect_extreme", "image_blank", "image_placeholder"}


@pytest.fixture(scope="module")
def scanned(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    out = tmp_path_factory.mktemp("scan") / "out"
    assert main(["scan", "--sources", str(sample_dir), "--out", str(out), "--no-progress"]) == 0
    return sqlite3.connect(out / "build.sqlite")


def test_every_listed_image_is_scanned_with_its_stable_id(scanned, expected) -> None:
    ids = dict(scanned.execute("SELECT identity_key, treeoflife_id FROM images"))
    listed = [
        im
        for im in expected["images"]
        if im["status"] != "dropped" or im["reason"] in DECODE_REASONS | FILTER_REASONS
    ]
    assert {im["identity_key"] for im in listed} == set(ids)
    for im in listed:
        assert ids[im["identity_key"]] == _id(im)  # the published sets keep their own ids


def _id(im: dict) -> str:
    return im["treeoflife_id"] if im["source"] == "tol10m" else treeoflife_id(im["identity_key"])


def test_every_broken_name_file_or_image_is_a_reject_with_its_reason(scanned, expected) -> None:
    rejects = dict(scanned.execute("SELECT item, reason FROM rejects WHERE stage='scan'"))
    planted = {
        (f"{im['container']}#{im['path']}" if im["container"] else im["path"]): im["reason"]
        for im in expected["images"]
        if im["status"] == "dropped" and im["reason"] not in DECODE_REASONS | FILTER_REASONS
    }
    planted |= {c["path"]: c["reason"] for c in expected["containers"]}
    # what only decoding finds, dropped or repaired, is found by the same single read
    planted |= {
        _id(im): im["reason"] for im in expected["images"] if im["reason"] in DECODE_REASONS
    }
    assert planted and rejects == planted


def test_truncated_archive_keeps_exactly_the_members_before_the_cut(scanned, expected) -> None:
    for container in expected["containers"]:
        kept = scanned.execute(
            "SELECT COUNT(*) FROM images WHERE container=?", (container["path"],)
        ).fetchone()[0]
        assert kept == container["members_recovered"]
