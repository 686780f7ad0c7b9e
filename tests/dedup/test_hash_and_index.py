"""The perceptual hash and the near-duplicate index: transformed copies of a photo form one
cluster, other photos of the same scene do not, and the index finds exactly the pairs an
all-pairs comparison finds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from treeoflife.dedup import index
from treeoflife.dedup.phash import THRESHOLD
from treeoflife.images import ImageSpec, process_image
from treeoflife.sample.copies import copies, lookalike

SEEDS = (1, 2, 3, 4, 7)


def _hash(name: str, data: bytes) -> int:
    enc = process_image(data, name, ImageSpec())
    assert enc.jpeg is not None and enc.phash is not None, name
    return enc.phash


def test_clusters_are_exactly_the_transformed_families() -> None:
    names, hashes, family = [], [], []
    for seed in SEEDS:
        for kind, data in copies(seed).items():
            names.append(f"{seed}/{kind}")
            hashes.append(_hash(f"{kind}.{'png' if kind == 'png' else 'jpg'}", data))
            family.append(seed)
        names.append(f"{seed}/lookalike")
        hashes.append(_hash("lookalike.jpg", lookalike(seed)))
        family.append(-seed)  # a photo of its own
    labels = index.clusters(index.as_unsigned(np.array(hashes, dtype=np.int64)), THRESHOLD)
    found = {
        frozenset(n for n, lab in zip(names, labels, strict=True) if lab == c) for c in set(labels)
    }
    expected = {
        frozenset(n for n, f in zip(names, family, strict=True) if f == fam) for fam in set(family)
    }
    assert found == expected


def test_a_flat_picture_has_no_hash_and_clusters_only_with_identical_files() -> None:
    from PIL import Image

    from collection import jpeg_bytes  # a colour under a top-to-bottom ramp
    from treeoflife.sample.photos import jpeg_bytes as encode

    flat = encode(Image.new("RGB", (64, 48), (40, 90, 20)))
    assert process_image(flat, "a.jpg", ImageSpec()).phash is None
    assert process_image(jpeg_bytes(1), "b.jpg", ImageSpec()).phash is None
    hashes = np.zeros(4, dtype=np.uint64)
    has = np.array([False, False, False, True])
    labels = index.clusters(hashes, THRESHOLD, has, (np.array([2]), np.array([0])))
    assert labels.tolist() == [0, 1, 0, 3]  # 0 and 2: the same bytes; 1: another flat file


def _brute(h: np.ndarray, t: int) -> set[tuple[int, int]]:
    """Every pair within t bits; the index lists each once, sorted (compared as a list)."""
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(h)), 2)
        if int(h[i] ^ h[j]).bit_count() <= t
    }


def test_the_index_finds_exactly_the_near_pairs_all_pairs_would() -> None:
    rng = np.random.default_rng(5)
    for t in (1, 3, 6, 8):
        h = rng.integers(0, 2**63, size=600, dtype=np.int64).view(np.uint64)
        for i in range(0, 200, 2):  # plant pairs at every distance up to t + 1
            flips = rng.choice(64, size=1 + i % (t + 1), replace=False)
            h[i + 1] = h[i] ^ np.uint64(sum(1 << int(f) for f in flips))
        h = np.unique(h)
        a, b, d = index.near_pairs(h, t)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == sorted(_brute(h, t))
        assert d.max() <= t


def test_the_tables_searched_in_threads_give_the_same_pairs_in_the_same_order() -> None:
    """The stage searches two tables at once; the pairs, their distances and their order
    are those of one table after another (and all pairs would find the same)."""
    rng = np.random.default_rng(11)
    h = rng.integers(0, 2**63, size=3000, dtype=np.int64).view(np.uint64)
    for i in range(0, 1000, 2):
        flips = rng.choice(64, size=1 + i % 6, replace=False)
        h[i + 1] = h[i] ^ np.uint64(sum(1 << int(f) for f in flips))
    h = np.unique(h)
    one = index.near_pairs(h, 5)
    assert len(one[0]) >= 400
    for threads in (2, 3):
        many = index.near_pairs(h, 5, threads)
        assert all(np.array_equal(x, y) for x, y in zip(one, many, strict=True))
    assert list(zip(one[0].tolist(), one[1].tolist(), strict=True)) == sorted(_brute(h, 5))


@pytest.mark.parametrize(("share", "stride"), [(0.0, 1 << 20), (0.05, 7), (1.0, 7), (1.0, 1 << 20)])
def test_groups_compared_over_slices_or_at_gathered_positions_give_the_same_pairs(
    monkeypatch: pytest.MonkeyPatch, share: float, stride: int
) -> None:
    """A table compares an offset over whole slices while many positions have a partner
    there (index.DENSE_SHARE), then at the positions that do: always one way (0, 1) or
    switching between them (0.05), the near pairs are exactly all pairs' (hashes crowded
    into few values of 16 bits, so a table's groups are large). A slice's distances are
    taken a stride at a time: cut into strides of 7 hashes, the pairs are the same."""
    monkeypatch.setattr(index, "DENSE_SHARE", share)
    monkeypatch.setattr(index, "STRIDE", stride)
    rng = np.random.default_rng(13)
    h = rng.integers(0, 2**16, size=2000, dtype=np.int64).view(np.uint64)
    h = np.unique(h * np.uint64(0x0001_0001_0001_0001) ^ np.uint64(0xF0F0))
    a, b, d = index.near_pairs(h, 6)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == sorted(_brute(h, 6))
    assert (d == np.bitwise_count(h[a] ^ h[b])).all()


def test_clusters_are_transitive_and_named_by_their_smallest_index() -> None:
    h = np.array([0b1111, 0b0111, 0b0011, 1 << 40, 0b0001 | 1 << 50], dtype=np.uint64)
    # 0-1-2 chain by one bit each (0 and 2 are two bits apart); 3 and 4 alone at threshold 1
    assert index.clusters(h, 1).tolist() == [0, 0, 0, 3, 4]


def test_spreading_correlated_bits_over_the_blocks_keeps_every_distance_and_pair() -> None:
    """The index deals the bits to its blocks by their correlation: on hashes whose rows of
    bits are mostly all-0 or all-1 (as a dHash of smooth pictures), the dealt hashes are a
    permutation of the bits (every pairwise distance kept, no two hashes merged) and the
    index still finds exactly the pairs all pairs would."""
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 2, size=(500, 8)).astype(np.uint64) * np.uint64(0xFF)
    noise = rng.integers(0, 2**63, size=(500, 8), dtype=np.int64).view(np.uint64)
    rows ^= noise & (noise >> np.uint64(3)) & (noise >> np.uint64(7)) & np.uint64(0xFF)
    h = np.unique((rows << (np.arange(8, dtype=np.uint64) * np.uint64(8))).sum(axis=1))
    for blocks in (7, 9, 12):
        spread = index.spread_bits(h, blocks)
        assert len(np.unique(spread)) == len(h)
        i, j = np.triu_indices(len(h), 1)
        assert (np.bitwise_count(h[i] ^ h[j]) == np.bitwise_count(spread[i] ^ spread[j])).all()
    for t in (2, 6):
        a, b, _ = index.near_pairs(h, t)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == sorted(_brute(h, t))
