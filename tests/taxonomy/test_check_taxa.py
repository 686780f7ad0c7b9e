"""check-taxa checks as pure functions over rows."""

from __future__ import annotations

from treeoflife.reports import check_taxa

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
