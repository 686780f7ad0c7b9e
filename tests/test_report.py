"""Reports: stats, the treemap and the dataset card say what the catalog holds."""

from __future__ import annotations

import csv
from pathlib import Path

from treeoflife.config import Config
from treeoflife.rejects import REASONS
from treeoflife.reports.card import dataset_card
from treeoflife.reports.treemap import treemap_nodes, write_treemap
from treeoflife.stages.report import catalog_stats, write_licenses

GANNET = {
    "kingdom": "Animalia",
    "phylum": "Chordata",
    "class": "Aves",
    "order": "Suliformes",
    "family": "Sulidae",
    "genus": "Morus",
    "species": "bassanus",
    "common": "Northern Gannet",
}
MULBERRY = {
    "kingdom": "Plantae",
    "phylum": "Tracheophyta",
    "class": "Magnoliopsida",
    "order": "Rosales",
    "family": "Moraceae",
    "genus": "Morus",
    "species": "alba",
    "common": "",
}


def row(split: str, taxon: dict, **ids: str) -> dict[str, str]:
    return {
        "split": split,
        "treeoflife_id": ids.pop("tid", "x"),
        "eol_content_id": "",
        "bioscan_filename": "",
        "inat21_filename": "",
        **taxon,
        **ids,
    }


ROWS = [
    row("train", GANNET, eol_content_id="11", tid="a"),
    row("train", GANNET, inat21_filename="c/1.jpg", tid="b"),
    row("train", MULBERRY, eol_content_id="12", tid="c"),
    row("train", {**MULBERRY, "species": "", "genus": ""}, bioscan_filename="p.jpg", tid="d"),
    row("val", GANNET, eol_content_id="13", tid="e"),
]


def test_stats_count_splits_sources_kingdoms_and_completeness() -> None:
    stats = catalog_stats(ROWS)
    assert stats["samples"] == {"train": 4, "val": 1}
    assert stats["by_source"] == {"bioscan": 1, "eol": 2, "inat21": 1}
    assert stats["by_kingdom"] == {"Animalia": 2, "Plantae": 2}
    assert stats["rank_known_percent"]["kingdom"] == 100.0
    assert stats["rank_known_percent"]["species"] == 75.0
    assert stats["distinct_taxa"] == 3
    assert stats["with_common_name_percent"] == 50.0


def test_treemap_values_add_up_and_homonyms_stay_in_their_kingdom(tmp_path: Path) -> None:
    train = [r for r in ROWS if r["split"] == "train"]
    ids, labels, parents, values = treemap_nodes(train)
    value = dict(zip(ids, values, strict=True))
    assert value["Animalia"] == 2 and value["Plantae"] == 2
    assert value["Plantae/Tracheophyta/Magnoliopsida/Rosales/Moraceae"] == 2
    assert all(p == "" or p in value for p in parents)
    write_treemap(train, tmp_path / "treemap.html")
    html = (tmp_path / "treemap.html").read_text()
    assert "Moraceae" in html and (tmp_path / "plotly.min.js").exists()


def test_dataset_card_names_each_splits_shards_and_the_rejects() -> None:
    stats = catalog_stats(ROWS) | {"rejects": {"dropped": {"image_corrupt": 2}}}
    text = dataset_card(stats, Config(), REASONS)
    assert text.startswith("---\nconfigs:")
    assert 'path: "224x224/train/shard-*.tar"' in text and 'path: "224x224/val/shard-*.tar"' in text
    assert "`image_corrupt` (dropped) | 2" in text


def test_licenses_come_from_the_media_manifest_for_kept_images_only(tmp_path: Path) -> None:
    manifest = tmp_path / "media_manifest.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "EOL content ID",
                "EOL page ID",
                "Medium Source URL",
                "EOL Full-Size Copy URL",
                "License Name",
                "Copyright Owner",
            ]
        )
        w.writerow(["11", "1", "http://a", "http://b", "cc-by-4.0", "Ann"])
        w.writerow(["99", "1", "http://c", "http://d", "cc0", "Bob"])
    assert write_licenses(manifest, ROWS, tmp_path / "licenses.csv") == 1
    rows = list(csv.DictReader((tmp_path / "licenses.csv").open()))
    assert rows == [
        {
            "treeoflife_id": "a",
            "eol_content_id": "11",
            "eol_page_id": "1",
            "license": "cc-by-4.0",
            "owner": "Ann",
            "source_url": "http://a",
        }
    ]
