"""What changed between two builds' catalogs, streamed: images added, removed (and why),
relabelled, moved between splits, re-encoded.

Two 10M-row catalogs do not fit in memory side by side as Python objects, nor comfortably as
Arrow tables (ids, digests and ranks are ~200 bytes a row). So each catalog is read a batch
at a time and partitioned by the first character of ``treeoflife_id`` (a UUID, so the parts
are even; two characters past 4M rows) into Arrow IPC files in a temporary folder; then each part is compared alone: its
rows are folded to one row per image (a train_small row only marks its train row), and the
two sides are joined on the id with Arrow's hash join. Memory is one part of each side;
the output is in id order, part after part.

Why an image was removed is known only to the new build: its ``build.sqlite`` has the
reject (a scan or label reject, a [select] rule, a Rare Species holdout), or no longer has
the image at all (gone from the sources).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from treeoflife import atomic, builddb
from treeoflife.errors import TolError
from treeoflife.taxonomy.ranks import RANKS

KEY = "treeoflife_id"
LABEL = (*RANKS, "common")
READ = ("split", KEY, *LABEL, "image_sha256")
COUNTS = ("added", "removed", "relabelled", "moved_split", "reencoded")
BATCH = 65_536
GONE = "gone_from_sources"  # the new build's sources no longer have the image
NOT_PLANNED = "not_planned"  # known to the new build, no reject says why (not expected)
NO_DATABASE = "unknown_no_build_database"
TOP_TAXA = 10
PART_ROWS = 250_000  # rows of a catalog part at most, about (memory is one part a side)
# diff.parquet: one row per changed image
DIFF_SCHEMA = pa.schema(
    [
        (KEY, pa.string()),
        ("change", pa.string()),  # added | removed | changed
        ("removed_reason", pa.string()),  # a reason code, gone_from_sources, ...
        ("relabelled", pa.bool_()),
        ("moved_split", pa.bool_()),
        ("reencoded", pa.bool_()),
        ("changed_ranks", pa.string()),  # "genus,species,common"
        ("taxon", pa.string()),  # the lowest known rank's name, new label first
        *(
            (f"{side}_{c}", pa.string())
            for side in ("old", "new")
            for c in ("split", *LABEL, "image_sha256")
        ),
    ]
)


@dataclass
class DiffResult:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    removed_reasons: Counter[str] = field(default_factory=Counter)
    relabelled_ranks: Counter[str] = field(default_factory=Counter)
    # taxon -> images added, removed, relabelled or moved (re-encoding is not a change of
    # what an image says, and a new image size re-encodes every one)
    taxa: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict:
        return {
            **self.counts,
            "removed_reasons": dict(sorted(self.removed_reasons.items())),
            "relabelled_ranks": {
                r: self.relabelled_ranks[r] for r in LABEL if r in self.relabelled_ranks
            },
            "most_changed_taxa": self.most_changed(),
        }

    def most_changed(self, n: int = TOP_TAXA) -> list[list]:
        return [[t, c] for t, c in sorted(self.taxa.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    def summary(self) -> str:
        c = self.counts
        lines = [", ".join(f"{k} {c[k]}" for k in COUNTS)]
        if self.removed_reasons:
            lines.append(
                "removed because: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.removed_reasons.items()))
            )
        if self.relabelled_ranks:
            lines.append(
                "relabelled at: "
                + ", ".join(
                    f"{r} {self.relabelled_ranks[r]}" for r in LABEL if r in self.relabelled_ranks
                )
            )
        if self.taxa:
            lines.append(
                "most changed taxa: " + ", ".join(f"{t} {n}" for t, n in self.most_changed())
            )
        return "\n".join(lines)


def catalog_path(build: Path) -> Path:
    """``catalog.parquet`` of a build folder (or the file itself)."""
    path = build / "catalog.parquet" if build.is_dir() else build
    if not path.is_file():
        raise TolError(f"{build} has no catalog.parquet (is it a finished build?)")
    return path


def _schema() -> pa.Schema:
    return pa.schema([(c, pa.string()) for c in READ])


def _open(catalog: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(catalog)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TolError(f"{catalog} is not a readable Parquet file: {exc}") from None


def prefix_length(rows: int) -> int:
    """Characters of the id that name its part: 16 parts up to 16·PART_ROWS rows, then
    256 (open files: one a part), so a part stays near PART_ROWS rows or under."""
    return 1 if rows <= 16 * PART_ROWS else 2


def _partition(catalog: Path, dest: Path, prefix_chars: int) -> None:
    """Write the catalog's READ columns into dest/<id prefix>.arrow, a batch at a time."""
    pf = _open(catalog)
    missing = [c for c in READ if c not in pf.schema_arrow.names]
    if missing:
        raise TolError(f"{catalog} is not a tol catalog: no column {', '.join(missing)}")
    dest.mkdir(parents=True)
    writers: dict[str, pa.ipc.RecordBatchFileWriter] = {}
    schema = _schema()
    try:
        for batch in pf.iter_batches(batch_size=BATCH, columns=list(READ)):
            batch = pa.RecordBatch.from_arrays(
                [batch.column(c).cast(pa.string()) for c in READ], schema=schema
            )
            prefix = pc.utf8_lower(pc.utf8_slice_codeunits(batch.column(KEY), 0, prefix_chars))
            for p in pc.unique(prefix).to_pylist():
                if p not in writers:
                    writers[p] = pa.ipc.new_file(dest / f"{p.encode().hex()}.arrow", schema)
                writers[p].write_batch(batch.filter(pc.equal(prefix, p)))
    finally:
        for w in writers.values():
            w.close()


def _read_part(folder: Path, name: str) -> pa.Table:
    path = folder / name
    if not path.exists():
        return _schema().empty_table()
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def _per_image(rows: pa.Table) -> pa.Table:
    """One row per image: a train_small row only says its train row is in train_small."""
    is_small = pc.equal(rows["split"], "train_small")
    small = rows.filter(is_small)[KEY]
    base = rows.filter(pc.invert(is_small))
    split = pc.if_else(pc.is_in(base[KEY], value_set=small), "train_small", base["split"])
    return base.set_column(base.schema.get_field_index("split"), "split", split)


def _taxon(t: pa.Table, side: str) -> pa.ChunkedArray:
    """The name of the lowest known rank (the binomial for a species)."""
    species = pc.binary_join_element_wise(t[f"{side}genus"], t[f"{side}species"], " ")
    out = pc.if_else(pc.not_equal(t[f"{side}species"], ""), species, None)
    for rank in reversed(RANKS[:-1]):
        col = t[f"{side}{rank}"]
        out = pc.coalesce(out, pc.if_else(pc.not_equal(col, ""), col, None))
    return pc.coalesce(out, pc.if_else(pc.is_valid(t[f"{side}split"]), "(no rank)", None))


def _neq(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.not_equal(a, b), False)


def _compare(old: pa.Table, new: pa.Table) -> pa.Table:
    """The changed images of one part, with their flags, old and new values; sorted by id."""
    old = old.rename_columns([c if c == KEY else f"old_{c}" for c in old.column_names])
    new = new.rename_columns([c if c == KEY else f"new_{c}" for c in new.column_names])
    j = old.join(new, keys=KEY, join_type="full outer")
    added, removed = pc.is_null(j["old_split"]), pc.is_null(j["new_split"])
    changed = {c: _neq(j[f"old_{c}"], j[f"new_{c}"]) for c in LABEL}
    relabelled = changed[LABEL[0]]
    for c in LABEL[1:]:
        relabelled = pc.or_(relabelled, changed[c])
    moved = _neq(j["old_split"], j["new_split"])
    reencoded = _neq(j["old_image_sha256"], j["new_image_sha256"])
    any_change = pc.or_(pc.or_(pc.or_(added, removed), relabelled), pc.or_(moved, reencoded))
    # (pyarrow 26's null_handling="skip" loses rows when a row is all nulls: joined by hand)
    ranks = pc.utf8_rtrim(
        pc.binary_join_element_wise(*[pc.if_else(changed[c], f"{c},", "") for c in LABEL], ""),
        characters=",",
    )
    out = pa.table(
        {
            KEY: j[KEY],
            "change": pc.if_else(added, "added", pc.if_else(removed, "removed", "changed")),
            "removed_reason": pa.nulls(len(j), pa.string()),
            "relabelled": relabelled,
            "moved_split": moved,
            "reencoded": reencoded,
            "changed_ranks": pc.if_else(relabelled, ranks, None),
            "taxon": pc.coalesce(_taxon(j, "new_"), _taxon(j, "old_")),
            **{f"old_{c}": j[f"old_{c}"] for c in ("split", *LABEL, "image_sha256")},
            **{f"new_{c}": j[f"new_{c}"] for c in ("split", *LABEL, "image_sha256")},
        }
    ).filter(any_change)
    return out.sort_by(KEY)


class _Reasons:
    """Why the new build has no sample of an image: from its build.sqlite, a batch at a time."""

    # the first reject in build order is the one that decided
    _QUERY = (
        "SELECT ids.value, (SELECT r.reason FROM rejects r WHERE r.item = ids.value "
        "AND r.outcome = 'dropped' ORDER BY instr(?, ',' || r.stage || ','), r.reason LIMIT 1), "
        "EXISTS (SELECT 1 FROM images i WHERE i.treeoflife_id = ids.value) "
        "FROM json_each(?) ids"
    )

    def __init__(self, new_build: Path):
        path = (
            new_build / builddb.DB_NAME
            if new_build.is_dir()
            else new_build.parent / builddb.DB_NAME
        )
        self.db = builddb.open_read_only(path) if path.is_file() else None
        from treeoflife.stages import stage_names

        self.order = "," + ",".join(stage_names()) + ","

    def of(self, ids: list[str]) -> list[str]:
        if self.db is None:
            return [NO_DATABASE] * len(ids)
        out: dict[str, str] = {}
        for k in range(0, len(ids), 10_000):
            chunk = ids[k : k + 10_000]
            for tid, reason, known in self.db.execute(self._QUERY, (self.order, json.dumps(chunk))):
                out[tid] = reason or (NOT_PLANNED if known else GONE)
        return [out[t] for t in ids]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _with_reasons(part: pa.Table, reasons: _Reasons) -> pa.Table:
    removed = pc.equal(part["change"], "removed")
    ids = part[KEY].filter(removed).to_pylist()
    if not ids:
        return part
    found = iter(reasons.of(ids))
    values = [next(found) if r else None for r in removed.to_pylist()]
    return part.set_column(
        part.schema.get_field_index("removed_reason"),
        "removed_reason",
        pa.array(values, pa.string()),
    )


def _tally(result: DiffResult, part: pa.Table) -> None:
    c = result.counts
    c["added"] += pc.sum(pc.equal(part["change"], "added")).as_py() or 0
    c["removed"] += pc.sum(pc.equal(part["change"], "removed")).as_py() or 0
    for flag in ("relabelled", "moved_split", "reencoded"):
        c[flag] += pc.sum(part[flag]).as_py() or 0
    result.removed_reasons.update(
        {
            r["values"]: r["counts"]
            for r in pc.value_counts(part["removed_reason"].drop_null()).to_pylist()
        }
    )
    for ranks in part["changed_ranks"].drop_null().to_pylist():
        result.relabelled_ranks.update(ranks.split(","))
    meaningful = pc.or_(
        pc.or_(pc.not_equal(part["change"], "changed"), part["relabelled"]), part["moved_split"]
    )
    for row in pc.value_counts(part["taxon"].filter(meaningful)).to_pylist():
        result.taxa[row["values"]] += row["counts"]


def parts(old: Path, new: Path, work: Path) -> Iterator[pa.Table]:
    """The changed images of each part, in id order (their removed reasons filled in)."""
    catalogs = catalog_path(old), catalog_path(new)
    chars = prefix_length(max(_open(c).metadata.num_rows for c in catalogs))
    _partition(catalogs[0], work / "old", chars)
    _partition(catalogs[1], work / "new", chars)
    names = sorted(
        {p.name for p in (work / "old").iterdir()} | {p.name for p in (work / "new").iterdir()},
        key=lambda n: bytes.fromhex(n.removesuffix(".arrow")),
    )
    reasons = _Reasons(new)
    try:
        for name in names:
            part = _compare(
                _per_image(_read_part(work / "old", name)),
                _per_image(_read_part(work / "new", name)),
            )
            for side in ("old", "new"):
                (work / side / name).unlink(missing_ok=True)  # disk back as we go
            yield _with_reasons(part, reasons)
    finally:
        reasons.close()


def diff(old: Path, new: Path, out: Path | None = None) -> DiffResult:
    """Compare two builds; with ``out``, write one row per changed image there (Parquet)."""
    result = DiffResult()
    with tempfile.TemporaryDirectory(prefix="tol-diff-") as tmp:
        changed = parts(old, new, Path(tmp))
        if out is None:
            for part in changed:
                _tally(result, part)
            return result
        out.parent.mkdir(parents=True, exist_ok=True)
        dest = atomic.temp_path(out)
        with atomic.removed_on_failure(dest):
            with pq.ParquetWriter(dest, DIFF_SCHEMA) as writer:
                for part in changed:
                    _tally(result, part)
                    writer.write_table(part.cast(DIFF_SCHEMA))
            atomic.publish(dest, out)
    return result
