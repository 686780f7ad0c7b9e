"""A build from a GBIF occurrence download, end to end: the download's media served by a
loopback server, ``tol fetch-images --gbif``, ``tol build`` — the labels, licenses and ids
a correct build gives, the same bytes with 1 and 2 workers and after a kill and resume."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.config import load_config
from treeoflife.sample import gbif as gbif_sample
from treeoflife.sample.labels import CommonNames
from treeoflife.sample.taxa import RANKS, load_taxa
from treeoflife.sources import gbif

CONFIG = "[images]\nwidth = 48\nheight = 48\n\n[shards]\nmax_samples = 6\n"


def outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not builddb.is_record(p.name)
    }


def media_table(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture
def download(server, tmp_path: Path):
    """SOURCES/gbif/occurrence with its media on the loopback server, nothing fetched yet."""
    sources = tmp_path / "sources"
    species = [t for t in load_taxa() if t.is_species]
    expected = gbif_sample.write(
        sources, species, CommonNames.from_species(species), base_url=server.base, fetched=False
    )
    folder = sources / gbif_sample.FOLDER
    for row in media_table(folder, "multimedia.txt"):
        if row["type"] == "StillImage":
            url = row["identifier"]
            server.add(urlsplit(url).path, gbif_sample.photo(url), content_type="image/jpeg")
    return sources, folder, expected


def fetch(folder: Path, capsys) -> dict:
    capsys.readouterr()
    argv = ["fetch-images", "--gbif", str(folder), "--no-progress", "--backoff", "0.01"]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def build(sources: Path, out: Path, workers: int) -> None:
    config = out.parent / f"{out.name}.toml"
    config.write_text(CONFIG)
    argv = ["build", "--sources", str(sources), "--out", str(out), "--config", str(config)]
    assert main([*argv, "--workers", str(workers), "--no-progress"]) == 0


def test_fetch_then_build_gives_the_labels_licenses_and_ids(
    download, server, tmp_path: Path, capsys
) -> None:
    sources, folder, expected = download
    first = fetch(folder, capsys)
    assert (first["fetched"], first["failed"]) == (len(expected), 0)
    for im in expected:  # where the GBIF source looks for them
        assert (sources / im.path).is_file()
    again = fetch(folder, capsys)
    assert again["fetched"] == 0 and len(server.hits()) == len(expected)

    # licenses and rights from the media row; the occurrence's when the row has none
    occurrences = {r["gbifID"]: r for r in media_table(folder, "occurrence.txt")}
    media = {(r["gbifID"], r["identifier"]): r for r in media_table(folder, "multimedia.txt")}
    records = [r for r in gbif.scan(load_config(None, sources)) if hasattr(r, "provenance")]
    assert len(records) == len(expected)
    from_occurrence = 0
    for rec in records:
        p = rec.provenance
        row = media[(p["gbif_id"], p["media_url"])]
        if row["license"]:
            assert (p["license"], p["license_from"]) == (row["license"], "media")
        else:
            from_occurrence += 1
            record_license = occurrences[p["gbif_id"]]["license"]
            assert (p["license"], p["license_from"]) == (record_license, "occurrence")
        assert p["rights_holder"] == row["rightsHolder"] and p["creator"] == row["creator"]
        assert p["occurrence_id"] == occurrences[p["gbif_id"]]["occurrenceID"]
    assert from_occurrence == 1

    one = tmp_path / "one"
    build(sources, one, workers=1)
    with (one / "catalog.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["treeoflife_id"]: r for r in csv.DictReader(fh) if r["split"] != "train_small"}
    assert set(rows) == {im.treeoflife_id for im in expected}
    for im in expected:  # the occurrence's taxonomy, rank by rank (species as the epithet)
        assert {r: rows[im.treeoflife_id][r] for r in RANKS} == {r: im.label[r] for r in RANKS}

    two = tmp_path / "two"
    build(sources, two, workers=2)
    assert outputs(one) == outputs(two)

    killed = tmp_path / "killed"
    killed.with_suffix(".toml").write_text(CONFIG)
    argv = ["build", "--sources", str(sources), "--out", str(killed)]
    argv += ["--config", str(killed.with_suffix(".toml")), "--workers", "1", "--no-progress"]
    run = subprocess.run(
        [sys.executable, "-m", "treeoflife", *argv],
        env={**os.environ, "TOL_FAULT": "shard:2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -9, run.stderr
    assert main(argv) == 0
    assert outputs(killed) == outputs(one)


def test_an_image_deleted_after_fetching_is_fetched_again(download, server, capsys) -> None:
    sources, folder, expected = download
    fetch(folder, capsys)
    gone = sources / expected[3].path
    gone.unlink()
    again = fetch(folder, capsys)
    assert again["fetched"] == 1 and gone.is_file()
    assert len(server.hits(urlsplit(media_url(expected[3])).path)) == 2


def media_url(image) -> str:
    """The media URL of an expected image (its identity key is gbif:<gbifID>/<URL>)."""
    return image.identity_key.split("/", 1)[1]


def test_a_failed_image_is_recorded_and_its_row_rejected_by_the_build(
    download, server, tmp_path: Path, capsys
) -> None:
    sources, folder, expected = download
    url = media_url(expected[0])
    server.add(urlsplit(url).path, b"", status=404)
    summary = fetch(folder, capsys)
    assert summary["failures_by_reason"] == {"http_404": 1}
    with (folder / "fetch-images-failures.csv").open(encoding="utf-8") as fh:
        (failure,) = list(csv.DictReader(fh))
    assert failure["url"] == url and failure["reason"] == "http_404"
    out = tmp_path / "out"  # the scan is where the build meets the missing image
    argv = ["scan", "--sources", str(sources), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    db = sqlite3.connect(out / builddb.DB_NAME)
    rejects = db.execute("SELECT item, reason FROM rejects WHERE stage='scan'").fetchall()
    gbif_id = expected[0].identity_key.split(":", 1)[1].split("/", 1)[0]
    assert rejects == [(f"gbif/occurrence/multimedia.txt#{gbif_id} {url}", "image_missing")]


@pytest.mark.parametrize(
    "argv",
    [
        ["fetch-images"],
        ["fetch-images", "urls.csv", "--gbif", "somewhere"],
        ["fetch-images", "urls.csv"],
    ],
)
def test_fetch_images_wants_a_url_list_or_a_gbif_download_in_one_line(argv, capsys) -> None:
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("tol: error: ")


def test_a_folder_that_is_not_a_download_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["fetch-images", "--gbif", str(tmp_path), "--no-progress"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is not an unpacked GBIF occurrence download" in last and "multimedia.txt" in last
