"""Strings that repeat their parts, held once each part: cut at fixed separators, the
pieces dictionary-encoded, and put back together (in Arrow's C++, no Python object per
string) for the rows that are taken.

Why: catalog takes each label's provenance JSON for every sample of it, so it holds every
label's. That JSON names the record each rank came from, and most ranks come from the same
record: ``{"class": {"how": "given", "record": "tol10m:Animalia|…|arctica", "source":
"tol10m"}, "common": {…the same record…}, …}`` is ~1 KB a label, 560K labels at 10M bench
images. Cut at ``"record": `` and then at ``, "source": ``, a label's pieces are its record
(once in the dictionary, whatever the number of ranks naming it) and the few texts between
records that every label shares: 646 MB of synthetic provenance at 560K labels held in
167 MB, put back at ~0.5-1 µs a row.

Lossless by construction for any strings: splitting at a separator and joining with it
gives the string back, whether or not the separator sits where the caller expects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc


class PackedStrings:
    """Non-null strings held as their pieces between ``separators`` (each level cut at its
    separator, the innermost pieces numbered in a dictionary of distinct pieces), made from
    ``chunks`` of them in turn (so only a chunk of the whole strings is held at a time);
    ``take`` gives the strings back, of type ``kind``."""

    def __init__(
        self, chunks: Iterable[pa.Array], separators: Sequence[str], kind: pa.DataType
    ) -> None:
        self.separators = tuple(separators)
        self.type = kind
        nested_chunks: list[pa.Array] = []
        dictionaries: list[pa.Array] = []
        numbered = 0  # pieces in the dictionaries so far: a chunk's numbers start there
        for strings in chunks:
            if strings.null_count:
                raise ValueError("PackedStrings holds non-null strings only")
            levels: list[pa.Array] = []
            values = strings.cast(kind)
            for sep in self.separators:
                pieces = pc.split_pattern(values, sep)
                levels.append(pieces.offsets)
                values = pieces.flatten()
            codes = pc.dictionary_encode(values)
            nested = pc.add(codes.indices, pa.scalar(numbered, pa.int32()))
            for offsets in reversed(levels):
                nested = pa.ListArray.from_arrays(offsets, nested)
            nested_chunks.append(nested)
            dictionaries.append(codes.dictionary)
            numbered += len(codes.dictionary)
        empty = pa.array([], pa.int32())
        for _ in self.separators:
            empty = pa.ListArray.from_arrays(pa.array([0], pa.int32()), empty)
        self._nested = pa.concat_arrays([empty, *nested_chunks])
        self._pieces = pa.concat_arrays([pa.array([], kind), *dictionaries])

    def __len__(self) -> int:
        return len(self._nested)

    @property
    def nbytes(self) -> int:
        return self._nested.nbytes + self._pieces.nbytes

    def take(self, indices: pa.Array) -> pa.Array:
        """The strings at ``indices``, as the whole strings' ``take`` would give them (a
        null index gives a null string)."""
        chosen = self._nested.take(indices)
        valid = chosen.is_valid() if chosen.null_count else None
        offsets: list[pa.Array] = []
        values = chosen
        for _ in self.separators:
            # a list array's offsets start where its slice does: from 0 for from_arrays
            offsets.append(pc.subtract(values.offsets, values.offsets[0]))
            values = values.flatten()
        strings = self._pieces.take(values)
        for sep, level in zip(reversed(self.separators), reversed(offsets), strict=True):
            joiner = pa.scalar(sep, self.type)
            strings = pc.binary_join(pa.ListArray.from_arrays(level, strings), joiner)
        return strings if valid is None else pc.if_else(valid, strings, pa.nulls(1, self.type)[0])
