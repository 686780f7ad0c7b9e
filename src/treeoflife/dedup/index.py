"""Near-duplicate pairs among millions of 64-bit hashes, and clusters from them.

Comparing every pair of 10M hashes is 5·10¹³ comparisons; instead (Manku, Jain & Das
Sarma, "Detecting near-duplicates for web crawling", WWW 2007): cut the 64 bits into ``B``
blocks. Two hashes at most ``t`` bits apart differ in at most ``t`` blocks, so they agree
exactly on at least ``B − t`` of them (pigeonhole). For every choice of ``B − t`` blocks, a
table sorts the hashes by those blocks; hashes agreeing on them are adjacent, and only they
are compared. No near pair is missed, and with enough agreeing bits (~log2 N) a table's
groups are tiny: the cost is C(B, t) sorts of N integers — N log N per table, not N² — plus
the pairs inside groups. ``B`` is chosen per (N, t) to minimise that estimate.

The blocks are not the hash's own runs of bits: a dHash's neighbouring bits (one row of the
thumbnail, one column) are strongly correlated, so a run of them takes few of its possible
values and the tables' groups are large — on 1M bench hashes, 2·10⁸ candidate pairs, ~10× what
independent bits would give. Any assignment of the 64 bit positions to blocks keeps the
pigeonhole argument (a Hamming distance does not depend on the order of the bits), so the
bits are first dealt to blocks by their measured correlation (:func:`spread_bits`): 3.4× fewer
candidates at 1M, 3.9× at 200K, and the same pairs.

Identical hashes are collapsed first (one exact-duplicate family of any size is one
entry), so a photo copied a thousand times costs nothing extra. Everything is numpy
arrays: 10M hashes are 80 MB, a table's sort key and order another 160 MB.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from treeoflife.dedup.phash import BITS

MAX_BLOCKS = 16


def as_unsigned(hashes: np.ndarray) -> np.ndarray:
    """Signed 64-bit hashes (as SQLite stores them) viewed as unsigned."""
    return np.ascontiguousarray(hashes, dtype=np.int64).view(np.uint64)


def plan_blocks(n: int, threshold: int) -> int:
    """The number of blocks whose tables cost least for ``n`` hashes (see the module doc)."""
    if threshold <= 0:
        return 1
    best, best_cost = threshold + 1, math.inf
    for blocks in range(threshold + 1, MAX_BLOCKS + 1):
        agree_bits = (BITS // blocks) * (blocks - threshold)
        tables = math.comb(blocks, threshold)
        cost = tables * (n * max(1.0, math.log2(max(n, 2))) + n * n / 2.0**agree_bits * 8)
        if cost < best_cost:
            best, best_cost = blocks, cost
    return best


def _block_ranges(blocks: int) -> list[tuple[int, int]]:
    """(shift, width) of each block, widths differing by at most one bit."""
    out, start = [], 0
    for k in range(blocks):
        width = BITS // blocks + (1 if k < BITS % blocks else 0)
        out.append((start, width))
        start += width
    return out


SAMPLE = 16_384  # hashes the bit correlations are measured on (~8 MB of floats)


def spread_bits(hashes: np.ndarray, blocks: int) -> np.ndarray:
    """The hashes with their bit positions permuted so that each block of
    :func:`_block_ranges` holds bits that vary as independently of each other as the hashes
    show (greedy: the bits most correlated with the others first, each to the block with
    room whose bits it is least correlated with). Distances are those of the hashes."""
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    sample = h[:: max(1, len(h) // SAMPLE)]
    bits = (sample[:, None] >> np.arange(BITS, dtype=np.uint64)) & np.uint64(1)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant bit correlates with none
        corr = (
            np.abs(np.nan_to_num(np.corrcoef(bits.T.astype(np.float64))))
            if len(sample) > 1
            else np.zeros((BITS, BITS))
        )
    np.fill_diagonal(corr, 0.0)
    ranges = _block_ranges(blocks)
    members: list[list[int]] = [[] for _ in ranges]
    for bit in np.argsort(-corr.sum(axis=1), kind="stable").tolist():
        cost = [
            corr[bit, m].sum() if len(m) < width else np.inf
            for m, (_, width) in zip(members, ranges, strict=True)
        ]
        members[int(np.argmin(cost))].append(bit)
    dest = np.zeros(BITS, dtype=np.uint64)
    for m, (shift, _) in zip(members, ranges, strict=True):
        dest[m] = shift + np.arange(len(m), dtype=np.uint64)
    # applied a byte at a time: 8 lookups in 256-entry tables instead of 64 bit moves
    byte_values = np.arange(256, dtype=np.uint64)
    out = np.zeros_like(h)
    for byte in range(BITS // 8):
        table = np.zeros(256, dtype=np.uint64)
        for b in range(8):
            table |= ((byte_values >> np.uint64(b)) & np.uint64(1)) << dest[8 * byte + b]
        out |= table[((h >> np.uint64(8 * byte)) & np.uint64(255)).astype(np.intp)]
    return out


def _block_values(h: np.ndarray, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
    """Each block's value of every hash, in the smallest unsigned type that holds it (a byte
    for 8 or more blocks): cut once, so a table's key is a few narrow shifts and ors."""
    dtype = np.uint8 if max(w for _, w in ranges) <= 8 else np.uint16
    return [((h >> np.uint64(s)) & np.uint64((1 << w) - 1)).astype(dtype) for s, w in ranges]


def _table_key(
    values: list[np.ndarray], ranges: list[tuple[int, int]], chosen: tuple[int, ...]
) -> tuple[np.ndarray, int]:
    """The chosen blocks' values side by side (32 bits when they fit, else 64), and their
    width in bits."""
    bits = sum(ranges[k][1] for k in chosen)
    dtype = np.uint32 if bits <= 32 else np.uint64
    key = values[chosen[0]].astype(dtype)
    for k in chosen[1:]:
        key <<= dtype(ranges[k][1])
        key |= values[k]
    return key, bits


def _sorted_table(
    key: np.ndarray, bits: int, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted keys, the indices in that order); one packed sort when key and index fit.
    ``positions`` is ``arange(len(key))``, made once for every table (uint32 while the
    hashes are fewer than 2³²: 4 bytes a hash, widened a buffer at a time as they are or-ed
    in)."""
    n = len(key)
    index_bits = max(1, int(n - 1).bit_length())
    if bits + index_bits <= 64:
        packed = key.astype(np.uint64)
        packed <<= np.uint64(index_bits)
        packed |= positions
        packed.sort()
        # unpacked straight into the narrow arrays (``out``, no 8-byte temporaries): with
        # two tables at once each byte a hash here is ~20 MB at 10M hashes
        order = np.empty(n, dtype=np.uint32 if index_bits <= 32 else np.intp)
        np.bitwise_and(packed, np.uint64((1 << index_bits) - 1), out=order, casting="unsafe")
        packed >>= np.uint64(index_bits)
        keys = np.empty(n, dtype=key.dtype)
        np.copyto(keys, packed, casting="unsafe")
        return keys, order
    order = np.argsort(key, kind="stable")
    return key[order], order


# while more than this share of the sorted positions still have a partner d further on
# with the same key, an offset is compared over whole slices of the table (no gathers);
# below it, at the positions that do (gathered). At 10M uniform hashes and 9 blocks 62 %
# of the positions have a partner at d = 1, 33 % at 2, 15 % at 3: the slices took a
# table's comparisons from ~0.47 to ~0.17 s there; at 1M (11 %) nothing changes
DENSE_SHARE = 0.125
STRIDE = 1 << 20  # hashes a slice's distances are taken over at a time (an 8 MB temporary)


def _offset_distances(hs: np.ndarray, d: int) -> np.ndarray:
    """Bits apart of hs[p] and hs[p + d] for every p, as bytes: the xor is taken a stride
    at a time, not as one array of 8 bytes a hash."""
    n = len(hs) - d
    out = np.empty(max(n, 0), dtype=np.uint8)
    buf = np.empty(min(max(n, 0), STRIDE), dtype=np.uint64)
    for start in range(0, n, STRIDE):
        stop = min(start + STRIDE, n)
        part = buf[: stop - start]
        np.bitwise_xor(hs[start + d : stop + d], hs[start:stop], out=part)
        out[start:stop] = np.bitwise_count(part)
    return out


def _near_in_groups(
    keys: np.ndarray, hs: np.ndarray, threshold: int
) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
    """Every pair of sorted positions (p, p + d) with the same key whose hashes ``hs`` (in
    the same order) are at most ``threshold`` bits apart, as (p, d, distance), offset by
    offset: only positions still inside a group are carried to the next offset. The
    distance is taken on the hashes in sorted order (neighbouring reads, no gather through
    the table's order), and only the near pairs are mapped back: on real hashes groups
    are far from uniform (2·10⁸ candidate pairs for 10⁶ hashes), so the per-candidate
    work is most of the cost. The keys are sorted, so keys[p] == keys[p + d] exactly when
    every neighbour between agrees: ``run`` (over whole slices) is that, offset by offset,
    while many positions have a partner (:data:`DENSE_SHARE`), then ``pos`` lists them."""
    n = len(keys)
    run = keys[1:] == keys[:-1]  # run[p]: keys[p] == keys[p + d], for d = 1
    d = 1
    while len(run) and np.count_nonzero(run) > DENSE_SHARE * n:
        dist = _offset_distances(hs, d)
        near = np.flatnonzero(run & (dist <= threshold))
        if len(near):
            yield near, d, dist[near]
        d += 1
        run = run[:-1] & run[1:]
    pos = np.flatnonzero(run)
    while len(pos):
        dist = np.bitwise_count(hs[pos] ^ hs[pos + d])
        near = np.flatnonzero(dist <= threshold)
        if len(near):
            yield pos[near], d, dist[near]
        d += 1
        pos = pos[pos < n - d]
        pos = pos[keys[pos + d] == keys[pos]]


def _table_pairs(
    h: np.ndarray,
    values: list[np.ndarray],
    ranges: list[tuple[int, int]],
    positions: np.ndarray,
    chosen: tuple[int, ...],
    threshold: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, distance) of the near pairs this table is the first to find: the hashes
    sorted by the ``chosen`` blocks, compared inside their groups (a < b).

    A pair agreeing on more blocks than the table's is in every table whose blocks it
    agrees on (two hashes one bit apart, 9 blocks, threshold 6: in 56 of the 84 tables),
    and kept by the first of them in ``itertools.combinations`` order, the one of its
    B - t lowest agreeing blocks: a pair this table finds is its own when it differs on
    every lower block the table does not use. Near duplicates held once, not once per
    table (at 2M hashes, a fifth of them a few bits from another: peak 1.1 GiB before)."""
    key, bits = _table_key(values, ranges, chosen)
    keys, order = _sorted_table(key, bits, positions)
    del key
    lower = [k for k in range(max(chosen)) if k not in chosen]
    found_a, found_b, found_d = [], [], []
    for p, d, dist in _near_in_groups(keys, h[order], threshold):
        a, b = order[p], order[p + d]
        own = np.ones(len(a), dtype=bool)
        for k in lower:
            own &= values[k][a] != values[k][b]
        a, b = a[own], b[own]
        found_a.append(np.minimum(a, b))
        found_b.append(np.maximum(a, b))
        found_d.append(dist[own])
    if not found_a:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.empty(0, dtype=np.int64)
    return np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_d)


def near_pairs(
    hashes: np.ndarray, threshold: int, threads: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, distance) of every pair of *distinct* unsigned hashes at most ``threshold``
    bits apart (indices into ``hashes``, each pair once, a < b).

    The tables are independent, and numpy lets go of Python's lock in what they cost (the
    sort, the gathers, the comparisons), so ``threads`` of them run at once, each with its
    sort key, order and gathered hashes (a second thread: 881 → 1,135 MiB peak at 10M
    hashes, ~25 bytes a hash). Their pairs are taken in table order whatever the threads,
    so the result is the same."""
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    empty = np.empty(0, dtype=np.int64)
    if threshold <= 0 or len(h) < 2:
        return empty, empty, empty
    blocks = plan_blocks(len(h), threshold)
    ranges = _block_ranges(blocks)
    h = spread_bits(h, blocks)
    values = _block_values(h, ranges)
    positions = np.arange(len(h), dtype=np.uint32 if len(h) <= 1 << 32 else np.uint64)
    tables = itertools.combinations(range(blocks), blocks - threshold)

    def pairs(chosen: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _table_pairs(h, values, ranges, positions, chosen, threshold)

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            found = list(pool.map(pairs, tables))  # in table order
    else:
        found = [pairs(chosen) for chosen in tables]
    a, b, d = (np.concatenate([f[k] for f in found]) for k in range(3))
    if not len(a):
        return empty, empty, empty
    d = d.astype(np.int64)
    # each pair is found by one table (_table_pairs); sorted by (a, b), the order callers see
    pair = a.astype(np.uint64) << np.uint64(32) | b.astype(np.uint64)
    order = np.argsort(pair, kind="stable")
    return a[order].astype(np.intp), b[order].astype(np.intp), d[order]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find over numpy arrays: for each of ``n`` nodes, the smallest node index of its
    connected component under the edges (a[i], b[i])."""
    labels = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return labels
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)  # hook each root under the smaller one
        np.minimum.at(labels, lb, low)
        while True:  # pointer jumping until every node points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def clusters(
    hashes: np.ndarray,
    threshold: int,
    has_hash: np.ndarray | None = None,
    same: tuple[np.ndarray, np.ndarray] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Cluster label of each item (the smallest index of its cluster): items with identical
    hashes, hashes within ``threshold`` bits, and the pairs ``same`` (identical files whose
    pictures have no hash) are linked, transitively. ``has_hash`` masks the items that have
    a hash (all, by default); ``threads`` search :func:`near_pairs`' tables at once."""
    n = len(hashes)
    idx = np.arange(n, dtype=np.int64) if has_hash is None else np.flatnonzero(has_hash)
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(idx) < n:  # (a copy of them all would be 8 bytes an item more)
        h = h[idx]
    uniq, inverse = np.unique(h, return_inverse=True)
    del h
    first = np.full(len(uniq), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse, idx)  # each distinct hash's first item
    rep = first[inverse]
    twin = np.flatnonzero(rep != idx)
    edges_a = [idx[twin]]
    edges_b = [rep[twin]]
    # the near search holds the most: what the twins' edges needed goes first
    del inverse, rep, twin, idx
    a, b, _ = near_pairs(uniq, threshold, threads)
    del uniq
    edges_a.append(first[a])
    edges_b.append(first[b])
    if same is not None:
        edges_a.append(np.asarray(same[0], dtype=np.int64))
        edges_b.append(np.asarray(same[1], dtype=np.int64))
    return components(n, np.concatenate(edges_a), np.concatenate(edges_b))
