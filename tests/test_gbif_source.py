"""The GBIF occurrence download source: each StillImage media row is an image with its
occurrence's taxonomy, its own license, and an id from (gbifID, media URL); the two files
are joined whatever order they are in, and every row that cannot be an image says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from treeoflife.config import load_config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sample.gbif import MULTIMEDIA_COLUMNS, OCCURRENCE_COLUMNS
from treeoflife.sources import gbif
from treeoflife.sources.base import ImageRecord, ScanReject

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")
GULL = {
    "kingdom": "Animalia",
    "phylum": "Chordata",
    "class": "Aves",
    "order": "Charadriiformes",
    "family": "Laridae",
    "genus": "Larus",
    "species": "Larus glaucoides",
    "scientificName": "Larus glaucoides thayeri W.S.Brooks, 1915",
    "taxonKey": "9509445",
    "license": "CC_BY_NC_4_0",
}
OAK = {
    "kingdom": "Plantae",
    "phylum": "Tracheophyta",
    "class": "Magnoliopsida",
    "order": "Fagales",
    "family": "Fagaceae",
    "genus": "Quercus",
    "species": "Quercus buckleyi",
    "scientificName": "Quercus buckleyi Nixon & Dorr",
    "taxonKey": "2879863",
    "license": "CC0_1_0",
}


def write_download(root: Path, occurrences: list[dict], media: list[dict]) -> Path:
    folder = root / "gbif/occurrence"
    folder.mkdir(parents=True)
    for name, columns, rows in (
        ("occurrence.txt", OCCURRENCE_COLUMNS, occurrences),
        ("multimedia.txt", MULTIMEDIA_COLUMNS, media),
    ):
        lines = ["\t".join(columns)] + ["\t".join(r.get(c, "") for c in columns) for r in rows]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def fetched(folder: Path, gbif_id: str, url: str, kind: str = "jpg") -> Path:
    path = folder / f"{gbif.image_stem(gbif_id, url)}.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff" + url.encode())
    return path


def scan(root: Path) -> list[ImageRecord | ScanReject]:
    return list(gbif.scan(load_config(None, root)))


def photo(gbif_id: str, n: int, **kw) -> dict:
    url = f"https://inaturalist-open-data.s3.amazonaws.com/photos/{n}/original.jpg"
    row = {"gbifID": gbif_id, "type": "StillImage", "format": "image/jpeg", "identifier": url}
    row |= {"license": "http://creativecommons.org/licenses/by/4.0/", "rightsHolder": "JG"}
    return row | kw


def test_each_still_image_gets_its_occurrence_label_license_and_id(tmp_path: Path) -> None:
    # occurrence.txt in another order than multimedia.txt, with an occurrence without media
    occurrences = [
        {"gbifID": "3", **OAK, "occurrenceID": "obs/3"},
        {"gbifID": "9", **OAK},
        {"gbifID": "1", **GULL, "occurrenceID": "obs/1"},
    ]
    media = [
        photo("1", 10, creator="Jamie Simmons", rightsHolder="Jamie Simmons"),
        {"gbifID": "1", "type": "Sound", "format": "audio/mpeg", "identifier": "https://x/s.mp3"},
        photo("3", 30, license=""),  # the record's license applies
        photo("1", 11, type="", format="image/png"),  # no type: an image by its format
    ]
    folder = write_download(tmp_path, occurrences, media)
    for row in (media[0], media[2], media[3]):
        fetched(folder, row["gbifID"], row["identifier"], "png" if row is media[3] else "jpg")
    records = scan(tmp_path)
    assert all(isinstance(r, ImageRecord) for r in records)
    # by id, whatever order the two files are in
    assert [r.treeoflife_id for r in records] == sorted(r.treeoflife_id for r in records)
    by_url = {r.provenance["media_url"]: r for r in records}
    gull, oak, png = (by_url[media[k]["identifier"]] for k in (0, 2, 3))
    key = identity_key("gbif", "1", media[0]["identifier"])
    assert (gull.identity_key, gull.treeoflife_id) == (key, treeoflife_id(key))
    assert gull.member.startswith(f"gbif/occurrence/images/{gull.treeoflife_id[:2]}/")
    assert gull.label["ranks"] == {r: GULL[r] for r in RANKS}
    assert gull.label["name"] == GULL["scientificName"]
    assert gull.label["taxon_key"] == "9509445"
    assert gull.label_key == png.label_key != oak.label_key  # one label per taxon
    assert png.member.endswith(".png")
    assert (
        gull.provenance.items()
        >= {
            "license": "http://creativecommons.org/licenses/by/4.0/",
            "license_from": "media",
            "rights_holder": "Jamie Simmons",
            "creator": "Jamie Simmons",
            "gbif_id": "1",
            "occurrence_id": "obs/1",
        }.items()
    )
    assert (oak.provenance["license"], oak.provenance["license_from"]) == ("CC0_1_0", "occurrence")


def test_rows_that_cannot_be_images_say_why(tmp_path: Path) -> None:
    media = [
        photo("1", 1),  # never fetched
        photo("2", 2),  # no such occurrence
        photo("1", 3),
        photo("1", 3),  # the same photo again
        photo("1", 4, identifier=""),
    ]
    folder = write_download(tmp_path, [{"gbifID": "1", **GULL}], media)
    fetched(folder, "1", media[2]["identifier"])
    empty = fetched(folder, "1", media[1]["identifier"])  # fetched, but not its occurrence
    empty.write_bytes(b"")
    got = sorted(
        (r.reason, r.item) if isinstance(r, ScanReject) else ("ok", r.provenance["media_url"])
        for r in scan(tmp_path)
    )
    listing = "gbif/occurrence/multimedia.txt"
    assert got == [
        ("duplicate_locator", f"{listing}#1 {media[3]['identifier']}"),
        ("image_missing", f"{listing}#1 "),
        ("image_missing", f"{listing}#1 {media[0]['identifier']}"),
        ("label_missing", f"{listing}#2 {media[1]['identifier']}"),
        ("ok", media[2]["identifier"]),
    ]
    rejects = [r for r in scan(tmp_path) if isinstance(r, ScanReject)]
    (unfetched,) = [r for r in rejects if r.item.endswith(media[0]["identifier"])]
    assert "fetch-images --gbif" in unfetched.detail


def test_a_file_without_the_download_columns_is_one_line(tmp_path: Path) -> None:
    folder = write_download(tmp_path, [{"gbifID": "1", **GULL}], [photo("1", 1)])
    text = (folder / "occurrence.txt").read_text().replace("taxonKey", "taxon_key")
    (folder / "occurrence.txt").write_text(text)
    with pytest.raises(TolError, match=r"occurrence.txt is not a GBIF occurrence.txt.*taxonKey"):
        scan(tmp_path)


def test_the_sample_download_scans_to_its_expected_images(sample_dir: Path, expected) -> None:
    records = [r for r in scan(sample_dir) if isinstance(r, ImageRecord)]
    want = [im for im in expected["images"] if im["source"] == "gbif"]
    assert sorted(r.identity_key for r in records) == sorted(im["identity_key"] for im in want)
    by_key = {im["identity_key"]: im for im in want}
    for r in records:
        assert r.member == by_key[r.identity_key]["path"]
        given = r.label["ranks"]
        label = by_key[r.identity_key]["label"]
        assert given["species"] == f"{label['genus']} {label['species']}"
        assert all(given[k] == label[k] for k in RANKS[:-1])
        assert r.provenance["license"] and r.provenance["rights_holder"]
