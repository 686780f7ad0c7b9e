"""Scan: every source image found, identified, and read once — the image pass.

Loose files are enumerated from their folders and metadata (no bytes read); archives are
handed over whole. Then each unit (a batch of loose files, or a stripe of an archive) goes
to a worker that reads its bytes once and returns, per image, the sha256 and size of the
source bytes, the image's width and height, and its small JPEG in the unit's work file — or
a reject reason (:mod:`treeoflife.shards.encode`). Archive members are identified here, by
their adapter, as their unit's result comes in: a ``.tar.gz`` is inflated once per build.

Ids come from each image's identity key, so a re-scan finds the same ids (``INSERT OR
IGNORE``); nothing is duplicated. A unit is named by what its output depends on (image
settings, location, archive signature or each file's size and mtime), so a re-scan reads
only units that changed or are new, and a killed scan resumes with the units not yet
recorded. Results are applied in task order whatever order they arrive in, so the database
does not depend on the number of workers. A re-scan also forgets what the sources no
longer have: images not found again leave the build with what was recorded about them, and
the rejects of a unit are those of its latest reading.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from treeoflife import atomic, builddb, distribute, licenses
from treeoflife.columns import ID_COLUMNS
from treeoflife.faults import Fault
from treeoflife.images import ImageSpec
from treeoflife.shards import encode, layout
from treeoflife.shards.encode import UnitResult, UnitTask
from treeoflife.sources import ADAPTERS
from treeoflife.sources import rights as rights_files
from treeoflife.sources.base import Archive, ImageRecord, ScanReject, name_not_utf8, relative
from treeoflife.stages import BuildContext, Stage, file_signature

NAME = "scan"
BATCH = 10_000
# folders whose unit is still filling: more than BIOSCAN-1M's 113 parts, so the parts its
# metadata interleaves each fill their units; a source whose folders come one after
# another (iNat21) holds at most this many folders' files (<= LOOSE_BATCH each) at a time
OPEN_FOLDERS = 128
_INSERT_IMAGE = (
    "INSERT OR IGNORE INTO images (treeoflife_id, identity_key, source, container, member, label_key, size_bytes, "
    + ", ".join(ID_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * (7 + len(ID_COLUMNS)))
    + ")"
)
_UPDATE_IMAGE = (
    "UPDATE images SET container = ?1, member = ?2, label_key = ?3, size_bytes = ?4 "
    "WHERE treeoflife_id = ?5 AND (container IS NOT ?1 OR member IS NOT ?2 "
    "OR label_key IS NOT ?3 OR size_bytes IS NOT ?4)"
)
_INSERT_ENCODED = (
    "INSERT OR REPLACE INTO encoded (treeoflife_id, unit, source_bytes, source_sha256, width, "
    "height, offset, size, sha256, reject, notes, pixel_std, phash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# the metadata files licenses and rights holders are read from (see sources.rights)
RIGHTS_FILES = ("tol10m_licenses", "eol_media_manifest", "inat21_train_json", "inat21_val_json")


def inputs(ctx: BuildContext) -> Any:
    cfg = ctx.config
    return {a.NAME: file_signature(a.input_files(cfg)) for a in ADAPTERS} | {
        "root": cfg.sources_root,
        "paths": cfg.section_json("paths"),
        "images": cfg.section_json("images"),
        "rights": cfg.section_json("rights"),
        "rights_files": file_signature([cfg.source_path(n) for n in RIGHTS_FILES]),
    }


def record_images(ctx: BuildContext, images: list[ImageRecord], counts: Counter) -> None:
    """Add (or update the location and label of) a batch of images, and mark them found."""
    with builddb.transaction(ctx.db) as db:
        before = db.total_changes
        db.executemany(
            _INSERT_IMAGE,
            [
                (
                    r.treeoflife_id,
                    r.identity_key,
                    r.source,
                    r.container,
                    r.member,
                    r.label_key,
                    r.size_bytes,
                    *(r.columns.get(c) for c in ID_COLUMNS),
                )
                for r in images
            ],
        )
        counts["new"] += db.total_changes - before
        # an image already known may have moved (re-packed sets) or been relabelled (a
        # corrected generic CSV): its id stays, what the build reads and resolves follows
        before = db.total_changes
        db.executemany(
            _UPDATE_IMAGE,
            [(r.container, r.member, r.label_key, r.size_bytes, r.treeoflife_id) for r in images],
        )
        counts["changed"] += db.total_changes - before
        db.executemany(
            "INSERT OR IGNORE INTO temp.scan_seen VALUES (?)", [(r.treeoflife_id,) for r in images]
        )
        db.executemany(
            "INSERT OR REPLACE INTO rights VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.treeoflife_id,
                    licenses.normalise(rights.license_text),
                    rights.license_text,
                    rights.rights_holder,
                    rights.source_url,
                    rights.origin,
                    json.dumps(r.provenance, sort_keys=True, ensure_ascii=False),
                )
                for r in images
                if (rights := r.rights_named()) is not None
            ],
        )
        db.executemany(
            "INSERT OR IGNORE INTO labels VALUES (?, ?, ?)",
            [
                (r.label_key, r.source, json.dumps(r.label, sort_keys=True, ensure_ascii=False))
                for r in images
            ],
        )
    images.clear()


class _Pass:
    """The scan of one build: enumerates the sources into unit tasks (recording loose images
    on the way) and applies the units' results."""

    def __init__(self, ctx: BuildContext, spec: ImageSpec):
        self.ctx, self.spec = ctx, spec
        self.root = Path(ctx.config.sources_root)
        self.work_dir = layout.work_dir(ctx.out)
        self.done = {u for (u,) in ctx.db.execute("SELECT unit FROM encode_units")}
        self.current: set[str] = set()
        # by task seq: the tasks whose result is not applied yet, and their archive if any
        self.handed_out: dict[int, tuple[UnitTask, Archive | None]] = {}
        self.counts: Counter = Counter()
        self.seq = 0

    def _task(
        self, unit: str, container: str | None, members, stripe=0, stripes=1, archive=None
    ) -> UnitTask:
        task = UnitTask(
            self.seq,
            unit,
            str(self.root),
            container,
            members,
            stripe,
            stripes,
            self.spec,
            str(self.work_dir / f"{unit[:32]}.jpgs"),
        )
        self.handed_out[self.seq] = (task, archive)
        self.seq += 1
        return task

    def _loose_unit(
        self, group: list[ImageRecord], pending: list[ImageRecord]
    ) -> Iterator[UnitTask]:
        # the images are recorded in the order their units are handed out, which is the order
        # their `encoded` rows are written: plan finds an image's row by its rowid
        # (builddb.ENCODED_BY_ROWID)
        pending.extend(group)
        if len(pending) >= BATCH:
            record_images(self.ctx, pending, self.counts)
        content = tuple((r.treeoflife_id, r.member, r.size_bytes, r.mtime_ns) for r in group)
        unit = encode.unit_id(self.spec, None, content)
        self.current.add(unit)
        if unit not in self.done:
            yield self._task(unit, None, tuple((r.treeoflife_id, r.member) for r in group))

    def tasks(self) -> Iterator[UnitTask]:
        """Every unit to read, loose files first (enumerated as they are handed out)."""
        pending: list[ImageRecord] = []
        archives: list[Archive] = []
        for adapter in ADAPTERS:
            # a unit is LOOSE_BATCH files of one folder, whatever order the source lists them
            # in: BIOSCAN-1M's metadata goes from part to part at every record, which cut
            # one unit (a task, a work file, two commits) per image
            filling: dict[str, list[ImageRecord]] = {}  # by folder, least recently added first
            for item in adapter.scan(self.ctx.config):
                if isinstance(item, Archive):
                    bad_name = name_not_utf8(item.container)
                    if bad_name is None:
                        archives.append(item)
                    else:
                        builddb.add_reject(self.ctx.db, bad_name.item, NAME, bad_name.reason)
                elif isinstance(item, ScanReject):
                    builddb.add_reject(self.ctx.db, item.item, NAME, item.reason, item.detail)
                else:
                    folder = item.member.rpartition("/")[0]
                    group = filling.pop(folder, [])
                    group.append(item)
                    if len(group) >= encode.LOOSE_BATCH:
                        yield from self._loose_unit(group, pending)
                        continue
                    filling[folder] = group
                    if len(filling) > OPEN_FOLDERS:
                        yield from self._loose_unit(filling.pop(next(iter(filling))), pending)
            for group in filling.values():
                yield from self._loose_unit(group, pending)
        record_images(self.ctx, pending, self.counts)
        yield from self._archive_units(archives)

    def _archive_units(self, archives: list[Archive]) -> Iterator[UnitTask]:
        # An archive is read by one worker; with fewer archives than it takes to keep every
        # worker busy, each is cut into stripes read in parallel (each worker inflates the
        # whole archive, decodes its share). Unit ids then depend on the number of workers:
        # a resume with another number re-reads those archives, never changing a byte.
        workers = self.ctx.workers
        stripes = 1 if workers <= 1 else max(1, math.ceil(2 * workers / max(len(archives), 1)))
        stripes = min(stripes, 2 * workers)
        for archive in archives:
            st = (self.root / archive.container).stat()
            for k in range(stripes):
                content = (st.st_size, st.st_mtime_ns, archive.labels_from, k, stripes)
                unit = encode.unit_id(self.spec, archive.container, content)
                self.current.add(unit)
                if unit in self.done:
                    self.ctx.db.execute(
                        "INSERT OR IGNORE INTO temp.scan_seen SELECT treeoflife_id FROM encoded "
                        "WHERE unit = ?",
                        (unit,),
                    )
                    continue
                yield self._task(unit, archive.container, None, k, stripes, archive)

    def apply(self, res: UnitResult) -> int:
        """Record one unit's result; the number of images it read."""
        task, archive = self.handed_out.pop(res.seq)
        records: list[ImageRecord] = []
        rows: list[tuple] = []
        rejects: list[tuple[str, str, str]] = []
        if res.broken:
            rejects.append((archive.container, *res.broken))
        for o in res.outcomes:
            tid = o.treeoflife_id
            if archive is not None:
                item = f"{archive.container}#{o.member}"
                bad = name_not_utf8(item)
                if bad is None and o.member_reject is not None:
                    bad = ScanReject(item, *o.member_reject)
                found = bad or archive.identify(o.member, o.source_bytes)
                if isinstance(found, ScanReject):
                    rejects.append((found.item, found.reason, found.detail))
                    continue
                records.append(found)
                tid = found.treeoflife_id
            w, h = o.source_size or (None, None)
            reject = o.reject[0] if o.reject else None
            rows.append(
                (tid, res.unit, o.source_bytes, o.source_sha256, w, h, o.offset, o.size)
                + (o.sha256, reject, json.dumps(o.notes), o.pixel_std, o.phash)
            )
            rejects += [
                (tid, reason, detail)
                for reason, detail in ((o.reject,) if o.reject else ()) + o.notes
            ]
        if records:
            record_images(self.ctx, records, self.counts)
        work = Path(res.work).relative_to(self.ctx.out).as_posix()
        with builddb.transaction(self.ctx.db) as db:
            db.execute("DELETE FROM rejects WHERE unit = ?", (res.unit,))
            db.executemany(_INSERT_ENCODED, rows)
            for item, reason, detail in rejects:
                builddb.add_reject(db, item, NAME, reason, detail, unit=res.unit)
            db.execute(
                "INSERT OR REPLACE INTO encode_units VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    res.unit,
                    task.container,
                    task.stripe,
                    task.stripes,
                    work,
                    res.bytes,
                    len(rows),
                    sum(1 for r in rows if r[9]),
                ),
            )
        return len(res.outcomes)

    def forget_stale_units(self) -> None:
        """Units of an earlier scan that this one no longer has (their sources changed or went)."""
        db = self.ctx.db
        stale = [
            r for r in db.execute("SELECT unit, work FROM encode_units") if r[0] not in self.current
        ]
        with builddb.transaction(db):
            for unit, _ in stale:
                db.execute("DELETE FROM encoded WHERE unit = ?", (unit,))
                db.execute("DELETE FROM rejects WHERE unit = ?", (unit,))
                db.execute("DELETE FROM encode_units WHERE unit = ?", (unit,))
        for _, work in stale:
            (self.ctx.out / work).unlink(missing_ok=True)


def in_order(results: Iterator[UnitResult]) -> Iterator[UnitResult]:
    """Results by task seq, whatever order the workers finish in."""
    waiting: dict[int, UnitResult] = {}
    nxt = 0
    for res in results:
        waiting[res.seq] = res
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1
    if waiting:  # a seq never arrived: a programming error, not a user's
        raise RuntimeError(f"scan: results {sorted(waiting)[:3]} … came without their predecessors")


def _forget_vanished(ctx: BuildContext) -> int:
    """Remove the images this scan did not find again, and what was recorded about them."""
    db = ctx.db
    gone = "SELECT treeoflife_id FROM images WHERE treeoflife_id NOT IN temp.scan_seen"
    with builddb.transaction(db):
        (count,) = db.execute(f"SELECT COUNT(*) FROM ({gone})").fetchone()
        if count:
            for table, column in (
                ("rejects", "item"),
                ("holdout", "treeoflife_id"),
                ("encoded", "treeoflife_id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {column} IN ({gone})")
            db.execute(f"DELETE FROM images WHERE treeoflife_id IN ({gone})")
        # labels no image has any more (images removed, or relabelled)
        db.execute("DELETE FROM labels WHERE label_key NOT IN (SELECT label_key FROM images)")
    return count


def run(ctx: BuildContext) -> dict[str, Any]:
    ctx.db.execute("CREATE TEMP TABLE IF NOT EXISTS scan_seen (treeoflife_id TEXT PRIMARY KEY)")
    with builddb.transaction(ctx.db) as db:
        db.execute("DELETE FROM temp.scan_seen")
        # what enumeration finds is found anew; a unit's rejects go when it is read again
        db.execute("DELETE FROM rejects WHERE stage = ? AND unit IS NULL", (NAME,))
        # found anew too: the listings re-add their own, the metadata files are joined below
        db.execute("DELETE FROM rights")
    spec = ctx.config.images
    scan = _Pass(ctx, spec)
    removed_tmp = atomic.remove_strays(scan.work_dir)
    if removed_tmp:
        ctx.log(f"scan: removed {removed_tmp} unfinished work files")
    disable = None if ctx.progress is None else not ctx.progress
    bar = tqdm(desc="scan", unit=" img", disable=disable, smoothing=0.05)
    read = units = 0
    settings = ctx.config.distribute
    fault = Fault()
    with distribute.executor(workers=ctx.workers, settings=settings) as ex:
        for res in in_order(ex.run(encode.encode_unit, scan.tasks())):
            n = scan.apply(res)
            fault.hit("unit")
            bar.update(n)
            read += n
            units += 1
    bar.close()
    scan.forget_stale_units()
    removed = _forget_vanished(ctx)
    record_rights(ctx)
    return _summary(ctx, scan.counts, removed, read, units)


def _load(db: Any, table: str, columns: str, rows: Iterator[tuple]) -> None:
    """A temporary table filled from a stream, in batches (nothing held beyond one);
    the first of two rows with the same key wins."""
    db.execute(f"DROP TABLE IF EXISTS temp.{table}")
    db.execute(f"CREATE TEMP TABLE {table} ({columns})")
    batch: list[tuple] = []
    for row in itertools.chain(rows, [None]):
        if row is not None:
            batch.append(row)
        if batch and (row is None or len(batch) >= BATCH):
            marks = ", ".join("?" * len(batch[0]))
            db.executemany(f"INSERT OR IGNORE INTO temp.{table} VALUES ({marks})", batch)
            batch.clear()


_INSERT_RIGHTS = "INSERT OR IGNORE INTO rights "


def record_rights(ctx: BuildContext) -> None:
    """Licenses and rights holders from the metadata files sources publish, joined with the
    images by key in SQLite (the listings' own were recorded with the images). Where two
    files know an image, the more specific wins: a TreeOfLife-10M image's licenses.csv row
    over the EOL manifest row of its content id."""
    cfg, db = ctx.config, ctx.db
    root = Path(cfg.sources_root)
    db.create_function("tol_license", 2, licenses.normalise, deterministic=True)
    with builddb.transaction(db):
        path = cfg.source_path("tol10m_licenses")
        if path.is_file():
            _load(
                db,
                "tol10m_rights",
                "treeoflife_id TEXT PRIMARY KEY, license TEXT, holder TEXT, link TEXT, url TEXT",
                rights_files.tol10m_licenses(path),
            )
            db.execute(
                _INSERT_RIGHTS + "SELECT i.treeoflife_id, tol_license(m.license, m.link), "
                "m.license, m.holder, m.url, ?, '{}' FROM images i "
                "JOIN temp.tol10m_rights m ON m.treeoflife_id = i.treeoflife_id "
                "WHERE i.source = 'tol10m'",
                (relative(path, root),),
            )
        path = cfg.source_path("eol_media_manifest")
        if path.is_file():
            _load(
                db,
                "eol_media",
                "content_id INTEGER PRIMARY KEY, license TEXT, holder TEXT, url TEXT",
                rights_files.eol_manifest(path),
            )
            db.execute(
                _INSERT_RIGHTS + "SELECT i.treeoflife_id, tol_license(m.license, NULL), "
                "m.license, m.holder, m.url, ?, '{}' FROM images i "
                "JOIN temp.eol_media m ON m.content_id = i.eol_content_id "
                "WHERE i.source IN ('eol', 'tol10m')",
                (relative(path, root),),
            )
        for name in ("inat21_train_json", "inat21_val_json"):
            path = cfg.source_path(name)
            if not path.is_file():
                continue
            _load(
                db,
                "inat21_licenses",
                "id PRIMARY KEY, name TEXT, url TEXT",
                rights_files.inat21_licenses(path),
            )
            _load(
                db,
                "inat21_rights",
                "cls_num INTEGER, file TEXT, license_id, holder TEXT, PRIMARY KEY (cls_num, file)",
                rights_files.inat21_images(path),
            )
            db.execute(
                _INSERT_RIGHTS + "SELECT i.treeoflife_id, tol_license(l.name, l.url), "
                "COALESCE(l.name, ''), a.holder, '', ?, '{}' FROM images i "
                "JOIN temp.inat21_rights a ON a.cls_num = i.inat21_cls_num "
                "AND a.file = i.inat21_filename "
                "LEFT JOIN temp.inat21_licenses l ON l.id = a.license_id "
                "WHERE i.source = 'inat21'",
                (relative(path, root),),
            )
        for table in ("tol10m_rights", "eol_media", "inat21_rights", "inat21_licenses"):
            db.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _summary(
    ctx: BuildContext, counts: Counter, removed: int, read: int, units: int
) -> dict[str, Any]:
    db = ctx.db
    total = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    labels = db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    by_source = dict(db.execute("SELECT source, COUNT(*) FROM images GROUP BY 1 ORDER BY 1"))
    reasons = dict(
        db.execute(
            "SELECT reason, COUNT(*) FROM rejects WHERE stage = ? GROUP BY 1 ORDER BY 1", (NAME,)
        )
    )
    usable = db.execute("SELECT COUNT(*) FROM encoded WHERE reject IS NULL").fetchone()[0]
    by_license = dict(
        db.execute(
            "SELECT COALESCE(r.license, ?), COUNT(*) FROM images i "
            "LEFT JOIN rights r ON r.treeoflife_id = i.treeoflife_id GROUP BY 1 ORDER BY 1",
            (licenses.UNKNOWN,),
        )
    )
    summary = {
        "images": total,
        "new": counts["new"],
        "removed": removed,
        "changed": counts["changed"],
        "read_now": read,
        "usable": usable,
        "labels": labels,
        "by_source": by_source,
        "rejects": reasons,
        "licenses": by_license,
    }
    ctx.log(
        f"scan: {total} images in the build ({counts['new']} new"
        + (f", {counts['changed']} moved or relabelled" if counts["changed"] else "")
        + (f", {removed} no longer in the sources and removed" if removed else "")
        + f"); {read} read and encoded now in {units} units, {usable} usable; "
        f"{labels} distinct labels, {sum(reasons.values())} rejects"
        + "".join(f"\n  {k}: {v}" for k, v in sorted(reasons.items()))
    )
    return summary


STAGE = Stage(
    NAME,
    "find every source image and read it once: stable id, source digest, size, small JPEG",
    run,
    inputs,
    uses_workers=True,
)
