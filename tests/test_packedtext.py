"""PackedStrings gives back exactly the strings it was made of, whatever they hold, and
holds a label's repeated provenance record once."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from treeoflife.packedtext import PackedStrings

SEPARATORS = ('"record": ', ', "source": ')


def _awkward_strings(count: int, seed: int) -> list[str]:
    """Strings made of the separators, parts of them and other text in any order: empty,
    a separator alone, separators back to back, at either end, non-ASCII."""
    rng = random.Random(seed)
    parts = [*SEPARATORS, '"record"', ", ", '"', "é", "x", "", "}, {", "\n"]
    return ["".join(rng.choice(parts) for _ in range(rng.randrange(0, 12))) for _ in range(count)]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_taken_strings_are_the_originals(kind: pa.DataType) -> None:
    strings = pa.array(_awkward_strings(2_000, seed=1), kind)
    # made of chunks of different lengths, one of them empty
    chunks = [strings.slice(0, 700), strings.slice(700, 0), strings.slice(700)]
    packed = PackedStrings(chunks, SEPARATORS, kind)
    assert len(packed) == len(strings)
    rng = random.Random(2)
    indices = pa.array([rng.randrange(len(strings)) for _ in range(5_000)], pa.int64())
    assert packed.take(indices).equals(strings.take(indices))
    everything = pa.array(range(len(strings)), pa.int32())
    assert packed.take(everything).equals(strings)


def test_null_and_no_indices() -> None:
    strings = pa.array(['a"record": b', "", '"record": '])
    packed = PackedStrings([strings], SEPARATORS, pa.string())
    indices = pa.array([2, None, 0, None], pa.int64())
    assert packed.take(indices).to_pylist() == ['"record": ', None, 'a"record": b', None]
    assert packed.take(pa.array([], pa.int64())).to_pylist() == []


def test_null_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="non-null"):
        PackedStrings([pa.array(["a", None])], SEPARATORS, pa.string())


def test_no_strings() -> None:
    packed = PackedStrings([], SEPARATORS, pa.string())
    assert len(packed) == 0
    assert packed.take(pa.array([], pa.int64())).to_pylist() == []


def test_a_labels_repeated_record_is_held_once() -> None:
    ranks = ("class", "common", "family", "genus", "kingdom", "order", "phylum", "species")
    labels = []
    for i in range(1_000):
        record = f"tol10m:Animalia|Chordata|Aves|Charadriiformes|Alcidae|Fratercula{i}|arctica"
        entry = {"how": "given", "record": record, "source": "tol10m"}
        labels.append(json.dumps(dict.fromkeys(ranks, entry), sort_keys=True))
    strings = pa.array(labels)
    packed = PackedStrings([strings.slice(0, 500), strings.slice(500)], SEPARATORS, pa.string())
    assert packed.take(pa.array(range(1_000))).equals(strings)
    # eight copies of each record held as one: well under half the bytes
    assert packed.nbytes < strings.nbytes / 2
