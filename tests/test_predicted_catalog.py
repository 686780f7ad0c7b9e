"""predicted-catalog.csv is exactly what csv.writer writes, though SQLite renders its lines."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from treeoflife.columns import ID_COLUMNS
from treeoflife.config import SplitConfig
from treeoflife.reports import predicted
from treeoflife.reports.predicted import (
    PREDICTED_COLUMNS,
    class_index_json,
    write_predicted_catalog,
)
from treeoflife.stages import split as split_stage
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


def test_the_split_pass_writes_what_the_splits_table_gives(tmp_path: Path, monkeypatch) -> None:
    """The stable split renders the catalog's lines and counts check-taxa's labels in its
    own walk of the images (storage order, no probe of ``splits``); both must be what the
    ``splits`` table gives, awkward values, an unreadable and a filtered image included,
    over several batches (a label's first image, and its source, is in the earliest)."""
    monkeypatch.setattr(split_stage, "BATCH", 7)
    db, rows = _database()
    db.execute("ALTER TABLE images ADD COLUMN source TEXT NOT NULL DEFAULT 'generic'")
    # each label's images from two sources: the smallest id's is the one reported
    db.execute(
        "UPDATE images SET source = 'inat21' WHERE CAST(substr(treeoflife_id, 4) AS INT) % 3"
    )
    db.execute("ALTER TABLE taxa ADD COLUMN status TEXT NOT NULL DEFAULT 'resolved'")
    db.execute("CREATE TABLE encoded (treeoflife_id TEXT PRIMARY KEY, reject TEXT)")
    db.execute("CREATE TABLE rejects (item TEXT, stage TEXT, reason TEXT)")
    db.execute("CREATE TABLE clusters (member TEXT PRIMARY KEY, cluster TEXT, is_eval INT)")
    ids = [tid for (tid,) in db.execute("SELECT treeoflife_id FROM images ORDER BY rowid")]
    unreadable, filtered = ids[3], ids[8]
    db.executemany(  # in the images' storage order, as scan writes it
        "INSERT INTO encoded VALUES (?, ?)",
        [(t, "jpeg_corrupt" if t == unreadable else None) for t in ids],
    )
    db.execute("INSERT INTO rejects VALUES (?, 'filter', 'image_blank')", (filtered,))
    db.executemany("INSERT INTO clusters VALUES (?, ?, 0)", [(ids[1], ids[1]), (ids[2], ids[1])])
    db.execute("DELETE FROM splits")
    db.commit()

    split_dir, table_dir = tmp_path / "split", tmp_path / "table"
    for d in (split_dir, table_dir):
        (d / "reports").mkdir(parents=True)
    tally = predicted.LabelTally()
    with predicted.writing(split_dir, db) as catalog:
        for assigned, batch in split_stage._stable_batches(db, SplitConfig(), (), catalog.no_taxon):
            db.executemany("INSERT INTO splits VALUES (?, ?, ?)", assigned)
            catalog.write(assigned, batch)
            tally.add(batch, label=5, source=6)
    db.commit()
    predicted.check_tally(split_dir, db, tally)
    # the exact method's check (a walk of the same images, SQLite counting) agrees
    (tmp_path / "walk" / "reports").mkdir(parents=True)
    predicted.check(tmp_path / "walk", db, split_stage.SPLIT_IMAGES)
    write_predicted_catalog(table_dir, db)
    predicted.check(table_dir, db, predicted.SPLIT_IMAGES)

    in_splits = {t for (t,) in db.execute("SELECT treeoflife_id FROM splits")}
    assert in_splits == set(ids) - {unreadable, filtered}
    for name in (predicted.PREDICTED, "reports/check-taxa-predicted.json"):
        assert (split_dir / name).read_bytes() == (table_dir / name).read_bytes()
    check = (split_dir / "reports/check-taxa-predicted.json").read_bytes()
    assert (tmp_path / "walk/reports/check-taxa-predicted.json").read_bytes() == check
    # a label's images count under its smallest id's source: id-000 and id-003 are generic
    # (9 images each, one left out), id-001 and id-002 inat21 (10 each), id-unsplit generic
    assert json.loads(check)["by_source"] == {"generic": 19, "inat21": 20}
    text = (split_dir / predicted.PREDICTED).read_text(encoding="utf-8")
    assert '"a,b"' in text and '"3,4"' in text  # quoted values took the slow path


def test_a_batch_of_heads_is_plain_exactly_when_each_one_is() -> None:
    """Catalog.write tests a batch's id columns joined, once, before testing line by line:
    it must agree with the per-line test whatever the mix (a value with a comma, a quote, a
    line break; plain lines around it)."""
    db, _ = _database()
    heads = [h for (h,) in db.execute(f"SELECT {predicted.HEAD} FROM images i ORDER BY rowid")]
    plain = [h for h in heads if predicted._plain_head(h)]
    assert plain and len(plain) < len(heads)
    answers = set()
    for size in (1, 2, 3, 7):
        for start in range(len(heads) - size + 1):
            window = heads[start : start + size]
            answers.add(each := all(predicted._plain_head(h) for h in window))
            assert predicted._all_plain(window) == each, window
        assert predicted._all_plain(plain[:size]) is True
    assert answers == {True, False}
