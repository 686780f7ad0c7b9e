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
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from json.encoder import encode_basestring
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from treeoflife import atomic, builddb, csvtext
from treeoflife.columns import CATALOG_COLUMNS, ID_COLUMNS
from treeoflife.reports import check_taxa
from treeoflife.taxonomy.ranks import RANKS

PREDICTED = "predicted-catalog.csv"
PREDICTED_COLUMNS = (*CATALOG_COLUMNS, "class_index")
OUTPUTS = (PREDICTED, "reports/check-taxa-predicted.json", "reports/class-index.json")


# the images of ``splits`` (treeoflife_id, label_key, source) when nothing better is
# known: images read in storage order (NOT INDEXED: walking images_by_label in label order
# would fetch each row at random once the table outgrows the page cache), each id looked
# up in splits. The split stage passes its own walk instead (split.SPLIT_IMAGES), which
# selects the same images without a probe of splits at random.
SPLIT_IMAGES = (
    "SELECT i.treeoflife_id, i.label_key, i.source FROM images i NOT INDEXED "
    "WHERE i.treeoflife_id IN (SELECT treeoflife_id FROM splits)"
)


def write(out: Path, db: Any) -> Path:
    """Write the predicted catalog from ``splits``, its class index and its check-taxa report."""
    out_csv = write_predicted_catalog(out, db)
    check(out, db, SPLIT_IMAGES)
    return out_csv


def write_predicted_catalog(out: Path, db: Any) -> Path:
    """predicted-catalog.csv from the ``splits`` table: one row per image and split
    (train_small rows repeat train ones, as in TreeOfLife-10M), held-out rows included;
    class_index numbers the distinct seven-rank taxa in sorted order.

    The split stage's ``stable`` method writes the same file without this pass: its own
    query renders each image's line (:func:`lines`) as it assigns the split
    (:func:`writing`), which saves probing ``images`` by id in id order."""
    with writing(out, db) as catalog:
        catalog.write_splits(db)
    return catalog.path


class Catalog:
    """The predicted catalog being written: lines in treeoflife_id order, a batch at a time."""

    def __init__(self, path: Path, fh: Any, no_taxon: str, db: Any) -> None:
        self.path = path
        self._fh = fh
        self.no_taxon = no_taxon  # the parameter of TAIL: the tail of an image with no taxa row
        self._db = db  # for the rare line whose id columns need quotes

    def write(self, assigned: list[tuple[str, str, int]], rows: list[tuple]) -> None:
        """The lines of a batch: ``assigned`` (treeoflife_id, split, in_train_small) and, in
        the same order, ``rows`` whose fourth and fifth values are the image's ``head`` and
        ``tail`` (:data:`HEAD`, :data:`TAIL`).

        Per image a test and a string concatenation: SQLite rendered the columns, csv.writer
        each label's once (:func:`label_tails`), and :mod:`treeoflife.csvtext` follows its
        rules, so the file is what csv.writer would write (pyarrow's CSV writer quotes
        every string, so it cannot)."""
        # comprehensions, not a loop of appends: this is per image (r[0] is its id)
        if _all_plain([r[3] for r in rows]):  # nearly every batch
            lines = [r[3] + r[4] for r in rows]
        else:
            plain, quoted = _plain_head, self._quoted_head
            lines = [(r[3] if plain(r[3]) else quoted(r[0])) + r[4] for r in rows]
        self._fh.write(
            "".join(
                [
                    f"train{line}train_small{line}" if a[2] else a[1] + line
                    for a, line in zip(assigned, lines, strict=True)
                ]
            )
        )

    def _quoted_head(self, treeoflife_id: str) -> str:
        """An image's id columns, each value quoted where the writer quotes it."""
        return self._db.execute(_QUOTED_HEAD, (treeoflife_id,)).fetchone()[0]

    def write_splits(self, db: Any) -> None:
        """Every line, from the ``splits`` table (probing ``images`` by id, in id order)."""
        cur = db.execute(_SPLIT_BODIES, (self.no_taxon,))
        while batch := cur.fetchmany(BATCH):
            self.write(batch, batch)


@contextmanager
def writing(out: Path, db: Any) -> Iterator[Catalog]:
    """Open predicted-catalog.csv for its lines (:meth:`Catalog.write`), with each used
    label's columns rendered in ``temp.label_tails`` for :data:`TAIL`; on leaving, publish
    it and reports/class-index.json. Call it outside a transaction (it makes its own)."""
    taxa, no_taxon = label_tails(db)
    path, index = Path(out) / PREDICTED, Path(out) / "reports" / "class-index.json"
    tmp, index_tmp = atomic.temp_path(path), atomic.temp_path(index)
    with atomic.removed_on_failure(tmp, index_tmp):
        # the class index goes to its file before the pass, not held through it: a tuple
        # of seven strings a distinct taxon (~0.6 KB each, ~60 MB at 2M bench images)
        atomic.written_temp(index, class_index_json(taxa).encode("utf-8"))
        del taxa
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            fh.write(render(PREDICTED_COLUMNS) + EOL)
            yield Catalog(path, fh, no_taxon, db)
            fh.flush()
            os.fsync(fh.fileno())
    db.execute("DROP TABLE temp.label_tails")
    atomic.publish(tmp, path)
    atomic.publish(index_tmp, index)


def check(out: Path, db: Any, split_images: str) -> None:
    """reports/check-taxa-predicted.json: check-taxa on the rows of the predicted catalog,
    a row per label. ``split_images`` selects (treeoflife_id, label_key, source) of exactly
    the images in ``splits``, each once."""
    rows = check_taxa.label_rows(
        split_images,
        labels="taxa",
        train_small_rows=False,  # in_train_small is a flag: splits has one row per image
    )
    _write_check(out, check_taxa.check_query(db, rows))


class LabelTally:
    """Each label's images, counted from the batches of a pass over the images of
    ``splits`` in treeoflife_id order (:func:`split._stable_batches`): how many, and the
    first (so smallest) id with its image's source, as :func:`check_taxa.label_rows` counts
    them. The pass reads these images anyway; counting there saves a second walk of
    ``images`` and SQLite's sort of every image by label (~2 s at 1M images). Per image
    only C-level steps (Counter.update, a dict from a reversed batch); what is held is per
    label."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, tuple[str, str]] = {}  # label_key -> (treeoflife_id, source)

    def add(self, rows: Sequence[Sequence], label: int, source: int) -> None:
        """A batch of images (in id order, after every earlier batch): rows whose first
        value is the image's id and whose values at ``label`` and ``source`` are its
        label_key and source."""
        labels = [r[label] for r in rows]
        self.counts.update(labels)
        # a dict keeps the last value given for a key: fed in reverse, each label's first
        earliest = dict(zip(reversed(labels), reversed(rows), strict=True))
        for key in earliest.keys() - self.first.keys():
            # a source's name once, not once a label (a few sources, 560K labels at 10M)
            self.first[key] = (earliest[key][0], sys.intern(earliest[key][source]))


def check_tally(out: Path, db: Any, tally: LabelTally) -> None:
    """:func:`check` from the labels a pass counted (it gave each image of ``splits`` once)."""
    db.execute("DROP TABLE IF EXISTS temp.predicted_labels")
    db.execute(
        "CREATE TEMP TABLE predicted_labels (label_key TEXT PRIMARY KEY, treeoflife_id TEXT, "
        "source TEXT, count INTEGER) WITHOUT ROWID"
    )
    with builddb.transaction(db):
        db.executemany(
            "INSERT INTO temp.predicted_labels VALUES (?, ?, ?, ?)",
            ((key, *first, tally.counts[key]) for key, first in tally.first.items()),
        )
    rows = check_taxa.label_rows(
        "SELECT label_key, treeoflife_id, source, count FROM temp.predicted_labels",
        labels="taxa",
        counted=True,
    )
    _write_check(out, check_taxa.check_query(db, rows))
    db.execute("DROP TABLE temp.predicted_labels")


def _write_check(out: Path, result: dict[str, Any]) -> None:
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


def render_lines(rows: Iterable[Iterable[Any]]) -> list[str]:
    """Each row's CSV record with its line end, exactly as csv.writer writes it: one
    writer for all (it hands each record to ``write`` whole), not one per row (~5 µs)."""
    records: list[str] = []
    csv.writer(SimpleNamespace(write=records.append)).writerows(rows)
    return records


def label_tails(db: Any) -> tuple[list[tuple[str, ...]], str]:
    """temp.label_tails: each used label's last catalog columns (ranks, common, class_index)
    rendered once, with the line end. Returns the class index's taxa (the images' distinct seven-rank taxa,
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
            tails = render_lines([(*rest, class_index[tuple(rest[:-1])]) for _, *rest in batch])
            db.executemany(
                "INSERT INTO temp.label_tails VALUES (?, ?)",
                zip([key for key, *_ in batch], tails, strict=True),
            )
    empty = ("",) * len(RANKS)
    return taxa, render((*empty, "", class_index.get(empty, ""))) + EOL


# an image's predicted line after its split: its id columns (``head``, :data:`HEAD`) and
# its label's tail (``tail``, :data:`TAIL`, whose parameter is ``Catalog.no_taxon``), CSV
# text, over ``images i`` LEFT JOIN :data:`LABEL_TAILS`. The id columns are rendered
# plainly and tested once as a whole in Python (``Catalog.write``): a CASE per value costs
# ~3 µs a line in SQLite, ten times the test, and almost no line needs quotes; the rare one
# that does is rendered value by value (:data:`_QUOTED_HEAD`).
_ID_VALUES = [f"i.{c}" for c in ("treeoflife_id", *ID_COLUMNS)]
HEAD = csvtext.sql_fields(_ID_VALUES)
_PLAIN = csvtext.plain_test()  # the writer's default line end, as the catalog's
_QUOTED_HEAD = (
    f"SELECT {csvtext.sql_fields([csvtext.sql_field(v) for v in _ID_VALUES])} "
    "FROM images i WHERE i.treeoflife_id = ?"
)


def _plain_head(head: str) -> bool:
    """Whether a :data:`HEAD` text (a comma before each id value and after the last) is
    what the writer writes."""
    return _PLAIN(head, len(_ID_VALUES) + 1, 0)


def _all_plain(heads: list[str]) -> bool:
    """Whether every one of these :data:`HEAD` texts is plain, in one test of them joined:
    a few C scans of a batch's text instead of a Python call a line (~0.8 µs). Each head
    has its k + 1 commas and no line end, so the whole is plain exactly when each is."""
    return _PLAIN("".join(heads), len(heads) * (len(_ID_VALUES) + 1), 0)


TAIL = "COALESCE(lt.tail, ?)"
LABEL_TAILS = "LEFT JOIN temp.label_tails lt ON lt.label_key = i.label_key"
_SPLIT_BODIES = (
    f"SELECT s.treeoflife_id, s.split, s.in_train_small, {HEAD}, {TAIL} "
    f"FROM splits s JOIN images i ON i.treeoflife_id = s.treeoflife_id {LABEL_TAILS} "
    "ORDER BY s.treeoflife_id"
)
