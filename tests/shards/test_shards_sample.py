"""End to end on the bundled sample collection with the real `tol build` (resolve included)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tarfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from shard_helpers import has_resolve, tol

from treeoflife import builddb
from treeoflife.stages import stage_names

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


# The seven id columns of the published TreeOfLife-10M catalog, written from the sources by
# the reference's rules (bioclip scripts/evobio10m/make_mapping.py + make_catalog.py): ints
# parsed from the names, the bare file name, the iNat21 class folder split at its first "_"
# into number and name, and a value a source does not have left empty by csv.writer.
ID_COLUMNS = [
    "eol_content_id",
    "eol_page_id",
    "bioscan_part",
    "bioscan_filename",
    "inat21_filename",
    "inat21_cls_name",
    "inat21_cls_num",
]
INT_ID_COLUMNS = {"eol_content_id", "eol_page_id", "bioscan_part", "inat21_cls_num"}
JOIN_KEYS = {
    "eol": ("eol_content_id", "eol_page_id"),
    "inat21": ("inat21_cls_num", "inat21_filename"),
    "bioscan": ("bioscan_part", "bioscan_filename"),
}


def tar_member_names(path: Path) -> list[str]:
    """Member names up to where the archive breaks (the sample has a truncated set)."""
    names = []
    try:
        with tarfile.open(path, "r|gz") as tar:
            names.extend(m.name for m in tar)
    except (tarfile.ReadError, EOFError, OSError, zlib.error):
        pass
    return names


def published_id_rows(sources: Path) -> list[tuple[str, tuple]]:
    """(where the image is, its seven id values) for every image the sources list."""
    rows: list[tuple[str, tuple]] = []
    for archive in sorted((sources / "eol/images").glob("*.tar.gz")):
        for name in tar_member_names(archive):
            m = re.match(r"(\d+)_(\d+)_eol.*jpg", name)
            if m:
                where = f"{archive.relative_to(sources).as_posix()}#{name}"
                rows.append((where, (int(m[1]), int(m[2]), None, None, None, None, None)))
    for clsdir in sorted(os.listdir(sources / "inat21/train")):
        index, *taxa = clsdir.split("_")
        for filename in sorted(os.listdir(sources / "inat21/train" / clsdir)):
            where = f"inat21/train/{clsdir}/{filename}"
            rows.append((where, (None, None, None, None, filename, "_".join(taxa), int(index))))
    meta = sources / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld"
    for rec in json.loads(meta.read_text(encoding="utf-8")):
        part, filename = int(rec["chunk_number"]), rec["image_file"]
        where = f"bioscan/images/part{part}/{filename}"
        rows.append((where, (None, None, part, filename, None, None, None)))
    return rows


def published_catalog(sources: Path) -> dict[str, dict[tuple[str, ...], tuple[str, dict]]]:
    """Per source, join key -> (where, id columns as text), through csv as the reference
    writes them."""
    buf = io.StringIO()
    csv.writer(buf).writerows([where, *ids] for where, ids in published_id_rows(sources))
    out: dict[str, dict[tuple[str, ...], tuple[str, dict]]] = {s: {} for s in JOIN_KEYS}
    for where, *values in csv.reader(io.StringIO(buf.getvalue())):
        ids = dict(zip(ID_COLUMNS, values, strict=True))
        source = next(s for s, key in JOIN_KEYS.items() if all(ids[c] for c in key))
        key = tuple(ids[c] for c in JOIN_KEYS[source])
        assert key not in out[source], key
        out[source][key] = (where, ids)
    return out


def catalog_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "catalog.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_sample_catalog_joins_the_published_format_row_for_row(
    sample_build: Path, sample_dir: Path, expected: dict
) -> None:
    published = published_catalog(sample_dir)
    images = {im["treeoflife_id"]: im for im in expected["images"]}
    with open(sample_dir / "tol10m/catalog.csv", newline="", encoding="utf-8") as fh:
        tol10m = {r["treeoflife_id"]: {c: r[c] for c in ID_COLUMNS} for r in csv.DictReader(fh)}
    joined: dict[str, dict[tuple[str, ...], str]] = {s: {} for s in JOIN_KEYS}
    for row in catalog_rows(sample_build):
        ids = {c: row[c] for c in ID_COLUMNS}
        image = images[row["treeoflife_id"]]
        source = image["source"]
        if source in ("generic", "bioscan5m", "gbif"):  # no TreeOfLife-10M id columns
            assert not any(ids.values()), row
        elif source == "tol10m":  # the published catalog's own row, unchanged
            assert ids == tol10m[row["treeoflife_id"]], row
        else:
            key = tuple(ids[c] for c in JOIN_KEYS[source])
            assert key in published[source], row
            where, published_ids = published[source][key]
            assert ids == published_ids, (row, published_ids)
            path = image["path"] if source != "eol" else f"{image['container']}#{image['path']}"
            assert where == path
            # one catalog image to one published row (train_small repeats a train row)
            assert joined[source].setdefault(key, row["treeoflife_id"]) == row["treeoflife_id"]
    assert all(len(j) >= 10 for j in joined.values()), {s: len(j) for s, j in joined.items()}


def test_sample_shard_json_and_parquet_carry_the_catalog_ids(sample_build: Path) -> None:
    rows = {(r["split"], r["treeoflife_id"]): r for r in catalog_rows(sample_build)}
    seen = 0
    for shard in sorted(sample_build.glob("64x64/*/shard-*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.name.endswith(".json"):
                    record = json.loads(tar.extractfile(member).read())
                    row = rows[(shard.parent.name, record["treeoflife_id"])]
                    assert record["ids"] == {c: row[c] for c in ID_COLUMNS}
                    seen += 1
    assert seen == len(rows)
    table = pq.read_table(sample_build / "catalog.parquet")
    for c in ID_COLUMNS:
        assert (table.schema.field(c).type == pa.int64()) == (c in INT_ID_COLUMNS), c
    for prow in table.select(["split", "treeoflife_id", *ID_COLUMNS]).to_pylist():
        row = rows[(prow["split"], prow["treeoflife_id"])]
        assert {c: "" if prow[c] is None else str(prow[c]) for c in ID_COLUMNS} == {
            c: row[c] for c in ID_COLUMNS
        }


def test_a_build_right_after_a_finished_build_runs_nothing(
    sample_build: Path, capsys: pytest.CaptureFixture
) -> None:
    capsys.readouterr()
    assert tol("build", "--out", str(sample_build), "--workers", "2") == 0
    log = capsys.readouterr().err
    assert "running" not in log
    assert log.count("up to date, nothing to do") == len(stage_names())
    assert not (sample_build / ".work").exists() or not any((sample_build / ".work").iterdir())
