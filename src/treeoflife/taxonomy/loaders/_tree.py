"""Parent-linked hierarchies of millions of rows, held as arrays: the EOL DH and ColDP.

Both files list each taxon with its parent's id (parents may come after their children)
and synonyms with their accepted taxon's id. One pass keeps compact int64 arrays per row
(:class:`TreeBuilder`: id code, parent, accepted, rank code, page, status) and no names;
parents are linked by sorting the codes (:meth:`TreeBuilder.finish`). A second pass reads
the names of only the taxa on the lineages the labels need (:func:`wanted_rows`), which
:class:`Walker` then walks with memoised ancestors.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.lineage import GENUS_INDEX, SPECIES_INDEX, Lineage, species_epithet
from treeoflife.taxonomy.ranks import RANKS, normalise_kingdom, rank_name
from treeoflife.taxonomy.reference import PROVISIONAL, SYNONYM, Candidate

NO_RANK = 255
MAX_DEPTH = 200  # deeper than any real hierarchy: a longer walk is a parent cycle
ACCEPTED_STATUS, PROVISIONAL_STATUS = 0, 1
_PACKED_LEN = 7  # ASCII ids this short are their own bytes in a code (56 bits)


def rank_code(label: str) -> int:
    """The index in RANKS of a reference's rank label, NO_RANK for any other rank."""
    rank = rank_name(label)
    return RANKS.index(rank) if rank is not None else NO_RANK


class Codes:
    """Taxon ids as int64 codes, so millions of ids need no Python strings.

    ``EOL-<digits>`` and plain digits (GBIF, DH) are packed with their digit count, so
    ``EOL-007`` and ``EOL-7`` stay distinct; other ASCII ids of up to seven characters
    (ColDP's, such as ``4QHKG``) are their bytes read as a number; anything else is
    numbered. Every code is exact: two ids share a code only when they are the same id.
    """

    def __init__(self) -> None:
        self.other: dict[str, int] = {}

    def code(self, taxon_id: str) -> int:
        if taxon_id.startswith("EOL-"):
            digits, tag = taxon_id[4:], 0
        else:
            digits, tag = taxon_id, 1
        if digits.isascii() and digits.isdigit() and len(digits) <= 15:
            return ((int(digits) << 4 | len(digits)) << 2) | tag
        if len(taxon_id) <= _PACKED_LEN and taxon_id.isascii() and taxon_id[:1] != "\x00":
            # no leading NUL byte, so ids of different lengths never read as one number
            return int.from_bytes(taxon_id.encode("ascii"), "big") << 2 | 3
        k = self.other.get(taxon_id)
        if k is None:
            k = self.other[taxon_id] = len(self.other)
        return k << 2 | 2

    def code_columns(self, columns: list[tuple[pa.Array, np.ndarray]]) -> list[np.ndarray]:
        """:meth:`code` of a batch of rows' id columns: (ids, used) -> codes, -1 where not
        used. ``EOL-<digits>``, plain digits and short ASCII ids are coded in Arrow and
        numpy; any other id goes through :meth:`code` row by row, column by column, in the
        order one :meth:`code` call per row and column would number it."""
        out, slow = [], []
        for col, (ids, used) in enumerate(columns):
            codes = _eol_codes(ids, used)
            if codes is not None:  # the DH's own ids: all of one width
                out.append(codes)
                continue
            codes = np.full(len(ids), -1, dtype=np.int64)
            for prefix, tag in (("EOL-", 0), ("", 1)):
                digits = pc.utf8_slice_codeunits(ids, len(prefix)) if prefix else ids
                n = np.asarray(pc.utf8_length(digits), dtype=np.int64)
                fast = pc.and_(pc.ascii_is_decimal(digits), pa.array(n <= 15))
                if prefix:
                    fast = pc.and_(fast, pc.starts_with(ids, prefix))
                value = np.asarray(pc.cast(pc.if_else(fast, digits, "0"), pa.int64()))
                hit = np.asarray(fast, dtype=bool) & used
                codes[hit] = ((value[hit] << 4 | n[hit]) << 2) | tag
                used = used & ~hit
            packed = _packed_codes(ids, used)
            codes[packed != -1] = packed[packed != -1]
            used = used & (packed == -1)
            rows = np.flatnonzero(used)
            slow.extend(
                zip(rows.tolist(), [col] * len(rows), ids.take(rows).to_pylist(), strict=True)
            )
            out.append(codes)
        for row, col, taxon_id in sorted(slow, key=lambda t: (t[0], t[1])):
            out[col][row] = self.code(taxon_id)
        return out


_EOL = np.frombuffer(b"EOL-", dtype=np.uint8)


def _packed_codes(ids: pa.Array, used: np.ndarray) -> np.ndarray:
    """:meth:`Codes.code` of the used ids that are ASCII, 1 to ``_PACKED_LEN`` bytes long
    and start with a byte other than NUL (their bytes read as a big-endian number); -1 for
    every other row. The caller has already coded the digit ids, which take precedence."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    starts, lengths = offsets[:-1].astype(np.int64), np.diff(offsets)
    data = np.frombuffer(ids.buffers()[2] or b"\0", dtype=np.uint8)
    rows = np.flatnonzero(used & (lengths >= 1) & (lengths <= _PACKED_LEN))
    codes = np.full(len(ids), -1, dtype=np.int64)
    if not len(rows):
        return codes
    starts, lengths = starts[rows], lengths[rows]
    value = np.zeros(len(rows), dtype=np.int64)
    ascii_ = data[starts] != 0  # the first byte: no NUL
    for j in range(_PACKED_LEN):
        more = lengths > j
        byte = data[np.where(more, starts + j, starts)].astype(np.int64)
        ascii_ &= byte < 128
        value = np.where(more, value << 8 | byte, value)
    codes[rows[ascii_]] = value[ascii_] << 2 | 3
    return codes


def _eol_codes(ids: pa.Array, used: np.ndarray) -> np.ndarray | None:
    """:meth:`Codes.code` of the used ids when every non-empty id of the column is
    ``EOL-`` and the same number (1 to 15) of ASCII digits, as the DH writes them:
    computed on the bytes with numpy (they lie end to end); None otherwise (the general
    path decides)."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    lengths = np.diff(offsets)
    filled = lengths > 0
    if not filled.any():
        return None
    width = int(lengths[np.argmax(filled)])
    digits = width - len(_EOL)
    if not 1 <= digits <= 15 or np.any(lengths[filled] != width) or np.any(used & ~filled):
        return None
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    cells = data[offsets[0] : offsets[-1]].reshape(-1, width)  # the filled ids, in order
    numbers = cells[:, len(_EOL) :] - np.uint8(ord("0"))  # a non-digit wraps above 9
    if np.any(cells[:, : len(_EOL)] != _EOL) or np.any(numbers > 9):
        return None
    value = np.zeros(len(cells), dtype=np.int64)
    for j in range(digits):
        value *= 10
        value += numbers[:, j]
    codes = np.full(len(ids), -1, dtype=np.int64)
    codes[filled] = (value << 4 | digits) << 2  # tag 0: EOL-<digits>
    codes[~used] = -1
    return codes


class Tree:
    """Arrays over the distinct taxon ids: parent, accepted, rank code, page, status; the
    names of the taxa on wanted lineages (None elsewhere)."""

    def __init__(self) -> None:
        self.parent = array("q")
        self.accepted = array("q")
        self.rank = bytearray()
        self.status = bytearray()
        self.page = array("q")
        self.name: list[str | None] = []
        self.taxon_id: dict[int, str] = {}  # only for the rows candidates are made from


def _to_array(values: np.ndarray) -> array:
    out = array("q")
    out.frombytes(memoryview(np.ascontiguousarray(values, dtype=np.int64)).cast("B"))
    return out


def _ints(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


@dataclass
class TreeBuilder:
    """The first pass: one :meth:`add` per file row, in file order; then :meth:`finish`."""

    codes: Codes = field(default_factory=Codes)
    own: array = field(default_factory=lambda: array("q"))
    par: array = field(default_factory=lambda: array("q"))
    acc: array = field(default_factory=lambda: array("q"))
    pg: array = field(default_factory=lambda: array("q"))
    rank: bytearray = field(default_factory=bytearray)
    status: bytearray = field(default_factory=bytearray)

    def add(
        self, taxon_id: str, parent: str, accepted: str, rank: int, page: int, status: int
    ) -> None:
        code = self.codes.code
        self.own.append(code(taxon_id))
        self.par.append(code(parent) if parent and parent != taxon_id else -1)
        self.acc.append(code(accepted) if accepted and accepted != taxon_id else -1)
        self.rank.append(rank)
        self.pg.append(page)
        self.status.append(status)

    def extend(
        self,
        own: np.ndarray,
        par: np.ndarray,
        acc: np.ndarray,
        rank: np.ndarray,
        page: np.ndarray,
        status: int | np.ndarray,
    ) -> None:
        """:meth:`add` of a batch of rows already coded (:meth:`Codes.code_columns`);
        ``status`` is one for every row or one per row."""
        for arr, values in ((self.own, own), (self.par, par), (self.acc, acc), (self.pg, page)):
            arr.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
        self.rank += np.ascontiguousarray(rank, dtype=np.uint8).tobytes()
        if isinstance(status, int):
            self.status += bytes([status]) * len(own)
        else:
            self.status += np.ascontiguousarray(status, dtype=np.uint8).tobytes()

    def __len__(self) -> int:
        return len(self.own)

    def finish(self, wanted_ids: dict[int, str]) -> tuple[Tree, np.ndarray]:
        """(the tree over distinct ids, file row -> node); ``wanted_ids`` (file row ->
        taxonID) names the rows candidates will be made from. Frees the row arrays."""
        rows = len(self.own)
        own_np = _ints(self.own)
        # a repeated taxonID is one node; canon: file row -> node
        uniq, first, canon = _unique(own_np)
        del own_np
        self.own = array("q")
        nodes = len(uniq)

        def link(linked: array, uniq: np.ndarray) -> np.ndarray:
            """Node of each row's link: -1 none, -2 an id no row has. The codes are
            searched in sorted order: binary searches of millions of unsorted codes miss
            the cache at every step."""
            c = _ints(linked)
            out = np.full(len(c), -1, dtype=np.int64)
            rows = np.flatnonzero(c != -1)  # few rows of some columns link (synonyms)
            if not nodes:
                out[rows] = -2
                return out
            c = c[rows]
            order = np.argsort(c)
            at = np.empty(len(c), dtype=np.int64)
            at[order] = np.minimum(np.searchsorted(uniq, c[order]), nodes - 1)
            del order
            out[rows] = np.where(uniq[at] == c, at, -2)
            return out

        par_np, acc_np = link(self.par, uniq), link(self.acc, uniq)
        del uniq
        self.par, self.acc = array("q"), array("q")
        pg, rank, status = self.pg, self.rank, self.status
        tree = Tree()
        tree.parent = _to_array(np.maximum(par_np[first], -1))  # a missing parent: a root
        tree.accepted = _to_array(acc_np[first])  # a missing accepted taxon stays -2
        tree.page = _to_array(_ints(pg)[first])
        tree.rank = bytearray(np.frombuffer(bytes(rank), dtype=np.uint8)[first].tobytes())
        tree.status = bytearray(np.frombuffer(bytes(status), dtype=np.uint8)[first].tobytes())
        tree.name = [None] * nodes
        if nodes != rows:  # later rows repeating a taxonID update it, in file order
            later = np.ones(rows, dtype=bool)
            later[first] = False
            for n in np.flatnonzero(later).tolist():
                i = int(canon[n])
                if par_np[n] != -1:
                    tree.parent[i] = max(int(par_np[n]), -1)
                if acc_np[n] != -1:
                    tree.accepted[i] = int(acc_np[n])
                if rank[n] != NO_RANK:
                    tree.rank[i] = rank[n]
                if pg[n]:
                    tree.page[i] = pg[n]
        self.pg, self.rank, self.status = array("q"), bytearray(), bytearray()
        for n, taxon_id in wanted_ids.items():
            tree.taxon_id[int(canon[n])] = taxon_id
        return tree, canon


def _unique(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(codes, return_index=True, return_inverse=True)``: the sorted distinct
    codes, the first row of each, each row's distinct code; sorted with the unstable
    (faster) argsort, the first row of each run taken as its smallest."""
    order = np.argsort(codes)
    ordered = codes[order]
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    at = np.flatnonzero(starts)
    first = np.minimum.reduceat(order, at) if len(at) else np.zeros(0, np.int64)
    inverse = np.empty(len(codes), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[at], first, inverse


def wanted_rows(tree: Tree, canon: np.ndarray, starts: Iterable[int]) -> bytes | None:
    """File row -> 1 where the row's name is on a lineage from ``starts`` (for the second
    pass), or None when nothing is wanted."""
    starts = set(starts)
    starts |= {tree.accepted[i] for i in starts if tree.accepted[i] >= 0}
    if not starts:
        return None
    on_lineage = np.zeros(len(tree.name), dtype=bool)
    on_lineage[np.fromiter(_lineage_nodes(tree, starts), np.int64)] = True
    return on_lineage[canon].tobytes()


def _lineage_nodes(tree: Tree, starts: Iterable[int]) -> Iterable[int]:
    """Every taxon fewer than MAX_DEPTH steps up from a start: all the walker may name."""
    closest: dict[int, int] = {}  # taxon -> fewest steps up from any start so far
    for i in starts:
        node, depth = i, 0
        while node >= 0 and depth < MAX_DEPTH and closest.get(node, MAX_DEPTH) > depth:
            closest[node] = depth
            node, depth = tree.parent[node], depth + 1
    return closest.keys()


class Walker:
    """Walks rows up to the root, collecting the seven ranks; memoises ancestors' lineages."""

    def __init__(self, tree: Tree, source: str) -> None:
        self.tree = tree
        self.source = source
        self.memo: dict[int, Lineage] = {}

    def candidate(self, i: int, how: str) -> Candidate | None:
        t = self.tree
        start = i
        synonym = ""
        if t.accepted[i] == -2:  # a synonym of a taxon the file does not have
            return None
        if t.accepted[i] >= 0:  # a synonym: the accepted taxon's lineage
            synonym = t.name[i] or ""
            i, how = t.accepted[i], SYNONYM
        elif t.status[i] == PROVISIONAL_STATUS and how != "id":
            how = PROVISIONAL
        lineage = self.lineage(i)
        if not any(lineage):
            return None
        page = t.page[i] or t.page[start] or None
        return Candidate(
            lineage, self.source, t.taxon_id[start], how, page_id=page, synonym=synonym
        )

    def lineage(self, i: int) -> Lineage:
        t = self.tree
        memo, parent = self.memo, t.parent
        chain: list[int] = []
        node = i
        while node >= 0 and node not in memo and len(chain) < MAX_DEPTH:
            chain.append(node)
            node = parent[node]
        base = memo.get(node, _EMPTY) if node >= 0 else _EMPTY
        # apply from the highest ancestor down, memoising every step
        for n in reversed(chain):
            r = t.rank[n]
            if r != NO_RANK:
                name = t.name[n] or ""
                if r == 0:
                    name = normalise_kingdom(name)
                elif r == SPECIES_INDEX:
                    words = name.split()
                    if not base[GENUS_INDEX] and len(words) >= 2:
                        base = (*base[:GENUS_INDEX], sys.intern(words[0]), *base[GENUS_INDEX + 1 :])
                    name = species_epithet(name)
                # a row's own rank is lower than its ancestors'; below it nothing is known;
                # interned, so other references' lineages share the name
                base = (*base[:r], sys.intern(name), *_EMPTY[r + 1 :])
                if r < SPECIES_INDEX:
                    memo[n] = base
            else:
                memo[n] = base
        return base


_EMPTY: Lineage = ("",) * len(RANKS)
