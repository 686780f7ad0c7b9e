"""The rare-species holdout in both key formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treeoflife.errors import TolError
from treeoflife.taxonomy import holdout

BEAR = ("Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae", "Ursus", "maritimus")


def _write(tmp_path: Path, seen: dict, unseen: dict) -> tuple[Path, Path]:
    (tmp_path / "seen.json").write_text(json.dumps(seen))
    (tmp_path / "unseen.json").write_text(json.dumps(unseen))
    return tmp_path / "seen.json", tmp_path / "unseen.json"


def test_unseen_matches_the_resolved_lineage_from_any_source(tmp_path: Path) -> None:
    seen, unseen = _write(
        tmp_path,
        {},
        {
            "Animalia-Chordata-Mammalia-Carnivora-Ursidae-Ursus-maritimus": [
                "1_2_eol-full-size-copy.jpg"
            ]
        },
    )
    h, bad = holdout.load(seen, unseen)
    assert not bad
    # the reference compared these keys with "Genus species" strings and never matched
    assert holdout.reason(h, "inat21/train/x/abc.jpg", BEAR) == holdout.UNSEEN
    metazoa = ("Metazoa", "", "", "", "", "Ursus", "maritimus")  # kingdom spelt otherwise
    assert holdout.reason(h, "any.jpg", metazoa) == holdout.UNSEEN
    assert holdout.reason(h, "any.jpg", BEAR[:-1] + ("arctos",)) is None


def test_unseen_keeps_homonyms_apart(tmp_path: Path) -> None:
    seen, unseen = _write(
        tmp_path, {}, {"Plantae-Tracheophyta-Magnoliopsida-Rosales-Moraceae-Ficus-ficus": []}
    )
    h, _ = holdout.load(seen, unseen)
    snail = ("Animalia", "Mollusca", "Gastropoda", "Littorinimorpha", "Ficidae", "Ficus", "ficus")
    assert holdout.reason(h, "x.jpg", snail) is None


def test_seen_matches_listed_eol_file_names(tmp_path: Path) -> None:
    seen, unseen = _write(
        tmp_path, {"Loxodonta africana": ["some/dir/29054571_4789368_eol-full-size-copy.jpg"]}, {}
    )
    h, _ = holdout.load(seen, unseen)
    assert holdout.reason(h, "29054571_4789368_eol-full-size-copy.jpg", ("",) * 7) == holdout.SEEN
    assert holdout.reason(h, "29054572_4789368_eol-full-size-copy.jpg", ("",) * 7) is None


def test_bad_keys_reported_and_missing_files_mean_no_holdout(tmp_path: Path) -> None:
    seen, unseen = _write(tmp_path, {}, {"Ursus maritimus": []})
    h, bad = holdout.load(seen, unseen)
    assert bad == ["Ursus maritimus"] and not h.unseen
    h, bad = holdout.load(tmp_path / "nope.json", None)
    assert not h.seen_files and not bad


def test_hyphenated_epithet(tmp_path: Path) -> None:
    assert holdout.parse_unseen_key("Plantae-T-M-O-F-Solanum-nigrum-album") == (
        "plantae",
        "solanum",
        "nigrum-album",
    )


def test_malformed_holdout_file(tmp_path: Path) -> None:
    (tmp_path / "seen.json").write_text("[1, 2]")
    with pytest.raises(TolError, match="seen.json"):
        holdout.load(tmp_path / "seen.json", None)
