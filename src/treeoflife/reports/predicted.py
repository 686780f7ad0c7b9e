"""``predicted-catalog.csv``: every image with its split and label, before any shard.

The reference's make_metadata output: one row per image and split (train_small rows repeat
train ones, as in TreeOfLife-10M), rows held out for the Rare Species benchmark or left
out by ``[select]`` included; ``reports/class-index.json`` numbers the distinct taxa; and
check-taxa on the same rows (``reports/check-taxa-predicted.json``). Written by ``split``,
the first stage at which both the labels and the splits are known.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from treeoflife import atomic
from treeoflife.columns import CATALOG_COLUMNS, ID_COLUMNS
from treeoflife.reports import check_taxa
from treeoflife.taxonomy.ranks import RANKS

PREDICTED = "predicted-catalog.csv"
PREDICTED_COLUMNS = (*CATALOG_COLUMNS, "class_index")
OUTPUTS = (PREDICTED, "reports/check-taxa-predicted.json", "reports/class-index.json")


# the predicted catalog's rows as check-taxa reads them, a row per label
PREDICTED_CHECK = check_taxa.label_rows(
    "SELECT s.split, i.treeoflife_id, i.label_key, i.source, "
    + ", ".join(f'COALESCE(t."{r}", \'\') AS "{r}"' for r in RANKS)
    + ", COALESCE(t.common, '') AS common, t.status "
    "FROM images i JOIN splits s ON s.treeoflife_id = i.treeoflife_id "
    "LEFT JOIN taxa t ON t.label_key = i.label_key"
)


def write(out: Path, db: Any) -> Path:
    """Write the predicted catalog, its class index and its check-taxa report."""
    out_csv = write_predicted_catalog(out, db)
    result = check_taxa.check_query(db, PREDICTED_CHECK)
    result["catalog"] = out_csv.name  # relative to OUT: a build does not depend on where it is
    atomic.write_text(
        Path(out) / "reports" / "check-taxa-predicted.json",
        json.dumps(result, indent=2, sort_keys=True) + "\n",
    )
    return out_csv


def write_predicted_catalog(out: Path, db: Any) -> Path:
    """predicted-catalog.csv: one row per image and split (train_small rows repeat train ones,
    as in TreeOfLife-10M), held-out rows included; class_index numbers the distinct
    seven-rank taxa in sorted order."""
    rank_cols = ", ".join(f't."{r}"' for r in RANKS)
    query = (
        f"SELECT s.split, s.in_train_small, i.treeoflife_id, {', '.join('i.' + c for c in ID_COLUMNS)}, {rank_cols}, t.common "
        "FROM images i JOIN splits s USING (treeoflife_id) LEFT JOIN taxa t USING (label_key) ORDER BY i.treeoflife_id"
    )
    taxa = sorted(
        {
            tuple(row)
            for row in db.execute(
                f"SELECT DISTINCT {rank_cols} FROM images i JOIN taxa t USING (label_key)"
            )
        }
    )
    class_index = {t: i for i, t in enumerate(taxa)}
    path = Path(out) / PREDICTED
    tmp = atomic.temp_path(path)
    with atomic.removed_on_failure(tmp), tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PREDICTED_COLUMNS)
        for row in db.execute(query):
            split, small, rest = row[0], row[1], list(row[2:])
            rest = ["" if v is None else v for v in rest]
            ranks = tuple(rest[1 + len(ID_COLUMNS) : 1 + len(ID_COLUMNS) + len(RANKS)])
            idx = class_index.get(ranks, "")
            writer.writerow([split, *rest, idx])
            if small:
                writer.writerow(["train_small", *rest, idx])
        fh.flush()
        os.fsync(fh.fileno())
    atomic.publish(tmp, path)
    atomic.write_text(
        Path(out) / "reports" / "class-index.json",
        json.dumps(
            {
                "taxa": [list(t) for t in taxa],
                "ranks": {r: sorted({t[i] for t in taxa if t[i]}) for i, r in enumerate(RANKS)},
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
    )
    return path
