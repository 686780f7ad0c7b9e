"""``predicted-catalog.csv``: every image with its split and label, before any shard.

The reference's make_metadata output: one row per image and split (train_small rows repeat
train ones, as in TreeOfLife-10M), rows held out for the Rare Species benchmark or left
out by ``[select]`` included; ``reports/class-index.json`` numbers the distinct taxa; and
check-taxa on the same rows (``reports/check-taxa-predicted.json``). Written by ``split``,
the first stage at which both the labels and the splits are known.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from treeoflife import atomic, builddb, csvtext
from treeoflife.columns import CATALOG_COLUMNS, ID_COLUMNS
from treeoflife.reports import check_taxa
from treeoflife.taxonomy.ranks import RANKS

PREDICTED = "predicted-catalog.csv"
PREDICTED_COLUMNS = (*CATALOG_COLUMNS, "class_index")
OUTPUTS = (PREDICTED, "reports/check-taxa-predicted.json", "reports/class-index.json")


# the predicted catalog's rows as check-taxa reads them, a row per label: images read in
# storage order (NOT INDEXED: walking images_by_label in label order would fetch each row
# at random once the table outgrows the page cache), each id looked up in splits
PREDICTED_CHECK = check_taxa.label_rows(
    "SELECT i.treeoflife_id, i.label_key, i.source FROM images i NOT INDEXED "
    "WHERE i.treeoflife_id IN (SELECT treeoflife_id FROM splits)",
    labels="taxa",
    train_small_rows=False,  # in_train_small is a flag: splits has one row per image
)


def write(out: Path, db: Any) -> Path:
    """Write the predicted catalog from ``splits``, its class index and its check-taxa report."""
    out_csv = write_predicted_catalog(out, db)
    check(out, db)
    return out_csv


def write_predicted_catalog(out: Path, db: Any) -> Path:
    """predicted-catalog.csv from the ``splits`` table: one row per image and split
    (train_small rows repeat train ones, as in TreeOfLife-10M), held-out rows included;
    class_index numbers the distinct seven-rank taxa in sorted order.

    The split stage's ``stable`` method writes the same file without this pass: its own
    query renders each image's line (:data:`BODY`) as it assigns the split
    (:func:`writing`), which saves probing ``images`` by id in id order."""
    with writing(out, db) as catalog:
        catalog.write_splits(db)
    return catalog.path


class Catalog:
    """The predicted catalog being written: lines in treeoflife_id order, a batch at a time."""

    def __init__(self, path: Path, fh: Any, no_taxon: str) -> None:
        self.path = path
        self._fh = fh
        self.no_taxon = no_taxon  # the parameter of BODY: the tail of an image with no taxa row

    def write(self, assigned: list[tuple[str, str, int]], rows: list[tuple]) -> None:
        """The lines of a batch: ``assigned`` (treeoflife_id, split, in_train_small) and, in
        the same order, ``rows`` whose fourth value is the image's :data:`BODY`.

        Per image only a string concatenation: SQLite rendered the columns, csv.writer
        each label's once (:func:`label_tails`), and :func:`treeoflife.csvtext.sql_field`
        follows its rules, so the file is what csv.writer would write (pyarrow's CSV writer
        quotes every string, so it cannot)."""
        self._fh.write(
            "".join(
                [
                    f"train{r[3]}train_small{r[3]}" if a[2] else a[1] + r[3]
                    for a, r in zip(assigned, rows, strict=True)
                ]
            )
        )

    def write_splits(self, db: Any) -> None:
        """Every line, from the ``splits`` table (probing ``images`` by id, in id order)."""
        cur = db.execute(_SPLIT_BODIES, (self.no_taxon,))
        while batch := cur.fetchmany(BATCH):
            self.write(batch, batch)


@contextmanager
def writing(out: Path, db: Any) -> Iterator[Catalog]:
    """Open predicted-catalog.csv for its lines (:meth:`Catalog.write`), with each used
    label's columns rendered in ``temp.label_tails`` for :data:`BODY`; on leaving, publish
    it and reports/class-index.json. Call it outside a transaction (it makes its own)."""
    taxa, no_taxon = label_tails(db)
    path = Path(out) / PREDICTED
    tmp = atomic.temp_path(path)
    with atomic.removed_on_failure(tmp), tmp.open("w", newline="", encoding="utf-8") as fh:
        fh.write(render(PREDICTED_COLUMNS) + EOL)
        yield Catalog(path, fh, no_taxon)
        fh.flush()
        os.fsync(fh.fileno())
    db.execute("DROP TABLE temp.label_tails")
    atomic.publish(tmp, path)
    atomic.write_text(Path(out) / "reports" / "class-index.json", class_index_json(taxa))


def check(out: Path, db: Any) -> None:
    """reports/check-taxa-predicted.json: check-taxa on the rows of the predicted catalog."""
    result = check_taxa.check_query(db, PREDICTED_CHECK)
    result["catalog"] = PREDICTED  # relative to OUT: a build does not depend on where it is
    atomic.write_text(
        Path(out) / "reports" / "check-taxa-predicted.json",
        json.dumps(result, indent=2, sort_keys=True) + "\n",
    )


def class_index_json(taxa: list[tuple[str, ...]]) -> str:
    """reports/class-index.json: the taxa in class-index order, and each rank's values.

    The text of ``json.dumps(..., indent=1, ensure_ascii=False)``, built with json's own C
    string encoder: json's indenting encoder is pure Python, some 50 µs a taxon."""
    ranks = {r: sorted({t[i] for t in taxa if t[i]}) for i, r in enumerate(RANKS)}
    return (
        '{\n "taxa": '
        + _json_list([_json_strings(t, 2) for t in taxa], 1)
        + ',\n "ranks": '
        + (
            "{\n"
            + ",\n".join(
                f"  {encode_basestring(r)}: {_json_strings(v, 2)}" for r, v in ranks.items()
            )
            + "\n }"
        )
        + "\n}\n"
    )


def _json_strings(strings: Iterable[str], depth: int) -> str:
    return _json_list([encode_basestring(s) for s in strings], depth)


def _json_list(items: list[str], depth: int) -> str:
    """A JSON list of already encoded items, as json.dumps(indent=1) lays it out at ``depth``."""
    if not items:
        return "[]"
    inner = " " * (depth + 1)
    return "[\n" + ",\n".join(inner + item for item in items) + "\n" + " " * depth + "]"


BATCH = 10_000  # rows fetched at once: the writer holds one batch
EOL = "\r\n"  # csv.writer's line terminator


def render(row: Iterable[Any]) -> str:
    """One CSV record, without its line end, exactly as csv.writer writes it."""
    buf = io.StringIO(newline="")
    csv.writer(buf).writerow(row)  # its own line end: it decides what is quoted (CR, LF)
    return buf.getvalue().removesuffix(EOL)


def label_tails(db: Any) -> tuple[list[tuple[str, ...]], str]:
    """temp.label_tails: each used label's last catalog columns (ranks, common, class_index)
    rendered once. Returns the class index's taxa (the images' distinct seven-rank taxa,
    sorted: one tuple per taxon, never one per image) and the columns of an image whose
    label has no taxa row (empty, and the class of the empty taxon if there is one)."""
    rank_cols = ", ".join(f't."{r}"' for r in RANKS)
    used = "WHERE EXISTS (SELECT 1 FROM images i WHERE i.label_key = t.label_key)"
    taxa = sorted(set(db.execute(f"SELECT DISTINCT {rank_cols} FROM taxa t {used}")))
    class_index = {t: i for i, t in enumerate(taxa)}
    with builddb.transaction(db):  # one commit: autocommitted, each insert is a transaction
        db.execute("DROP TABLE IF EXISTS temp.label_tails")
        db.execute(
            "CREATE TEMP TABLE label_tails (label_key TEXT PRIMARY KEY, tail TEXT) WITHOUT ROWID"
        )
        labels = db.execute(
            f"SELECT t.label_key, {rank_cols}, t.common FROM taxa t {used} ORDER BY t.label_key"
        )
        while batch := labels.fetchmany(BATCH):
            db.executemany(
                "INSERT INTO temp.label_tails VALUES (?, ?)",
                [(key, render((*rest, class_index[tuple(rest[:-1])]))) for key, *rest in batch],
            )
    empty = ("",) * len(RANKS)
    return taxa, render((*empty, "", class_index.get(empty, "")))


# an image's predicted line after its split: its id columns and its label's tail, CSV text
# (over ``images i`` LEFT JOIN :data:`LABEL_TAILS`; the parameter is ``Catalog.no_taxon``)
# (printf joins the fields in one allocation; a chain of || copies the growing line each
# time; a value's own % is never read as a format)
_ID_FIELDS = [csvtext.sql_field(f"i.{c}") for c in ("treeoflife_id", *ID_COLUMNS)]
BODY = (
    f"printf('{',%s' * len(_ID_FIELDS)},%s%s', {', '.join(_ID_FIELDS)}, COALESCE(lt.tail, ?), "
    "char(13, 10))"  # EOL
)
LABEL_TAILS = "LEFT JOIN temp.label_tails lt ON lt.label_key = i.label_key"
_SPLIT_BODIES = (
    f"SELECT s.treeoflife_id, s.split, s.in_train_small, {BODY} "
    f"FROM splits s JOIN images i ON i.treeoflife_id = s.treeoflife_id {LABEL_TAILS} "
    "ORDER BY s.treeoflife_id"
)
