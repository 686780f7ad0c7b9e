"""The bundled sample collection: deterministic, in the real published formats, and honest
about every planted problem (each broken input really is broken the way expected.json says)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import tarfile
import warnings
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from PIL import Image

from treeoflife.errors import TolError
from treeoflife.ids import identity_key
from treeoflife.rejects import REASONS
from treeoflife.sample import write_sample
from treeoflife.sample.generate import readable_members
from treeoflife.sample.taxa import load_taxa

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")
SOURCES = {"eol", "inat21", "bioscan", "tol10m", "generic", "bioscan5m", "gbif"}
EOL_MEMBER = re.compile(r"^(\d+)_(\d+)_eol-full-size-copy\.jpg$")


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    dest = tmp_path_factory.mktemp("sample_own") / "sources"
    summary = write_sample(dest)
    return dest, summary


@pytest.fixture(scope="session")
def exp(sample) -> dict:
    return json.loads((sample[0] / "expected.json").read_text(encoding="utf-8"))


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def image_bytes(root: Path, im: dict) -> bytes:
    if im["container"] is None:
        return (root / im["path"]).read_bytes()
    with tarfile.open(root / im["container"], mode="r|gz") as tf:
        for info in tf:
            if info.name == im["path"]:
                return tf.extractfile(info).read()
    raise AssertionError(f"{im['path']} not in {im['container']}")


def test_deterministic_bytes(sample, tmp_path):
    root, summary = sample
    again = write_sample(tmp_path / "again")
    assert digests(root) == digests(tmp_path / "again")
    assert {k: v for k, v in summary.items() if k not in ("dest", "expected", "seconds")} == {
        k: v for k, v in again.items() if k not in ("dest", "expected", "seconds")
    }


def test_refuses_non_empty_destination(sample, tmp_path):
    (tmp_path / "x").write_text("hi")
    with pytest.raises(TolError):
        write_sample(tmp_path)
    with pytest.raises(TolError):
        write_sample(tmp_path / "x")


def test_summary_and_size(sample, exp):
    root, summary = sample
    assert summary["species"] >= 150
    assert set(summary["kingdoms"]) >= {"Animalia", "Plantae", "Fungi"}
    assert summary["broken_inputs"] == 13  # 9 broken, and 4 that each quality filter drops
    assert summary["sources"] == exp["totals"]["by_source"]
    assert set(summary["sources"]) == SOURCES
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 60 * 2**20


def test_taxa_table():
    taxa = load_taxa()
    species = [t for t in taxa if t.is_species]
    assert len(species) >= 150
    assert len({t.ranks["kingdom"] for t in species}) >= 3
    kingdoms: dict[str, set[str]] = {}
    for t in species:
        assert all(t.ranks[r] for r in RANKS), t.key
        assert t.ranks["species"].islower() and t.ranks["genus"][0].isupper()
        kingdoms.setdefault(t.ranks["genus"], set()).add(t.ranks["kingdom"])
    two = [g for g, ks in kingdoms.items() if len(ks) > 1]
    assert len(two) >= 5 and {"Morus", "Pieris", "Prunella", "Oenanthe", "Agathis"} <= set(two)
    assert any(
        not t.is_species and t.ranks["order"] for t in taxa
    )  # BIOSCAN-style order/family-only taxa


def test_eol_dynamic_hierarchy(sample):
    root, _ = sample
    text = (root / "eol/dh21/taxon.tab").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert list(rows[0]) == [
        "taxonID",
        "source",
        "furtherInformationURL",
        "acceptedNameUsageID",
        "parentNameUsageID",
        "scientificName",
        "taxonRank",
        "taxonomicStatus",
        "datasetID",
        "canonicalName",
        "authority",
        "eolID",
        "Landmark",
        "higherClassification",
    ]
    ids = {r["taxonID"]: r for r in rows}
    ranks = {r["taxonRank"] for r in rows}
    assert {
        "kingdom",
        "phylum",
        "subphylum",
        "class",
        "superorder",
        "order",
        "family",
        "subfamily",
        "tribe",
        "genus",
        "species",
    } <= ranks
    for r in rows:
        if r["taxonomicStatus"] == "accepted":
            n = r
            while n["parentNameUsageID"]:  # every parent chain reaches the root
                n = ids[n["parentNameUsageID"]]
            assert n["canonicalName"] == "Life"
        else:
            assert ids[r["acceptedNameUsageID"]]["taxonomicStatus"] == "accepted"
    morus = [r for r in rows if r["canonicalName"] == "Morus" and r["taxonRank"] == "genus"]
    assert len(morus) == 2  # a two-kingdom genus really is in two places


def test_tables_parse_with_pyarrow(sample):
    root, _ = sample
    expected_columns = {
        "eol/vernacularnames.csv": [
            "page_id",
            "canonical_form",
            "vernacular_string",
            "language_code",
            "resource_name",
            "is_preferred_by_resource",
            "is_preferred_by_eol",
        ],
        "eol/scraped_page_ids.csv": ["page_id", "scientific_name"],
        "eol/media_manifest.csv": [
            "EOL content ID",
            "EOL page ID",
            "Medium Source URL",
            "EOL Full-Size Copy URL",
            "License Name",
            "Copyright Owner",
        ],
        "inat/dwca/taxa.csv": [
            "id",
            "taxonID",
            "identifier",
            "parentNameUsageID",
            "kingdom",
            "phylum",
            "class",
            "order",
            "family",
            "genus",
            "specificEpithet",
            "infraspecificEpithet",
            "modified",
            "scientificName",
            "taxonRank",
            "references",
        ],
        "inat/dwca/VernacularNames-english.csv": [
            "id",
            "vernacularName",
            "language",
            "locality",
            "countryCode",
            "source",
            "lexicon",
            "contributor",
            "created",
        ],
        "itis/species_level_taxonomy_chains.csv": [
            "hierarchy_string_tsn",
            "hierarchy_string_names",
            "terminal_tsn",
            "terminal_scientific_name",
            "terminal_vernacular",
            "terminal_vernacular_lang",
            "hierarchy_string_ranks",
            "Kingdom",
            "Phylum",
            "Class",
            "Order",
            "Family",
            "Genus",
            "Species",
        ],
        "tol10m/catalog.csv": [
            "split",
            "treeoflife_id",
            "eol_content_id",
            "eol_page_id",
            "bioscan_part",
            "bioscan_filename",
            "inat21_filename",
            "inat21_cls_name",
            "inat21_cls_num",
            "kingdom",
            "phylum",
            "class",
            "order",
            "family",
            "genus",
            "species",
            "common",
        ],
        "generic/labels.csv": [
            "path",
            "scientific_name",
            *RANKS,
            "common",
            "license",
            "rights_holder",
            "source_url",
        ],
        "tol10m/licenses.csv": [
            "treeoflife_id",
            "eol_content_id",
            "eol_page_id",
            "md5",
            "medium_source_url",
            "eol_full_size_copy_url",
            "license_name",
            "copyright_owner",
            "license_link",
            "title",
        ],
        "bioscan5m/metadata/csv/BIOSCAN_5M_Insect_Dataset_metadata.csv": [
            "processid",
            "sampleid",
            "taxon",
            "phylum",
            "class",
            "order",
            "family",
            "subfamily",
            "genus",
            "species",
            "dna_bin",
            "dna_barcode",
            "country",
            "province_state",
            "coord-lat",
            "coord-lon",
            "image_measurement_value",
            "area_fraction",
            "scale_factor",
            "inferred_ranks",
            "split",
            "index_bioscan_1M_insect",
            "chunk",
        ],
    }
    for rel, cols in expected_columns.items():
        table = pacsv.read_csv(root / rel)
        assert table.column_names == cols, rel
        assert table.num_rows > 0, rel
    scraped = (root / "eol/scraped_page_ids.csv").read_text(encoding="utf-8")
    assert "<i>" in scraped and "Morus\n" in scraped
    itis = pacsv.read_csv(root / "itis/species_level_taxonomy_chains.csv").to_pylist()
    assert any(r["Kingdom"] == "Plantae" and r["Phylum"] == "Tracheophyta" for r in itis)


def test_json_sources(sample, exp):
    root, _ = sample
    records = json.loads(
        (root / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld").read_text(encoding="utf-8")
    )
    assert isinstance(records, list) and records
    for rec in records:
        assert {
            "sampleid",
            "processid",
            "uri",
            "name",
            "phylum",
            "class",
            "order",
            "family",
            "subfamily",
            "tribe",
            "genus",
            "species",
            "nucraw",
            "image_file",
            "chunk_number",
        } <= set(rec)
        assert (root / f"bioscan/images/part{rec['chunk_number']}/{rec['image_file']}").is_file()
    assert sum(r["genus"] == "not_classified" for r in records) > len(records) / 3
    assert any(r["species"].startswith("BOLD:") for r in records)
    for line in (root / "resolved.jsonl").read_text(encoding="utf-8").splitlines():
        ((name, by_source),) = json.loads(line).items()
        assert len(name.split()) == 2 and "Catalogue of Life" in by_source
    seen = json.loads((root / "rarespecies/seen_in_training.json").read_text(encoding="utf-8"))
    unseen = json.loads((root / "rarespecies/unseen_in_training.json").read_text(encoding="utf-8"))
    held = {im["path"] for im in exp["images"] if im["holdout"]}
    for paths in [*seen.values(), *unseen.values()]:
        for p in paths:
            assert EOL_MEMBER.match(p) and p in held
    for key in unseen:
        k = key.split("-")
        assert len(k) == 7
        imgs = [im for im in exp["images"] if [im["label"][r] for r in RANKS] == k]
        assert {im["source"] for im in imgs} - {"eol"}, (
            "an unseen species must also have non-EOL images"
        )
        assert all(im["holdout"] for im in imgs)


def test_archives_are_deterministic_tars(sample):
    root, _ = sample
    for path in sorted((root / "eol/images").glob("*.tar.gz")) + [
        root / "tol10m/image_set_01.tar.gz"
    ]:
        raw = path.read_bytes()
        assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime 0
        if path.name == "images_09.tar.gz":
            continue
        with tarfile.open(path) as tf:
            infos = tf.getmembers()
        assert [i.name for i in infos] == sorted(i.name for i in infos)
        for i in infos:
            assert (i.uid, i.gid, i.uname, i.gname, i.mode) == (0, 0, "", "", 0o644)
            if "eol" in str(path):
                assert EOL_MEMBER.match(i.name) or i.name == "12345_eol.jpg"
            else:
                assert re.match(r"^[0-9a-f-]{36}\.jpg$", i.name)


def test_expected_contract(sample, exp):
    root, _ = sample
    assert exp["format"] == 1
    keys = [im["identity_key"] for im in exp["images"] if im["identity_key"]]
    assert len(keys) == len(set(keys))
    for im in exp["images"]:
        assert im["source"] in SOURCES
        assert im["status"] in {"ok", "dropped", "kept"}
        assert im["reason"] is None or im["reason"] in REASONS
        assert set(im["label"]) == {*RANKS, "common"}
        assert (
            im["label_status"] in {"resolved", "partial", "ambiguous"} or im["identity_key"] is None
        )
        if im["label_status"] == "ambiguous":
            assert not any(im["label"].values())
        if im["label_status"] == "resolved":
            assert all(im["label"][r] for r in RANKS)
        if im["source"] == "inat21":
            _, _, folder, fname = im["path"].split("/")
            assert im["identity_key"] == identity_key("inat21", folder, fname)
            assert folder.split("_", 1)[1] == "_".join(im["label"][r] for r in RANKS)
        if im["source"] == "eol" and im["identity_key"]:
            m = EOL_MEMBER.match(im["path"])
            assert im["identity_key"] == identity_key("eol", f"{m[1]}_{m[2]}")
        if im["source"] == "generic":
            assert im["identity_key"] == identity_key(
                "generic", im["path"].removeprefix("generic/")
            )
    statuses = {im["label_status"] for im in exp["images"]}
    assert statuses >= {"resolved", "partial", "ambiguous"}
    assert {im["source"] for im in exp["images"] if im["label_status"] == "ambiguous"} >= {
        "eol",
        "generic",
    }


def test_every_expected_image_exists(sample, exp):
    root, _ = sample
    by_container: dict[str, set[str]] = {}
    for im in exp["images"]:
        if im["container"]:
            by_container.setdefault(im["container"], set()).add(im["path"])
        else:
            assert (root / im["path"]).is_file(), im["path"]
    for container, members in by_container.items():
        data = (root / container).read_bytes()
        assert members <= set(readable_members(data)), container


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_broken_inputs_are_broken_as_stated(sample, exp):
    root, _ = sample
    reasons = {}
    for im in exp["images"]:
        if im["reason"] and im["reason"] != "label_ambiguous":
            assert im["reason"] not in reasons, "each broken input is planted exactly once"
            reasons[im["reason"]] = im
    assert set(reasons) == {
        "image_corrupt",
        "image_truncated",
        "empty_file",
        "format_mismatch",
        "converted_cmyk",
        "exif_rotated",
        "image_too_large",
        "member_name_unparsed",
        "image_too_small",
        "image_aspect_extreme",
        "image_blank",
        "image_placeholder",
    }
    placeholders = (root / "placeholders.sha256").read_text()
    for code, im in reasons.items():
        assert im["status"] == REASONS[code][0]
        data = image_bytes(root, im)
        if code == "image_corrupt":
            assert data.endswith(b"\xff\xd9")
            with pytest.raises(OSError):
                decode(data)
        elif code == "image_truncated":
            with pytest.raises(OSError, match="truncated"):
                decode(data)
        elif code == "empty_file":
            assert data == b""
        elif code == "format_mismatch":
            assert im["path"].endswith(".jpg") and decode(data).format == "PNG"
        elif code == "converted_cmyk":
            assert decode(data).mode == "CMYK"
        elif code == "exif_rotated":
            img = decode(data)
            assert img.getexif().get(0x0112) == 6 and img.width != img.height
        elif code == "image_too_large":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    assert img.width * img.height > 89_478_485
            assert len(data) < 5 * 2**20
        elif code == "member_name_unparsed":
            assert im["identity_key"] is None and not EOL_MEMBER.match(im["path"])
        elif code == "image_too_small":
            assert decode(data).size == (8, 8)
        elif code == "image_aspect_extreme":
            assert decode(data).size == (4000, 40)
        elif code == "image_blank":
            assert decode(data).convert("L").getextrema() == (0, 0)
        elif code == "image_placeholder":
            assert decode(data).convert("L").getextrema()[1] > 100  # drawn: not blank
            assert f"{hashlib.sha256(data).hexdigest()}  {im['path']}" in placeholders
    # the truncated archive: raises when read to the end, gives back exactly the recovered members
    (cont,) = exp["containers"]
    assert cont["reason"] == "archive_truncated"
    data = (root / cont["path"]).read_bytes()
    with (
        pytest.raises((EOFError, OSError, tarfile.TarError)),
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf,
    ):
        for info in tf:
            tf.extractfile(info).read()
    with pytest.raises((EOFError, OSError)):
        gzip.decompress(data)
    recovered = readable_members(data)
    assert len(recovered) == cont["members_recovered"] > 0
    listed = {im["path"] for im in exp["images"] if im["container"] == cont["path"]}
    assert listed == set(recovered)


def test_good_images_decode(sample, exp):
    root, _ = sample
    for im in exp["images"]:
        if im["status"] == "ok" and im["source"] != "eol":  # EOL ones are large; sampled below
            assert decode(image_bytes(root, im)).mode == "RGB"
    eol_ok = [im for im in exp["images"] if im["source"] == "eol" and im["status"] == "ok"][:3]
    for im in eol_ok:
        img = decode(image_bytes(root, im))
        assert 1_000_000 <= img.width * img.height <= 3_000_000


def test_writers_stand_alone(sample, exp, tmp_path):
    """Each source writer run on its own, in a fresh directory, writes the same bytes and
    expects the same images as it does inside the full sample: writers share no state.
    (The EOL writer is the slow one and the TreeOfLife-10M writer openly takes its first
    content id from it, so those two are covered by the full sample only.)"""
    from treeoflife.sample import (
        bioscan,
        bioscan5m,
        eol_hierarchy,
        gbif,
        generic,
        inat,
        itis,
        resolved,
    )
    from treeoflife.sample.labels import CommonNames

    full = digests(sample[0])
    taxa = load_taxa()
    species = [t for t in taxa if t.is_species]
    names = CommonNames.from_species(species)
    writers = {
        "resolved": lambda d: resolved.write(d, species),
        "itis": lambda d: itis.write(d, species),
        "dwca": lambda d: inat.write_dwca(d, species),
        "dh": lambda d: eol_hierarchy.write(d, taxa),
        "generic": lambda d: generic.write(d, taxa, names),
        "bioscan": lambda d: bioscan.write(d, taxa, names),
        "inat21": lambda d: inat.write_inat21(d, species, names),
        "bioscan5m": lambda d: bioscan5m.write(d, taxa, names),
        "gbif": lambda d: gbif.write(d, species, names),
    }
    for name, write in writers.items():
        alone = tmp_path / name
        images = write(alone) or []
        written = digests(alone)
        assert written, name
        assert written == {rel: d for rel, d in full.items() if rel in written}, name
        if images:
            source = images[0].source
            assert sorted(
                (im.to_json() for im in images), key=lambda im: (im["container"] or "", im["path"])
            ) == [im for im in exp["images"] if im["source"] == source], name


def test_gbif_download_is_tab_separated_darwin_core(sample, exp):
    """occurrence.txt and multimedia.txt as GBIF writes them: tab-separated, unquoted, the
    published columns in order; every StillImage row's image is where fetch-images puts it."""
    from treeoflife.sample.gbif import MULTIMEDIA_COLUMNS, OCCURRENCE_COLUMNS
    from treeoflife.sources import gbif

    root, _ = sample
    folder = root / "gbif/occurrence"
    opts = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    media = pacsv.read_csv(folder / "multimedia.txt", parse_options=opts)
    occ = pacsv.read_csv(folder / "occurrence.txt", parse_options=opts)
    assert tuple(media.column_names) == MULTIMEDIA_COLUMNS
    assert tuple(occ.column_names) == OCCURRENCE_COLUMNS and len(OCCURRENCE_COLUMNS) > 200
    assert {"gbifID", "kingdom", "species", "scientificName", "taxonKey"} <= set(OCCURRENCE_COLUMNS)
    rows = media.to_pylist()
    assert {r["type"] for r in rows} == {"StillImage", "Sound"}
    images = [im for im in exp["images"] if im["source"] == "gbif"]
    assert len(images) == sum(r["type"] == "StillImage" for r in rows)
    for r in rows:
        if r["type"] == "StillImage":
            stem = gbif.image_stem(str(r["gbifID"]), r["identifier"])
            assert (folder / f"{stem}.jpg").is_file()
