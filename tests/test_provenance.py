"""Provenance, licenses and filters on the bundled sample: every sample traceable (who holds
its rights, under which license, where it came from), filterable before the split, and
publishable as built (card, croissant.json, `tol publish`)."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from treeoflife import licenses
from treeoflife.cli import main
from treeoflife.errors import TolError
from treeoflife.publish import publish
from treeoflife.reports import check_taxa
from treeoflife.reports.provenance import COLUMNS, _hex16
from treeoflife.taxonomy.ranks import RANKS

FILTER_REASONS = {"image_too_small", "image_aspect_extreme", "image_blank", "image_placeholder"}
CONFIG = "[images]\nwidth = 64\nheight = 64\n\n[shards]\nmax_samples = 60\n"
STRICT = CONFIG + '\n[filters]\nlicenses = ["cc0-1.0", "cc-by-*", "public-domain"]\n'
STRICT_ALLOWED = ("cc0-1.0", "cc-by-*", "public-domain")


def tol(*args: str) -> int:
    return main([*args, "--no-progress"])


@pytest.fixture(scope="module")
def builds(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample built with every license allowed, then rebuilt from a copy with a
    stricter allow-list (scan is up to date there: only filter and what follows re-run)."""
    tmp = tmp_path_factory.mktemp("provenance")
    (tmp / "all.toml").write_text(CONFIG)
    (tmp / "strict.toml").write_text(STRICT)
    out = tmp / "all"
    args = ["--sources", str(sample_dir), "--workers", "2"]
    assert tol("build", "--out", str(out), "--config", str(tmp / "all.toml"), *args) == 0
    strict = tmp / "strict"
    shutil.copytree(out, strict)
    (strict / ".tol.lock").unlink(missing_ok=True)
    assert tol("build", "--out", str(strict), "--config", str(tmp / "strict.toml"), *args) == 0
    return {"all": out, "strict": strict}


def db_rows(out: Path, query: str) -> list[tuple]:
    db = sqlite3.connect(out / "build.sqlite")
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def catalog_splits(out: Path) -> dict[str, str]:
    """id -> split of the catalog (train_small rows are also train rows)."""
    with (out / "catalog.csv").open(newline="") as fh:
        return {
            r["treeoflife_id"]: r["split"]
            for r in csv.DictReader(fh)
            if r["split"] != "train_small"
        }


def test_scan_records_the_license_every_source_gives(builds, expected: dict) -> None:
    recorded = dict(
        db_rows(
            builds["all"],
            "SELECT i.treeoflife_id, COALESCE(r.license, 'unknown') FROM images i "
            "LEFT JOIN rights r USING (treeoflife_id)",
        )
    )
    want = {
        im["treeoflife_id"]: im["license"]
        for im in expected["images"]
        if im["treeoflife_id"] in recorded
    }
    assert recorded == want
    # every source gave some, and with the text and holder as the source wrote them
    by_source = dict(db_rows(builds["all"], "SELECT origin, COUNT(*) FROM rights GROUP BY 1"))
    assert set(by_source) >= {
        "eol/media_manifest.csv",
        "inat21/train.json",
        "[rights] bioscan_license",
        "tol10m/licenses.csv",
        "generic/labels.csv",
    }
    holders = db_rows(
        builds["all"],
        "SELECT DISTINCT i.source FROM images i JOIN rights r USING (treeoflife_id) "
        "WHERE r.rights_holder != ''",
    )
    assert {s for (s,) in holders} >= {"eol", "inat21", "bioscan", "tol10m", "generic", "gbif"}


def test_each_quality_filter_catches_its_planted_image_and_nothing_else(
    builds, expected: dict
) -> None:
    caught = db_rows(builds["all"], "SELECT item, reason FROM rejects WHERE stage = 'filter'")
    planted = {
        (im["treeoflife_id"], im["reason"])
        for im in expected["images"]
        if im["reason"] in FILTER_REASONS
    }
    assert sorted(caught) == sorted(planted) and {r for _, r in planted} == FILTER_REASONS
    published = catalog_splits(builds["all"])
    assert not {tid for tid, _ in planted} & published.keys()


def test_provenance_has_one_row_per_sample_keyed_like_the_catalog(builds) -> None:
    out = builds["all"]
    table = pq.read_table(out / "provenance.parquet")
    ids = table.column("treeoflife_id").to_pylist()
    assert len(ids) == len(set(ids)) and set(ids) == catalog_splits(out).keys()
    names = table.schema.names
    assert names[: len(COLUMNS)] == [c for c, _, _ in COLUMNS]
    has_phash = any(r[1] == "phash" for r in db_rows(out, "PRAGMA table_info(encoded)"))
    assert ("phash" in names) == has_phash
    rows = {r["treeoflife_id"]: r for r in table.to_pylist()}
    in_small = {
        tid
        for tid, split in db_rows(out, "SELECT treeoflife_id, split FROM samples")
        if split == "train_small"
    }
    assert {t for t, r in rows.items() if r["in_train_small"]} == in_small
    for r in rows.values():
        assert r["source_sha256"] and r["source_bytes"] > 0 and r["source_width"] > 0
        assert json.loads(r["label_sources"]) and isinstance(json.loads(r["kept_reasons"]), list)
    # catalog.csv keeps exactly the published columns
    with (out / "catalog.csv").open(newline="") as fh:
        assert "license" not in next(csv.reader(fh))


def test_a_stricter_license_list_drops_exactly_those_images_and_moves_nothing(
    builds, expected: dict
) -> None:
    before, after = catalog_splits(builds["all"]), catalog_splits(builds["strict"])
    license_of = {im["treeoflife_id"]: im["license"] for im in expected["images"]}
    excluded = {tid for tid in before if not licenses.allowed(license_of[tid], STRICT_ALLOWED)}
    assert excluded and licenses.UNKNOWN not in {license_of[t] for t in after}
    assert after.keys() == before.keys() - excluded
    assert {tid: before[tid] for tid in after} == after  # the stable split of the rest
    dropped = db_rows(
        builds["strict"], "SELECT item FROM rejects WHERE reason = 'license_excluded'"
    )
    assert {tid for (tid,) in dropped} == {
        im["treeoflife_id"]
        for im in expected["images"]
        if im["treeoflife_id"]
        in dict(db_rows(builds["all"], "SELECT treeoflife_id, 1 FROM encoded WHERE reject IS NULL"))
        and not licenses.allowed(im["license"], STRICT_ALLOWED)
    }
    card = (builds["strict"] / "README.md").read_text()
    assert "`license_excluded` (dropped)" in card and "| `unknown` |" not in card


def test_croissant_metadata_validates_and_loads_records(builds, caplog) -> None:
    mlc = pytest.importorskip("mlcroissant")
    out = builds["all"]
    with caplog.at_level(logging.WARNING):
        ds = mlc.Dataset(jsonld=str(out / "croissant.json"))
    assert "not standard" not in caplog.text
    catalog = next(iter(ds.records("catalog")))
    assert catalog["catalog/treeoflife_id"].decode() in catalog_splits(out)
    prov = next(iter(ds.records("provenance")))
    assert prov["provenance/license"].decode()


def test_publish_gives_a_folder_hugging_face_datasets_loads(builds, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    dest = tmp_path / "published"
    result = publish(builds["all"], dest)
    assert result["files"] == result["linked"] + result["copied"] > 0
    for name in ("README.md", "croissant.json", "catalog.csv", "provenance.parquet"):
        assert (dest / name).is_file()
    dd = datasets.load_dataset(str(dest), cache_dir=str(tmp_path / "hf-cache"))
    splits = catalog_splits(builds["all"])
    assert len(dd["val"]) == sum(1 for s in splits.values() if s == "val")
    assert len(dd["train"]) == sum(1 for s in splits.values() if s == "train")
    assert dd["val"][0]["jpg"].size == (64, 64)


def test_publish_refuses_a_card_changed_since_the_report(builds, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(builds["all"], out)
    (out / ".tol.lock").unlink(missing_ok=True)
    card = out / "README.md"
    card.write_text(card.read_text().replace("license: other", "license: cc0-1.0", 1))
    with pytest.raises(TolError, match="README.md changed since report"):
        publish(out, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_publish_refuses_a_build_verify_has_not_passed(builds, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(builds["all"], out)
    (out / ".tol.lock").unlink(missing_ok=True)
    db = sqlite3.connect(out / "build.sqlite")
    db.execute("UPDATE shards SET status = 'bad' WHERE rowid = 1")
    db.commit()
    db.close()
    with pytest.raises(TolError, match="not passed `tol verify`"):
        publish(out, tmp_path / "dest")


def test_publish_refuses_unknown_licenses_the_filter_says_are_gone(builds, tmp_path: Path) -> None:
    """The stored config excludes unknown licenses, but the build was made without: the
    card's license table and what the filter promises disagree."""
    out = tmp_path / "out"
    shutil.copytree(builds["all"], out)
    (out / ".tol.lock").unlink(missing_ok=True)
    db = sqlite3.connect(out / "build.sqlite")
    (stored,) = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
    config = json.loads(stored)
    config["filters"]["exclude_unknown_license"] = True
    db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
    db.commit()
    db.close()
    with pytest.raises(TolError, match=r"exclude_unknown_license is set, but \d+ samples"):
        publish(out, tmp_path / "dest")


def test_phash_hex_is_sqlites_printf_of_the_signed_hash() -> None:
    """provenance.parquet's phash column: 16 hex digits of the 64-bit two's complement, as
    SQLite's printf('%016x') writes it; a flat picture (no hash) stays null."""
    values = [0, -1, 1, None, -(2**63), 2**63 - 1, 0x0123456789ABCDEF, -12345]
    db = sqlite3.connect(":memory:")
    expected = [
        None if v is None else db.execute("SELECT printf('%016x', ?)", (v,)).fetchone()[0]
        for v in values
    ]
    assert _hex16(pa.array(values, pa.int64())).to_pylist() == expected


def test_provenance_rows_are_each_images_own_record(builds) -> None:
    """plan copies each image's record into its samples (read in scan order, before the
    shuffle sort) and provenance.parquet reads it there: every row must still be that
    image's own source digest, size, hash and rights, as scan recorded them."""
    out = builds["all"]
    recorded = {
        r[0]: r[1:]
        for r in db_rows(
            out,
            "SELECT e.treeoflife_id, e.source_bytes, e.source_sha256, "
            "CASE WHEN e.phash IS NULL THEN NULL ELSE printf('%016x', e.phash) END, "
            "COALESCE(r.license, 'unknown'), COALESCE(r.license_text, ''), "
            "COALESCE(r.rights_holder, ''), NULLIF(r.source_url, ''), COALESCE(r.origin, ''), "
            "COALESCE(r.details, '{}') FROM encoded e LEFT JOIN rights r USING (treeoflife_id)",
        )
    }
    names = ("source_bytes", "source_sha256", "phash", "license", "license_text")
    names += ("rights_holder", "source_url", "license_origin", "source_details")
    rows = pq.read_table(out / "provenance.parquet").to_pylist()
    assert rows and any(r["license"] != "unknown" for r in rows)
    for r in rows:
        assert tuple(r[n] for n in names) == recorded[r["treeoflife_id"]], r["treeoflife_id"]


def test_catalog_rows_take_their_labels_shards_and_kept_reasons_from_the_build(builds) -> None:
    """catalog takes what is not a sample's own (its label's columns, its shard's name,
    its kept reasons) by lookups in Arrow, not joins: each row must still carry exactly
    what the database says of its label, shard and image."""
    out = builds["all"]
    ranks = ", ".join(f'"{r}"' for r in RANKS)
    taxa = {
        r[0]: r[1:]
        for r in db_rows(out, f"SELECT label_key, {ranks}, status, provenance FROM taxa")
    }
    shards = {(r[0], r[1]): r[2] for r in db_rows(out, "SELECT split, shard, name FROM shards")}
    sample_shard = {
        (r[0], r[1]): r[2] for r in db_rows(out, "SELECT split, treeoflife_id, shard FROM samples")
    }
    kept: dict[str, list[str]] = {}
    for item, reason in db_rows(
        out, "SELECT item, reason FROM rejects WHERE outcome = 'kept' ORDER BY item, reason"
    ):
        kept.setdefault(item, []).append(reason)
    catalog = pq.read_table(out / "catalog.parquet").to_pylist()
    assert len(catalog) == len(sample_shard)
    for r in catalog:
        label = taxa[r["label_key"]]
        assert (*(r[k] for k in RANKS), r["taxon_status"], r["provenance"]) == label
        assert r["shard"] == shards[(r["split"], sample_shard[(r["split"], r["treeoflife_id"])])]
    rows = pq.read_table(out / "provenance.parquet").to_pylist()
    assert any(r["treeoflife_id"] in kept for r in rows)  # the sample has kept reasons
    for r in rows:
        assert json.loads(r["kept_reasons"]) == kept.get(r["treeoflife_id"], [])
        given = json.loads(taxa[r["label_key"]][-1])
        assert json.loads(r["label_sources"]) == {k: v.get("source") for k, v in given.items()}


def test_check_taxa_of_the_build_counts_each_sample_of_the_catalog_once(builds) -> None:
    """catalog counts check-taxa's rows (a row per label: its images, the smallest id and
    that image's source) from its own batches: the report is the one check-taxa gives on
    the samples relation in SQL."""
    out = builds["all"]
    db = sqlite3.connect(out / "build.sqlite")
    try:
        relation = (
            "SELECT s.split, s.treeoflife_id, s.label_key, s.source, "
            + ", ".join(f't."{r}"' for r in RANKS)
            + ", t.common, t.status FROM samples s JOIN taxa t ON t.label_key = s.label_key"
        )
        expected = check_taxa.check_query(db, check_taxa.label_rows(relation))
    finally:
        db.close()
    report = json.loads((out / "reports" / "check-taxa.json").read_text())
    assert report.pop("catalog") == "catalog.csv"
    assert report == expected and report["rows"] == len(catalog_splits(out))


def test_check_taxa_is_the_same_made_a_few_labels_at_a_time(
    builds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """catalog makes check-taxa's rows a chunk of labels at a time: with chunks of three
    labels, the report is the one made of all of them at once."""
    from treeoflife.stages import catalog

    out = tmp_path / "out"
    shutil.copytree(builds["all"], out)
    (out / ".tol.lock").unlink(missing_ok=True)
    monkeypatch.setattr(catalog, "LABEL_CHUNK", 3)
    assert tol("catalog", "--out", str(out), "--force") == 0
    name = "reports/check-taxa.json"
    assert (out / name).read_text() == (builds["all"] / name).read_text()
