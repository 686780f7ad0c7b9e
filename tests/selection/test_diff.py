"""``tol diff`` on two builds of the sample: exactly the changes made, and none for A vs A."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from select_builds import build, copy_sources

from treeoflife.cli import main

REMOVED_SET = "eol/images/images_03.tar.gz"
# two labels of the generic CSV corrected to another species
CORRECTED = {
    "images/IMG_0007.jpg": ("Amanita muscaria", {}),
    "images/IMG_0010.jpg": ("Trifolium pratense", {"family": ""}),
}


@pytest.fixture(scope="module")
def old(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(sample_dir, tmp_path_factory.mktemp("diff-old") / "out")


def _correct_labels(csv_path: Path) -> None:
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["path"] in CORRECTED:
            name, ranks = CORRECTED[row["path"]]
            row["scientific_name"] = name
            row.update(ranks)
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _catalog(out: Path) -> dict[str, dict]:
    rows = pq.read_table(out / "catalog.parquet").to_pylist()
    return {r["treeoflife_id"]: r for r in rows if r["split"] != "train_small"}


def _diff(a: Path, b: Path, dest: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["diff", str(a), str(b), "--out", str(dest), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_build_against_itself_has_no_change(old: Path, tmp_path: Path, capsys) -> None:
    counts = _diff(old, old, tmp_path / "diff.parquet", capsys)
    assert {
        k: counts[k] for k in ("added", "removed", "relabelled", "moved_split", "reencoded")
    } == {
        "added": 0,
        "removed": 0,
        "relabelled": 0,
        "moved_split": 0,
        "reencoded": 0,
    }
    assert pq.read_table(tmp_path / "diff.parquet").num_rows == 0


def test_removed_set_corrected_labels_and_new_size_are_exactly_the_changes(
    old: Path, sample_dir: Path, tmp_path: Path, capsys
) -> None:
    src = copy_sources(sample_dir, tmp_path / "src")
    (src / REMOVED_SET).unlink()
    _correct_labels(src / "generic/labels.csv")
    # rebuilt in place (a copy of OLD), recording the changes for the dataset card
    shutil.copytree(old, tmp_path / "new")
    (tmp_path / "new" / ".tol.lock").unlink(missing_ok=True)
    new = build(src, tmp_path / "new", "[report]\nchanges = true\n", size=80)

    counts = _diff(old, new, tmp_path / "diff.parquet", capsys)
    before, after = _catalog(old), _catalog(new)
    gone = {t for t, r in before.items() if r["container"] == REMOVED_SET}
    relabelled = {
        t for t, r in before.items() if r["member"] in {f"generic/{p}" for p in CORRECTED}
    }
    assert len(gone) > 5 and len(relabelled) == 2
    assert counts["added"] == 0
    assert counts["removed"] == len(gone)
    assert counts["removed_reasons"] == {"gone_from_sources": len(gone)}
    assert counts["relabelled"] == 2
    assert counts["moved_split"] == 0
    assert counts["reencoded"] == len(before) - len(gone)  # 80x80: every JPEG is new

    rows = {r["treeoflife_id"]: r for r in pq.read_table(tmp_path / "diff.parquet").to_pylist()}
    assert {t for t, r in rows.items() if r["change"] == "removed"} == gone
    assert {t for t, r in rows.items() if r["relabelled"]} == relabelled
    for t in relabelled:
        r = rows[t]
        assert "species" in r["changed_ranks"].split(",")
        assert (r["old_genus"], r["new_genus"]) == (before[t]["genus"], after[t]["genus"])
        assert f"{r['new_genus']} {r['new_species']}" in {n for n, _ in CORRECTED.values()}
    assert set(rows) == set(before)  # nothing else: every other image only re-encoded
    assert all(not r["moved_split"] for r in rows.values())

    # the card of the rebuilt dataset has the same counts
    card = (new / "README.md").read_text()
    section = card.split("## Changes since the last build", 1)[1]
    for key in ("added", "removed", "relabelled", "moved_split", "reencoded"):
        assert f"| {key} | {counts[key]} |" in section
    assert f"| gone_from_sources | {len(gone)} |" in section
