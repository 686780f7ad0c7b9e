"""check-taxa checks as pure functions over rows, and the per-label counts a build's rows
are reduced to (``LabelCounts``: what ``label_rows`` says in SQL, however the batches fall)."""

from __future__ import annotations

import random

import pyarrow as pa

from treeoflife.reports import check_taxa
from treeoflife.reports.check_taxa import LabelCounts

RANKS = ("kingdom", "phylum", "class", "order", "family", "genus", "species")


def row(tid: str, *values: str, common: str = "", split: str = "train", **ids: str) -> dict:
    return {
        "treeoflife_id": tid,
        "split": split,
        **dict(zip(RANKS, values, strict=True)),
        "common": common,
        **ids,
    }


ROWS = [
    row(
        "a",
        "Animalia",
        "Chordata",
        "Aves",
        "Suliformes",
        "Sulidae",
        "Morus",
        "bassanus",
        common="Gannet",
        eol_content_id="1",
    ),
    row(
        "a",
        "Animalia",
        "Chordata",
        "Aves",
        "Suliformes",
        "Sulidae",
        "Morus",
        "bassanus",
        common="Gannet",
        split="train_small",
    ),
    row("b", "Plantae", "", "Magnoliopsida", "Rosales", "", "Morus", "alba", inat21_filename="x"),
    row("c", "Animalia", "Arthropoda", "Insecta", "Diptera", "", "", "", bioscan_filename="y"),
    row("d", "Fungi", "Basidiomycota", "(unidentified)", "x", "y", "Boletus", "edulis var"),
    row("e", "", "", "", "", "", "", ""),
]


def test_reference_checks() -> None:
    result = check_taxa.check_rows(ROWS)
    assert result["rows"] == 5  # train_small repeats are not counted twice
    assert result["kingdom_count"] == 3
    assert result["hierarchy_gaps_by_rank"] == {"phylum": 1, "family": 1}
    assert result["counts"]["multi_word_species"] == 1
    assert result["counts"]["unknown_value"] == 1
    assert result["counts"]["missing_common"] == 4
    assert result["by_source"] == {"bioscan": 1, "eol": 1, "inat21": 1, "other": 2}
    assert result["status"] == {"partial": 2, "resolved": 2, "unresolved": 1}


def test_statuses_conflicts_and_thresholds() -> None:
    known = {"e": {"status": "ambiguous"}, "b": {"conflict": 1}}
    result = check_taxa.check_rows({**r, **known.get(r["treeoflife_id"], {})} for r in ROWS)
    assert result["counts"]["ambiguous"] == 1 and result["counts"]["conflict"] == 1
    assert check_taxa.exceeded(result, {"ambiguous": 10.0}) == ["ambiguous 20.0% > 10.0%"]
    assert check_taxa.exceeded(result, {"ambiguous": 25.0, "unresolved": None}) == []
    assert "ambiguous labels: 1" in check_taxa.format_report(result)


def test_label_counts_are_each_labels_images_smallest_id_and_its_source() -> None:
    rnd = random.Random(3)
    rows = [
        (rnd.randrange(40), f"{rnd.getrandbits(64):016x}", rnd.choice(["eol", "inat21"]))
        for _ in range(5_000)
    ]
    counts = LabelCounts(40, hold=50)  # folds its reductions many times over
    for start in range(0, len(rows), 700):
        n, ids, sources = zip(*rows[start : start + 700], strict=True)
        counts.add(pa.array(n, pa.int64()), pa.array(ids), pa.array(sources))
    expected: dict[int, tuple[str, str, int]] = {}
    for n, tid, source in rows:
        first, src, k = expected.get(n, (tid, source, 0))
        expected[n] = (tid, source, k + 1) if tid < first else (first, src, k + 1)
    numbers, first, sources, images = counts.labels()
    got = zip(numbers.to_pylist(), first, sources, images, strict=True)
    assert {n: rest for n, *rest in got} == {n: list(v) for n, v in expected.items()}
    assert numbers.to_pylist() == sorted(expected)


def test_label_counts_of_no_rows_are_empty() -> None:
    numbers, first, sources, images = LabelCounts(0).labels()
    assert (len(numbers), first, sources, images) == (0, [], [], [])
