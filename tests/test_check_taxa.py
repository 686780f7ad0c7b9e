"""check-taxa's per-label counts of a build (``LabelCounts``): what the catalog stage counts
from its batches must be what ``label_rows`` says in SQL, however the batches fall."""

from __future__ import annotations

import random

import pyarrow as pa

from treeoflife.reports.check_taxa import LabelCounts


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
