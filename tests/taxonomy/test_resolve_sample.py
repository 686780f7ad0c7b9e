"""End to end on the bundled sample: scan + split + resolve against expected.json."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from treeoflife.cli import main
from treeoflife.taxonomy.ranks import RANKS

COLUMNS = (*RANKS, "common")


@pytest.fixture(scope="module")
def built(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resolve") / "out"
    assert main(["scan", "--out", str(out), "--sources", str(sample_dir), "--no-progress"]) == 0
    assert main(["resolve", "--out", str(out), "--no-progress"]) == 0
    assert main(["split", "--out", str(out), "--no-progress"]) == 0
    return out


def _taxa_by_identity(out: Path) -> dict[str, tuple]:
    db = sqlite3.connect(out / "build.sqlite")
    cols = ", ".join(f't."{c}"' for c in COLUMNS)
    rows = db.execute(
        f"SELECT i.identity_key, {cols}, t.status FROM images i JOIN taxa t USING (label_key)"
    )
    return {r[0]: r[1:] for r in rows}


def _kept(expected: dict) -> list[dict]:
    return [i for i in expected["images"] if i["status"] in ("ok", "kept")]


def test_every_image_gets_its_expected_ranks_common_and_status(built: Path, expected: dict) -> None:
    got = _taxa_by_identity(built)
    wrong = []
    for image in _kept(expected):
        want = (*(image["label"][c] for c in COLUMNS), image["label_status"])
        if got.get(image["identity_key"]) != want:
            wrong.append((image["path"], want, got.get(image["identity_key"])))
    assert not wrong, wrong[:5]


def test_no_label_gets_a_lineage_from_the_wrong_kingdom(built: Path, expected: dict) -> None:
    got = _taxa_by_identity(built)
    for image in _kept(expected):
        kingdom = got[image["identity_key"]][0]
        assert kingdom in ("", image["label"]["kingdom"]), image["path"]


def test_homonyms_are_ambiguous_without_context(built: Path, expected: dict) -> None:
    got = _taxa_by_identity(built)
    ambiguous = [i for i in _kept(expected) if i["label_status"] == "ambiguous"]
    assert ambiguous, "the sample plants ambiguous homonyms"
    for image in ambiguous:
        assert got[image["identity_key"]][-1] == "ambiguous"
    db = sqlite3.connect(built / "build.sqlite")
    rejected = {
        r[0]
        for r in db.execute(
            "SELECT i.identity_key FROM rejects r JOIN images i ON r.item = i.treeoflife_id WHERE r.reason='label_ambiguous'"
        )
    }
    assert rejected == {i["identity_key"] for i in ambiguous}


def test_holdout_matches_expected_exactly(built: Path, expected: dict) -> None:
    db = sqlite3.connect(built / "build.sqlite")
    held = {
        r[0]
        for r in db.execute(
            "SELECT i.identity_key FROM holdout h JOIN images i USING (treeoflife_id)"
        )
    }
    want = {
        i["identity_key"] for i in expected["images"] if i["holdout"] and i["status"] != "dropped"
    }
    assert held == want
    rejected = {
        r[0] for r in db.execute("SELECT item FROM rejects WHERE reason='rare_species_holdout'")
    }
    assert rejected == {r[0] for r in db.execute("SELECT treeoflife_id FROM holdout")}


def test_provenance_covers_every_known_rank(built: Path) -> None:
    db = sqlite3.connect(built / "build.sqlite")
    for row in db.execute(
        'SELECT kingdom, phylum, class, "order", family, genus, species, provenance FROM taxa'
    ):
        prov = json.loads(row[-1])
        for rank, value in zip(RANKS, row[:-1], strict=True):
            if value:
                assert prov[rank]["how"] in ("given", "filled", "normalised"), (rank, prov)
                assert prov[rank]["source"] and prov[rank]["record"]


def test_predicted_catalog_and_check_taxa_report(
    built: Path, expected: dict, capsys: pytest.CaptureFixture
) -> None:
    import csv

    with (built / "predicted-catalog.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "split",
        "treeoflife_id",
        "eol_content_id",
        "eol_page_id",
        "bioscan_part",
        "bioscan_filename",
        "inat21_filename",
        "inat21_cls_name",
        "inat21_cls_num",
        *RANKS,
        "common",
        "class_index",
    ]
    db = sqlite3.connect(built / "build.sqlite")
    held = {r[0] for r in db.execute("SELECT treeoflife_id FROM holdout")}
    assert held <= {r["treeoflife_id"] for r in rows}  # held-out rows are in the predicted catalog
    report = json.loads((built / "reports" / "check-taxa-predicted.json").read_text())
    assert report["kingdom_count"] == 3
    assert report["counts"]["multi_word_species"] == 0
    assert (
        main(["check-taxa", str(built / "predicted-catalog.csv"), "--max-ambiguous-percent", "0"])
        == 1
    )
    out = tmp = built / "check.json"
    assert main(["check-taxa", str(built / "predicted-catalog.csv"), "--json", str(tmp)]) == 0
    assert json.loads(out.read_text())["status"]["ambiguous"] >= 1
    assert "check-taxa" in capsys.readouterr().out


def test_rerun_is_up_to_date_and_missing_references_are_absent(
    built: Path, sample_dir: Path, tmp_path: Path
) -> None:
    assert main(["resolve", "--out", str(built), "--no-progress"]) == 0  # up to date
    sources = tmp_path / "sources"
    shutil.copytree(sample_dir, sources)
    (sources / "itis" / "species_level_taxonomy_chains.csv").unlink()
    (sources / "resolved.jsonl").unlink()
    out = tmp_path / "out"
    assert main(["scan", "--out", str(out), "--sources", str(sources), "--no-progress"]) == 0
    assert main(["resolve", "--out", str(out), "--no-progress"]) == 0
    assert main(["split", "--out", str(out), "--no-progress"]) == 0
    db = sqlite3.connect(out / "build.sqlite")
    summary = json.loads(
        db.execute("SELECT summary FROM stages WHERE stage='resolve'").fetchone()[0]
    )
    assert set(summary["absent_references"]) == {"itis_chains", "resolved"}


def test_malformed_reference_is_a_clear_error(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(sample_dir, sources)
    (sources / "eol" / "dh21" / "taxon.tab").write_text("id\tname\n1\tx\n")
    out = tmp_path / "out"
    assert main(["scan", "--out", str(out), "--sources", str(sources), "--no-progress"]) == 0
    assert main(["resolve", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "taxon.tab" in err and "missing column" in err
