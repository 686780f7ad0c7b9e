"""Reports: stats, the treemap and the dataset card say what the samples relation holds."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from treeoflife import builddb
from treeoflife.columns import ID_COLUMNS
from treeoflife.config import Config
from treeoflife.rejects import REASONS
from treeoflife.reports.card import dataset_card
from treeoflife.reports.treemap import DEPTH, treemap_nodes, write_treemap
from treeoflife.shards import samples
from treeoflife.stages import report, stage_names
from treeoflife.stages.report import (
    catalog_stats,
    license_counts,
    source_fingerprints,
    treemap_counts,
    write_licenses,
)
from treeoflife.taxonomy.ranks import RANKS

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


def row(split: str, taxon: dict, source: str, tid: str, **ids: str) -> dict[str, Any]:
    return {"split": split, "treeoflife_id": tid, "source": source, **taxon, **ids}


ROWS = [
    row("train", GANNET, "eol", "a", eol_content_id=11),
    row("train", GANNET, "inat21", "b", inat21_filename="1.jpg"),
    row("train", MULBERRY, "eol", "c", eol_content_id=12),
    row(
        "train", {**MULBERRY, "species": "", "genus": ""}, "bioscan", "d", bioscan_filename="p.jpg"
    ),
    row("val", GANNET, "eol", "e", eol_content_id=13),
    row("train_small", GANNET, "eol", "a", eol_content_id=11),
]


def add_labels(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """Each sample's label in ``taxa``, with the ranks plan copied into the sample."""
    conn.executemany(
        f"INSERT OR IGNORE INTO taxa VALUES ({', '.join('?' * (len(RANKS) + 4))})",
        [
            (f"label:{r['treeoflife_id']}", *(r[f] for f in (*RANKS, "common")), "resolved", "{}")
            for r in rows
        ],
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A build database holding ROWS as planned samples, and their labels."""
    conn = builddb.connect(tmp_path / "out", create=True)
    add_labels(conn, ROWS)
    samples.insert(
        conn,
        [
            (
                r["split"],
                0,
                k,
                r["treeoflife_id"],
                r["source"],
                f"label:{r['treeoflife_id']}",
                *(r.get(c) for c in ID_COLUMNS),
                *(f"id:{r['treeoflife_id']}", None, f"{r['treeoflife_id']}.jpg"),  # locator
                *("0" * 64, 640, 480, "[]"),  # the small JPEG's digest, source size, notes
            )
            for k, r in enumerate(ROWS)
        ],
    )
    yield conn
    conn.close()


def test_stats_count_splits_sources_kingdoms_and_completeness(db: sqlite3.Connection) -> None:
    stats = catalog_stats(db)
    assert stats["samples"] == {"train": 4, "train_small": 1, "val": 1}
    # the source a sample came from, as the build recorded it (never guessed from columns)
    assert stats["by_source"] == {"bioscan": 1, "eol": 2, "inat21": 1}
    assert stats["by_kingdom"] == {"Animalia": 2, "Plantae": 2}
    assert stats["rank_known_percent"]["kingdom"] == 100.0
    assert stats["rank_known_percent"]["species"] == 75.0
    assert stats["distinct_taxa"] == 3
    assert stats["with_common_name_percent"] == 50.0


def test_treemap_values_add_up_and_homonyms_stay_in_their_kingdom(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    leaves = treemap_counts(db)
    ids, labels, parents, values = treemap_nodes(leaves)
    value = dict(zip(ids, values, strict=True))
    assert value["Animalia"] == 2 and value["Plantae"] == 2
    assert value["Plantae/Tracheophyta/Magnoliopsida/Rosales/Moraceae"] == 2
    assert all(p == "" or p in value for p in parents)
    write_treemap(leaves, tmp_path / "treemap.html")
    html = (tmp_path / "treemap.html").read_text()
    assert "Moraceae" in html and (tmp_path / "plotly.min.js").stat().st_size > 1_000_000


def test_dataset_card_names_each_splits_shards_and_the_rejects(db: sqlite3.Connection) -> None:
    stats = catalog_stats(db) | {"rejects": {"dropped": {"image_corrupt": 2}}}
    text = dataset_card(stats, Config(), REASONS)
    assert text.startswith("---\nconfigs:")
    assert 'path: "224x224/train/shard-*.tar"' in text and 'path: "224x224/val/shard-*.tar"' in text
    assert "`image_corrupt` (dropped) | 2" in text


def test_dataset_card_says_the_stages_in_the_order_the_build_runs_them(
    db: sqlite3.Connection,
) -> None:
    build = {"tol_version": "test", "sources": {}, "config": {}}
    text = dataset_card(catalog_stats(db) | {"build": build}, Config(), REASONS)
    assert "build database: " + ", ".join(stage_names()) + " (scan" in text


def _rights_into_samples(db: sqlite3.Connection) -> None:
    """What plan does: each sample carries its image's rights (report reads only samples)."""
    db.execute(
        "UPDATE samples SET license = r.license, license_text = r.license_text, "
        "rights_holder = r.rights_holder, source_url = r.source_url, license_origin = r.origin "
        "FROM rights r WHERE r.treeoflife_id = samples.treeoflife_id"
    )


def test_licenses_list_every_sample_once_with_what_its_source_says(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    db.executemany(
        "INSERT INTO rights (treeoflife_id, license, license_text, rights_holder, source_url, "
        "origin) VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("a", "cc-by-4.0", "CC BY 4.0", "Ann", "http://a", "eol/media_manifest.csv"),
            ("zz", "cc0-1.0", "CC0", "Bob", "", "eol/media_manifest.csv"),  # not a sample
        ],
    )
    _rights_into_samples(db)
    assert write_licenses(db, tmp_path / "licenses.csv") == 5  # train_small "a" is train "a"
    rows = list(csv.DictReader((tmp_path / "licenses.csv").open()))
    assert [r["treeoflife_id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert rows[0] == {
        "treeoflife_id": "a",
        "source": "eol",
        "license": "cc-by-4.0",
        "license_text": "CC BY 4.0",
        "rights_holder": "Ann",
        "source_url": "http://a",
    }
    assert {r["license"] for r in rows[1:]} == {"unknown"}
    counts = license_counts(db)
    assert counts == {"cc-by-4.0": {"eol": 1}, "unknown": {"bioscan": 1, "eol": 2, "inat21": 1}}
    text = dataset_card(catalog_stats(db) | {"licenses": counts}, Config(), REASONS)
    assert "license: other" in text and "| `cc-by-4.0` | 0 | 1 | 0 | 1 |" in text
    one = dataset_card(catalog_stats(db) | {"licenses": {"cc0-1.0": {"eol": 4}}}, Config(), REASONS)
    assert "license: cc0-1.0\n" in one


def test_treemap_html_is_what_plotly_writes_for_the_validated_figure(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    """write_treemap skips plotly's per-element validation (seconds at 100K nodes): its
    HTML must be the bytes the fully validated figure gives."""
    leaves = treemap_counts(db)
    write_treemap(leaves, tmp_path / "treemap.html")
    ids, labels, parents, values = treemap_nodes(leaves)
    fig = go.Figure(
        go.Treemap(ids=ids, labels=labels, parents=parents, values=values, branchvalues="total")
    )
    fig.update_layout(
        title=f"{sum(n for _, n in leaves)} images, {' → '.join(DEPTH)}",
        margin={"t": 40, "l": 0, "r": 0, "b": 0},
    )
    expected = fig.to_html(include_plotlyjs="directory", full_html=True, div_id="treemap")
    assert (tmp_path / "treemap.html").read_text() == expected


@pytest.mark.parametrize("encoded_order", ["as images", "another"])
def test_source_fingerprints_hash_each_sources_ids_and_digests_in_id_order(
    db: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoded_order: str
) -> None:
    """Read a chunk of ids at a time (chunks of 2 here, so sources interleave across
    chunks), with both tables stored out of id order (as scan writes them, in unit order),
    ``encoded`` in the order of ``images`` (its rows found by rowid) or in another (by id),
    an image with no bytes read and bytes of no image, the fingerprint is still sha256 over
    "<id> <source sha256>\\n" per source, in id order."""
    images = [(f"id-{k:02d}", ["eol", "inat21", "bioscan"][k % 3]) for k in range(11)]
    db.executemany(
        "INSERT INTO images (treeoflife_id, identity_key, source, member, label_key) "
        "VALUES (?, ?, ?, ?, 'l')",
        [(tid, f"key:{tid}", source, f"{tid}.jpg") for tid, source in reversed(images)],
    )
    unread = images[4][0]
    shas = {tid: hashlib.sha256(tid.encode()).hexdigest() for tid, _ in images if tid != unread}
    orphan = {"id-05x": "f" * 64}  # bytes read of an image no longer listed: not hashed
    if encoded_order == "as images":  # the unread image's rowid holds the orphan's bytes
        stored = [(tid, shas.get(tid, orphan["id-05x"])) for tid, _ in reversed(images)]
    else:
        stored = sorted((shas | orphan).items(), key=lambda item: item[1])
    db.executemany(
        "INSERT INTO encoded (treeoflife_id, unit, source_bytes, source_sha256) "
        "VALUES (?, 'u', 1, ?)",
        [(("id-05x" if tid == unread else tid), sha) for tid, sha in stored],
    )
    monkeypatch.setattr(report, "FINGERPRINT_CHUNK", 2)
    expected = {}
    for source in sorted({s for _, s in images}):
        mine = sorted(tid for tid, s in images if s == source)
        text = "".join(f"{tid} {shas.get(tid, '')}\n" for tid in mine)
        expected[source] = {
            "images": len(mine),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    path = tmp_path / "out" / builddb.DB_NAME
    assert source_fingerprints(path) == expected
    assert list(source_fingerprints(path)) == ["bioscan", "eol", "inat21"]


T3 = 't3,"q"'  # a tol10m id is its file's name: quoted where csv.writer quotes it


def test_licenses_csv_is_what_csv_writer_writes_in_shard_order_and_tallies_the_rights(
    tmp_path: Path,
) -> None:
    """licenses.csv is rendered by SQLite a shard at a time: with samples stored out of
    shard order, rights texts and an id that need quotes (comma, quote, line break) and a source
    that said "unknown", the file is byte for byte csv.writer's rows in (split, shard,
    position) order, and the licensed tally gives the counts a grouped probe of rights
    gives (each sample once)."""
    conn = builddb.connect(tmp_path / "out", create=True)
    planned = [  # (split, shard, position, id, source, status)
        ("val", 0, 1, "v1", "eol", "resolved"),
        ("train", 1, 0, T3, "gbif", "partial"),
        ("train_small", 0, 0, "t2", "eol", "resolved"),
        ("train", 0, 1, "t2", "eol", "resolved"),
        ("val", 0, 0, "v0", "gbif", "resolved"),
        ("train", 0, 0, "t1", "eol", "ambiguous"),
    ]
    samples.insert(
        conn,
        [
            (
                split,
                shard,
                position,
                tid,
                source,
                f"label:{tid}",
                *(None for _ in ID_COLUMNS),
                f"id:{tid}",
                None,
                f"{tid}.jpg",
                "0" * 64,
                640,
                480,
                "[]",
            )
            for split, shard, position, tid, source, _ in planned
        ],
    )
    conn.executemany(  # each sample's label, with its status
        f"INSERT INTO taxa VALUES ({', '.join('?' * (len(RANKS) + 4))})",
        [
            (f"label:{tid}", *(GANNET[f] for f in (*RANKS, "common")), status, "{}")
            for split, _, _, tid, _, status in planned
            if split != "train_small"
        ],
    )
    rights = [
        ("t2", "cc-by-4.0", 'CC BY 4.0, "attribution"', "Ann, Bo", "http://a\nb"),
        ("v0", "unknown", "ask the author", "", ""),
        (T3, "cc0-1.0", "CC0", "Cy", "http://c"),
    ]
    conn.executemany(
        "INSERT INTO rights (treeoflife_id, license, license_text, rights_holder, source_url, "
        "origin) VALUES (?, ?, ?, ?, ?, 'test')",
        rights,
    )
    _rights_into_samples(conn)
    said = {tid: rest for tid, *rest in rights}
    order = sorted((p for p in planned if p[0] != "train_small"), key=lambda p: p[:3])
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(report.LICENSE_COLUMNS)
    for _, _, _, tid, source, _ in order:
        writer.writerow([tid, source, *said.get(tid, ["unknown", "", "", ""])])
    seen = report.Seen()
    assert write_licenses(conn, tmp_path / "licenses.csv", seen) == 5
    assert (tmp_path / "licenses.csv").read_bytes() == expected.getvalue().encode()
    assert report.licensed_counts(conn, seen.licensed) == report.licensed_counts(conn)
    probed = conn.execute(
        "SELECT COALESCE(r.license, 'unknown'), s.source, t.status, COUNT(*) "
        "FROM samples s LEFT JOIN rights r ON r.treeoflife_id = s.treeoflife_id "
        "JOIN taxa t ON t.label_key = s.label_key "
        "WHERE s.split != 'train_small' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()
    # the stats from what the licenses pass counted are those of a grouped pass
    counted = report._report_counts(conn, seen.labels)
    assert counted == report._report_counts(conn)
    assert counted[0]["samples"] == {"train": 3, "train_small": 1, "val": 2}
    assert report.combined_counts(counted[2], report.licensed_counts(conn, seen.licensed)) == probed
    assert probed == report.unique_counts(conn)
    conn.close()
    # as tol publish reads them, on a connection that writes nothing (not even temp tables)
    reader = builddb.open_read_only(tmp_path / "out" / "build.sqlite")
    assert report.unique_counts(reader) == probed
    reader.close()


def test_the_code_columns_of_licenses_csv_never_need_quotes() -> None:
    """licenses.csv writes a sample's source and license code unquoted (no quoting test a
    sample): an adapter's name and every code ``licenses.normalise`` makes, whatever text a
    source gives, hold none of the characters csv.writer quotes."""
    from treeoflife import csvtext, licenses
    from treeoflife.sources import ADAPTERS

    assert set(report.CODE_COLUMNS) <= set(report.LICENSE_COLUMNS)
    said = [
        'CC BY-NC 4.0, "attribution"\n',
        "https://creativecommons.org/licenses/by-nc-sa/3.0/,x",
        'cc0 "1.0"',
        'Public domain, "no known copyright"',
        "All rights reserved,\r\n",
        'Attribution, share alike 2.5 "cc"',
        '"weird", license\n',
        "",
    ]
    codes = {licenses.normalise(text, url) for text in said for url in ("", *said)}
    codes |= {licenses.UNKNOWN, licenses.OTHER, licenses.PUBLIC_DOMAIN}
    names = {adapter.NAME for adapter in ADAPTERS}
    for value in codes | names:
        assert not set(value) & set(csvtext.special_characters("\n")), value


def test_a_treemap_of_too_many_families_folds_the_smallest_and_still_adds_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from treeoflife.reports import treemap

    monkeypatch.setattr(treemap, "MAX_LEAVES", 2)
    leaves = [
        (("Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae"), 10),
        (("Animalia", "Chordata", "Aves", "Passeriformes", "Paridae"), 5),
        (("Animalia", "Chordata", "Mammalia", "Carnivora", "Canidae"), 7),
        (("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Rosaceae"), 3),
        (("Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae"), 1),
    ]
    ids, _, parents, values = treemap.treemap_nodes(leaves)
    value = dict(zip(ids, values, strict=True))
    # the two largest families are shown; each other one counts under its deepest shown
    # ancestor, or at the root
    assert value["Animalia/Chordata/Aves/Passeriformes/Corvidae"] == 10
    assert value["Animalia/Chordata/Mammalia/Carnivora/Canidae"] == 7
    assert value["Animalia/Chordata/Aves/Passeriformes/(other)"] == 5
    assert value["Animalia/(other)"] == 1
    assert value["(other)"] == 3
    assert not any(name in i for i in ids for name in ("Paridae", "Rosaceae", "Nymphalidae"))
    children: dict[str, int] = {}
    for node, parent in zip(ids, parents, strict=True):
        children[parent] = children.get(parent, 0) + value[node]
    assert children[""] == 26 and value["Animalia"] == 23
    assert all(value[p] == total for p, total in children.items() if p)
    treemap.write_treemap(leaves, tmp_path / "treemap.html")
    assert "the 2 largest of 5 families shown" in (tmp_path / "treemap.html").read_text()
