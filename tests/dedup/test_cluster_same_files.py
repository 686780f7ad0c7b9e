"""Cluster links byte-identical files whose pictures have no hash (flat placeholders): each
to the first such source file with its bytes, and each eval image with those bytes to every
one of them; files with a hash, rejected files and files with no digest are not linked
this way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from treeoflife import builddb
from treeoflife.stages import cluster


def test_identical_flat_files_are_linked_to_the_first_and_to_eval_copies(tmp_path: Path) -> None:
    db = builddb.connect(tmp_path / "out", create=True)
    encoded = [  # (id, sha256 of the bytes, reject, phash)
        ("a", "s1", None, None),  # rowid 1: the first flat file with bytes s1
        ("b", "s2", None, 7),  # a hash of its own: meets copies through the hash
        ("c", "s1", None, None),  # a copy of a
        ("d", "s1", "image_unreadable", None),  # rejected: no JPEG, not clustered
        ("e", None, None, None),  # no digest: nobody's copy
        ("f", "s3", None, None),  # flat, bytes of its own…
        ("g", "s1", None, None),  # …another copy of a
        ("h", None, None, None),
    ]
    db.executemany(
        "INSERT INTO encoded (treeoflife_id, unit, source_bytes, source_sha256, reject, phash) "
        "VALUES (?, 'u', 1, ?, ?, ?)",
        encoded,
    )
    db.execute("INSERT INTO eval_files VALUES ('/e', 'evalset', 1, 1, '')")
    db.executemany(
        "INSERT INTO eval_images VALUES (?, '/e', ?, ?)",
        [("x", None, "s3"), ("y", 5, "s1"), ("z", None, "s1"), ("w", None, "s9")],
    )
    src = cluster._column_arrays(db, cluster._SOURCE_HASHES)
    evals = cluster._column_arrays(db, cluster._EVAL_HASHES)
    a, b = cluster._same_files(db, (src[0], src[2]), (evals[0], evals[2]))
    ids = [e[0] for e in encoded if e[2] is None] + ["x", "y", "z", "w"]
    pairs = {(ids[i], ids[j]) for i, j in zip(a.tolist(), b.tolist(), strict=True)}
    assert pairs == {("c", "a"), ("g", "a"), ("f", "x"), ("a", "z"), ("c", "z"), ("g", "z")}
    assert np.array_equal(src[0], [1, 2, 3, 5, 6, 7, 8])
    db.close()
