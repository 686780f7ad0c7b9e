"""[select] on the bundled sample: each rule drops exactly the images its rule names, in
expected.json terms; caps are the same for any number of workers and keep their choice when
an image set is added; a taxon name the build does not have is one line."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from select_builds import build, copy_sources

from collection import write_small_collection
from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.errors import TolError
from treeoflife.selection.terms import Term, parse_term, resolve_terms
from treeoflife.taxonomy.ranks import RANKS

RULES = """
[select]
exclude = ["family:Felidae", "Quercus robur"]
require_ranks = ["genus"]
min_per_taxon = 2
max_per_taxon = 2
"""
CAP = 2


def _species(label: dict) -> str:
    return f"{label['genus']} {label['species']}".strip() if label["species"] else ""


def _planned(expected: dict) -> list[dict]:
    """The images a build without [select] puts in the dataset: readable, not held out."""
    return [
        im
        for im in expected["images"]
        if im["status"] != "dropped" and im["treeoflife_id"] and not im["holdout"]
    ]


def _expected_drops(expected: dict) -> dict[str, str]:
    """The RULES applied to expected.json, rule by rule, in the documented order (the cap
    is checked separately: which images it keeps is a seeded choice)."""
    drops: dict[str, str] = {}
    images = _planned(expected)
    for im in images:
        lab = im["label"]
        if lab["family"] == "Felidae" or _species(lab) == "Quercus robur":
            drops[im["treeoflife_id"]] = "select_excluded"
        elif not lab["genus"]:
            drops[im["treeoflife_id"]] = "select_rank_missing"
    left = [im for im in images if im["treeoflife_id"] not in drops]
    per_species = Counter(_species(im["label"]) for im in left if _species(im["label"]))
    for im in left:
        sp = _species(im["label"])
        if sp and per_species[sp] < 2:
            drops[im["treeoflife_id"]] = "select_rare_taxon"
    return drops


@pytest.fixture(scope="module")
def selected(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(sample_dir, tmp_path_factory.mktemp("select") / "out", RULES, workers=2)


def _unselected(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / builddb.DB_NAME) as db:
        return dict(db.execute("SELECT treeoflife_id, reason FROM unselected"))


def _planned_ids(out: Path) -> set[str]:
    with sqlite3.connect(out / builddb.DB_NAME) as db:
        return {r[0] for r in db.execute("SELECT treeoflife_id FROM samples")}


def test_each_rule_drops_exactly_the_images_it_names(selected: Path, expected: dict) -> None:
    got = _unselected(selected)
    capped = {t for t, r in got.items() if r == "select_over_cap"}
    assert {t: r for t, r in got.items() if t not in capped} == _expected_drops(expected)
    # every rule is a reject the report and tol diff can name, one per left-out image
    with sqlite3.connect(selected / builddb.DB_NAME) as db:
        rejects = dict(
            db.execute(
                "SELECT item, reason FROM rejects WHERE stage = 'select' AND outcome = 'dropped'"
            )
        )
    assert rejects == got
    assert not _planned_ids(selected) & set(got)
    assert set(Counter(got.values())) == {
        "select_excluded",
        "select_rank_missing",
        "select_rare_taxon",
        "select_over_cap",
    }


def test_the_cap_keeps_max_per_taxon_images_preferring_complete_labels(
    selected: Path, expected: dict
) -> None:
    got = _unselected(selected)
    drops = _expected_drops(expected)
    left = [im for im in _planned(expected) if im["treeoflife_id"] not in drops]
    by_species: dict[str, list[dict]] = {}
    for im in left:
        by_species.setdefault(_species(im["label"]), []).append(im)
    capped_species = 0
    by_species.pop("", None)  # no species: the cap counts at species, these are not capped
    for sp, ims in by_species.items():
        kept = [im for im in ims if im["treeoflife_id"] not in got]
        assert len(kept) == min(len(ims), CAP), sp
        if len(ims) > CAP:
            capped_species += 1
            complete = lambda im: all(im["label"][r] for r in RANKS)  # noqa: E731
            # a dropped image never has a complete label while a kept one lacks it
            dropped = [im for im in ims if im not in kept]
            assert not (any(map(complete, dropped)) and not all(map(complete, kept))), sp
    assert capped_species > 0  # the sample has species over the cap: the rule was exercised


def test_caps_are_the_same_with_one_worker_and_stable_when_an_image_set_is_added(
    selected: Path, sample_dir: Path, tmp_path: Path
) -> None:
    one = build(sample_dir, tmp_path / "one", RULES, workers=1)
    assert _unselected(one) == _unselected(selected)

    fewer = copy_sources(sample_dir, tmp_path / "fewer-src")
    (fewer / "eol/images/images_03.tar.gz").unlink()
    before = _planned_ids(build(fewer, tmp_path / "fewer", RULES))
    after = _planned_ids(selected)
    new_images = after - before
    displaced = before - after
    # an old image leaves only for a new one that ranks above it under the cap (the EOL set
    # also adds images to species the smaller build dropped as rare: they may enter too)
    assert new_images
    assert len(displaced) <= len(new_images)
    with sqlite3.connect(selected / builddb.DB_NAME) as db:
        reasons = dict(db.execute("SELECT treeoflife_id, reason FROM unselected"))
    assert all(reasons.get(t) == "select_over_cap" for t in displaced)


def test_a_misspelt_taxon_is_one_line(tmp_path: Path, capsys) -> None:
    sources = write_small_collection(tmp_path / "src")  # Morus bassanus and Morus alba
    config = tmp_path / "tol.toml"
    config.write_text('[select]\ninclude = ["Morus albus"]\n')
    argv = ["build", "--sources", str(sources), "--out", str(tmp_path / "out")]
    assert main([*argv, "--config", str(config), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "tol: error: select.include: no label of this build has 'Morus albus' at any rank; "
        "did you mean 'Morus alba'?"
    )
    assert not any("Traceback" in line for line in err)


def _taxa(*rows: dict[str, str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(builddb.SCHEMA)
    for k, ranks in enumerate(rows):
        values = [ranks.get(r, "") for r in RANKS]
        db.execute(
            "INSERT INTO taxa VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 'resolved', '{}')",
            (f"label{k}", *values),
        )
    return db


def test_names_resolve_at_their_rank_and_a_name_at_two_ranks_is_an_error() -> None:
    db = _taxa(
        {
            "kingdom": "Animalia",
            "class": "Aves",
            "family": "Prunellidae",
            "genus": "Prunella",
            "species": "modularis",
        },
        {"kingdom": "Plantae", "family": "Lamiaceae", "genus": "Prunella", "species": "vulgaris"},
        {"kingdom": "Animalia", "family": "Oenanthe", "genus": "Oenanthe"},  # made up: a clash
    )
    assert resolve_terms(db, "s", ["Aves", "Prunella", "Prunella vulgaris", "family:Oenanthe"]) == [
        Term("class", "Aves"),
        Term("genus", "Prunella"),  # two kingdoms, one rank: both are meant
        Term("species", "Prunella vulgaris"),
        Term("family", "Oenanthe"),
    ]
    with pytest.raises(
        TolError,
        match="'Oenanthe' names a taxon at family and at genus; write 'family:Oenanthe' or 'genus:Oenanthe'",
    ):
        resolve_terms(db, "s", ["Oenanthe"])
    with pytest.raises(TolError, match="no label of this build has 'Aves' at rank order"):
        resolve_terms(db, "s", ["order:Aves"])
    with pytest.raises(TolError, match="'famly' is not a rank"):
        parse_term("famly:Felidae")
