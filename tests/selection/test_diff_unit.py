"""tol diff's comparison on hand-made catalogs: every kind of change, counted once per image
(a train_small row only marks its train row), in both part layouts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from treeoflife.diff import compare
from treeoflife.taxonomy.ranks import RANKS

BIRD = dict(
    zip(
        RANKS,
        ("Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"),
        strict=True,
    )
)


def _row(split: str, tid: str, sha: str = "a", **ranks: str) -> dict:
    return {
        "split": split,
        "treeoflife_id": tid,
        **BIRD,
        **ranks,
        "common": "",
        "image_sha256": sha,
    }


def _write(path: Path, rows: list[dict]) -> Path:
    path.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path / "catalog.parquet")
    return path


@pytest.mark.parametrize("part_rows", [compare.PART_ROWS, 1])
def test_each_kind_of_change_is_counted_once_per_image(
    tmp_path: Path, monkeypatch, part_rows: int
) -> None:
    monkeypatch.setattr(compare, "PART_ROWS", part_rows)  # 1: 256 parts, two id characters
    old = _write(
        tmp_path / "old",
        [
            _row("train", "00-same"),
            _row("train_small", "00-same"),
            _row("train", "1a-moved-to-val"),
            _row("train", "2b-into-train-small"),
            _row("val", "3c-relabelled"),
            _row("train", "4d-reencoded"),
            _row("train", "5e-removed"),
            _row("train_small", "5e-removed"),
        ],
    )
    new = _write(
        tmp_path / "new",
        [
            _row("train", "00-same"),
            _row("train_small", "00-same"),
            _row("val", "1a-moved-to-val"),
            _row("train", "2b-into-train-small"),
            _row("train_small", "2b-into-train-small"),
            _row("val", "3c-relabelled", genus="Pica", species="pica"),
            _row("train", "4d-reencoded", sha="b"),
            _row("train", "f0-added"),
        ],
    )
    out = tmp_path / "diff.parquet"
    result = compare.diff(old, new, out)
    assert result.counts == {
        "added": 1,
        "removed": 1,
        "relabelled": 1,
        "moved_split": 2,
        "reencoded": 1,
    }
    assert result.removed_reasons == {compare.NO_DATABASE: 1}  # a bare catalog: no reasons
    assert result.relabelled_ranks == {"genus": 1, "species": 1}
    rows = pq.read_table(out).to_pylist()
    assert [r["treeoflife_id"] for r in rows] == sorted(r["treeoflife_id"] for r in rows)
    by_id = {r["treeoflife_id"]: r for r in rows}
    assert "00-same" not in by_id
    assert (
        by_id["2b-into-train-small"]["old_split"],
        by_id["2b-into-train-small"]["new_split"],
    ) == ("train", "train_small")
    relabel = by_id["3c-relabelled"]
    assert relabel["changed_ranks"] == "genus,species"
    assert (relabel["old_genus"], relabel["new_genus"], relabel["taxon"]) == (
        "Corvus",
        "Pica",
        "Pica pica",
    )
    assert by_id["f0-added"]["change"] == "added" and by_id["5e-removed"]["change"] == "removed"
