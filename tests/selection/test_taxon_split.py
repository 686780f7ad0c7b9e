"""``[split] unit = "taxon"`` on the sample: a species is in one split only, holdout_taxa are
in val only, and adding an image set moves no image between splits."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
from select_builds import build, copy_sources

from treeoflife import builddb
from treeoflife.cli import main

TAXON_SPLIT = """
[split]
unit = "taxon"
val_percent = 30
holdout_taxa = ["Aves"]
"""
SPLIT_OF = (
    "SELECT s.treeoflife_id, s.split, t.class, t.genus, t.species FROM splits s "
    "JOIN images i USING (treeoflife_id) JOIN taxa t USING (label_key)"
)


@pytest.fixture(scope="module")
def by_taxon(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(sample_dir, tmp_path_factory.mktemp("taxon-split") / "out", TAXON_SPLIT)


def _splits(out: Path) -> list[tuple]:
    with sqlite3.connect(out / builddb.DB_NAME) as db:
        return list(db.execute(SPLIT_OF))


def test_no_species_is_in_two_splits_and_holdout_taxa_are_in_val(by_taxon: Path) -> None:
    splits_of_species: dict[str, set[str]] = defaultdict(set)
    rows = _splits(by_taxon)
    for _, split, cls, genus, species in rows:
        if species:
            splits_of_species[f"{genus} {species}"].add(split)
        if cls == "Aves":
            assert split == "val"
    assert all(len(s) == 1 for s in splits_of_species.values())
    # both splits hold species other than the held-out birds: the unit, not the list, decided
    others = [next(iter(s)) for sp, s in splits_of_species.items()]
    assert {"train", "val"} <= set(others)
    # and the dataset follows: no species of val is in train or train_small
    with sqlite3.connect(by_taxon / builddb.DB_NAME) as db:
        seen = defaultdict(set)
        for split, genus, species in db.execute(
            "SELECT s.split, t.genus, t.species FROM samples s JOIN taxa t USING (label_key)"
        ):
            if species:
                seen[f"{genus} {species}"].add("val" if split == "val" else "train")
    assert all(len(s) == 1 for s in seen.values())


def test_adding_an_image_set_moves_no_image_between_splits(
    by_taxon: Path, sample_dir: Path, tmp_path: Path
) -> None:
    src = copy_sources(sample_dir, tmp_path / "src")
    (src / "eol/images/images_03.tar.gz").unlink()
    config = tmp_path / "tol.toml"
    config.write_text(TAXON_SPLIT)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--no-progress"]
    assert main(["scan", "--sources", str(src), "--config", str(config), *argv]) == 0
    assert main(["resolve", *argv]) == 0 and main(["split", *argv]) == 0
    fewer = {r[0]: r[1] for r in _splits(out)}
    full = {r[0]: r[1] for r in _splits(by_taxon)}
    assert len(fewer) < len(full)
    assert all(full[t] == s for t, s in fewer.items())


def test_a_taxon_rank_that_is_not_a_rank_is_one_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "tol.toml"
    config.write_text('[split]\nunit = "taxon"\ntaxon_rank = "tribe"\n')
    assert (
        main(
            [
                "build",
                "--sources",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--config",
                str(config),
            ]
        )
        == 2
    )
    assert "split.taxon_rank must be one of kingdom, phylum" in capsys.readouterr().err
