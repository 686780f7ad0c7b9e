"""The BIOSCAN-5M source: a metadata CSV row per specimen, its image at
``<package>/<split>/<chunk>/<processid>.jpg``, its ranks as given (empty = unknown), and a
reason for every row or file that cannot be an image."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from treeoflife.config import load_config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sample.bioscan5m import COLUMNS, IMAGES, METADATA
from treeoflife.sources import bioscan5m
from treeoflife.sources.base import ImageRecord, ScanReject

ANT = {
    "taxon": "Gnamptogenys sulcata",
    "phylum": "Arthropoda",
    "class": "Insecta",
    "order": "Hymenoptera",
    "family": "Formicidae",
    "genus": "Gnamptogenys",
    "species": "Gnamptogenys sulcata",
    "dna_bin": "BOLD:AAA1234",
}
FLY = {"taxon": "Cecidomyiidae", "phylum": "Arthropoda", "class": "Insecta"}
FLY |= {"order": "Diptera", "family": "Cecidomyiidae", "dna_bin": "BOLD:ACX9876"}


def write(root: Path, rows: list[dict], images: list[str]) -> None:
    meta = root / METADATA
    meta.parent.mkdir(parents=True)
    with meta.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        w.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
    for rel in images:
        path = root / IMAGES / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8\xff" + rel.encode())


def scan(root: Path) -> list[ImageRecord | ScanReject]:
    return list(bioscan5m.scan(load_config(None, root)))


def test_rows_become_images_with_their_ranks_and_ids(tmp_path: Path) -> None:
    rows = [
        {"processid": "AACTA1040-20", "split": "pretrain", "chunk": "00", **FLY},
        {"processid": "AACTA161-20", "split": "val", "chunk": "", **ANT},
    ]
    write(tmp_path, rows, ["pretrain/00/AACTA1040-20.jpg", "val/AACTA161-20.jpg"])
    fly, ant = scan(tmp_path)
    key = identity_key("bioscan5m", "AACTA161-20")
    assert (ant.identity_key, ant.treeoflife_id) == (key, treeoflife_id(key))
    assert ant.member == f"{IMAGES}/val/AACTA161-20.jpg"
    assert fly.member == f"{IMAGES}/pretrain/00/AACTA1040-20.jpg"
    assert ant.label["ranks"] == {"kingdom": "Animalia"} | {
        r: ANT[r] for r in ("phylum", "class", "order", "family", "genus", "species")
    }
    assert ant.label["name"] == "Gnamptogenys sulcata"
    assert fly.label["ranks"]["genus"] == fly.label["ranks"]["species"] == ""
    assert fly.label["name"] == "Cecidomyiidae"  # the most specific name, `taxon`
    assert ant.provenance["dna_bin"] == "BOLD:AAA1234" and ant.provenance["split"] == "val"


def test_every_row_or_file_that_cannot_be_an_image_says_why(tmp_path: Path) -> None:
    rows = [
        {"processid": "A1-20", "split": "test", **ANT},
        {"processid": "A2-20", "split": "test", **ANT},  # no image
        {"processid": "A1-20", "split": "test", **ANT},  # listed twice
        {"processid": "", "split": "test", **ANT},
        {"processid": "A3-20", "split": "..", "chunk": "..", **ANT},  # climbs out
        {"processid": "A4-20", "split": "test", **FLY},  # an empty file
    ]
    write(tmp_path, rows, ["test/A1-20.jpg", "test/A4-20.jpg", "train/0/NOTLISTED-21.jpg"])
    (tmp_path / IMAGES / "test/A4-20.jpg").write_bytes(b"")
    got = [(r.reason if isinstance(r, ScanReject) else "ok") for r in scan(tmp_path)]
    assert got == [
        "ok",
        "image_missing",
        "duplicate_locator",
        "label_missing",
        "path_outside_source",
        "empty_file",
        "label_missing",  # the image no row lists
    ]
    assert scan(tmp_path)[-1].item == f"{IMAGES}/train/0/NOTLISTED-21.jpg"


def test_a_table_without_the_metadata_columns_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, [{"processid": "A1-20", "split": "test", **ANT}], [])
    meta = tmp_path / METADATA
    meta.write_text(meta.read_text().replace("dna_bin,", "bin,").replace(",split,", ",part,"))
    with pytest.raises(TolError, match="not BIOSCAN-5M metadata.*split"):
        scan(tmp_path)


def test_the_sample_part_scans_to_its_expected_images(sample_dir: Path, expected) -> None:
    records = scan(sample_dir)
    assert all(isinstance(r, ImageRecord) for r in records)
    want = {im["identity_key"]: im for im in expected["images"] if im["source"] == "bioscan5m"}
    assert sorted(r.identity_key for r in records) == sorted(want)
    for r in records:
        label = want[r.identity_key]["label"]
        assert r.member == want[r.identity_key]["path"]
        assert [r.label["ranks"][k] for k in ("kingdom", "order", "family", "genus")] == [
            label[k] for k in ("kingdom", "order", "family", "genus")
        ]
