"""predicted-catalog.csv is exactly what csv.writer writes, though SQLite renders its lines."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from treeoflife.columns import ID_COLUMNS
from treeoflife.reports.predicted import (
    PREDICTED_COLUMNS,
    class_index_json,
    write_predicted_catalog,
)
from treeoflife.taxonomy.ranks import RANKS

TRICKY = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "Ælfrēd 中文", "", " lead", "x;y"]


def _database() -> tuple[sqlite3.Connection, list[list]]:
    """A build database with awkward values in every text column, and the rows (id, split,
    in_train_small, id columns, label_key) it holds."""
    db = sqlite3.connect(":memory:")
    ids = ", ".join(ID_COLUMNS)
    db.execute(f"CREATE TABLE images (treeoflife_id TEXT PRIMARY KEY, label_key TEXT, {ids})")
    db.execute("CREATE TABLE splits (treeoflife_id TEXT PRIMARY KEY, split TEXT, in_train_small)")
    ranks = ", ".join(f'"{r}" TEXT NOT NULL' for r in RANKS)
    db.execute(f"CREATE TABLE taxa (label_key TEXT PRIMARY KEY, {ranks}, common TEXT NOT NULL)")
    labels = {
        "full": ["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"],
        "tricky": ["Plantae", TRICKY[1], TRICKY[2], TRICKY[3], TRICKY[4], TRICKY[5], ""],
        "empty": [""] * len(RANKS),
        "unsplit": ["Fungi", "", "", "", "", "", ""],  # only an image that is in no split has it
    }
    for key, values in labels.items():
        db.execute(
            f"INSERT INTO taxa VALUES ({', '.join('?' * (len(RANKS) + 2))})",
            (key, *values, TRICKY[len(key)]),
        )
    rows = []
    for n in range(40):
        text = TRICKY[n % len(TRICKY)]
        id_values = [
            n * 7 if c in ("eol_content_id", "inat21_cls_num") else None for c in ID_COLUMNS
        ]
        id_values[ID_COLUMNS.index("inat21_filename")] = text if n % 3 else None
        id_values[ID_COLUMNS.index("bioscan_part")] = (
            "3,4" if n == 5 else None
        )  # text in an int column
        label = ("full", "tricky", "empty", "not-in-taxa")[n % 4]
        split = "val" if n % 5 == 0 else "train"
        rows.append([f"id-{n:03d}", split, int(split == "train" and n % 2 == 0), id_values, label])
    for tid, split, small, id_values, label in rows[::-1]:  # not in id order
        db.execute(
            f"INSERT INTO images VALUES (?, ?, {', '.join('?' * len(ID_COLUMNS))})",
            (tid, label, *id_values),
        )
        db.execute("INSERT INTO splits VALUES (?, ?, ?)", (tid, split, small))
    nulls = ", ".join(["NULL"] * len(ID_COLUMNS))
    db.execute(f"INSERT INTO images VALUES ('id-unsplit', 'unsplit', {nulls})")  # filtered out
    db.commit()
    return db, rows


def test_the_predicted_catalog_is_byte_for_byte_what_csv_writer_writes(tmp_path: Path) -> None:
    db, rows = _database()
    (tmp_path / "reports").mkdir()
    path = write_predicted_catalog(tmp_path, db)

    rank_cols = ", ".join(f'"{r}"' for r in RANKS)
    taxa = {k: tuple(v) for k, *v in db.execute(f"SELECT label_key, {rank_cols}, common FROM taxa")}
    # the class index numbers the taxa of every image, also one in no split
    used = [label for *_, label in rows] + ["unsplit"]
    classes = sorted({taxa[label][:-1] for label in used if label in taxa})
    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(PREDICTED_COLUMNS)
    for tid, split, small, id_values, label in sorted(rows, key=lambda r: r[0]):
        named = taxa.get(label, ("",) * (len(RANKS) + 1))
        rest = [tid, *("" if v is None else v for v in id_values), *named]
        writer.writerow([split, *rest, classes.index(named[:-1])])
        if small:
            writer.writerow(["train_small", *rest, classes.index(named[:-1])])
    assert path.read_bytes() == expected.getvalue().encode()

    index = json.loads((tmp_path / "reports" / "class-index.json").read_text())
    assert index["taxa"] == [list(t) for t in classes]


def test_class_index_json_is_the_text_json_dumps_writes() -> None:
    taxa = [
        ("Animalia", "Chordata", "Aves", "", "", "", ""),
        ("", "", "", "", "", "", ""),
        tuple(TRICKY[1:8]),
        ("Plantae", 'a "quoted"\\ name', "tab\there", "\x00\x1f", "中文", "é", "🦉"),
    ]
    for some in (taxa, taxa[:1], taxa[1:2], []):
        ranks = {r: sorted({t[i] for t in some if t[i]}) for i, r in enumerate(RANKS)}
        expected = json.dumps(
            {"taxa": [list(t) for t in some], "ranks": ranks}, indent=1, ensure_ascii=False
        )
        assert class_index_json(some) == expected + "\n"
