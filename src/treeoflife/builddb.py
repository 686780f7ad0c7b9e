"""``OUT/build.sqlite``: the one record of a build, and the lock that guards it.

Every stage reads what earlier stages recorded here and records what it did; only the
driver process writes (workers return results). The schema, every stage's relations, is
created in one place, below, when the database is opened.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from treeoflife import atomic
from treeoflife.columns import ID_COLUMNS, INTEGER_COLUMNS
from treeoflife.errors import TolError

DB_NAME = "build.sqlite"
LOCK_NAME = ".tol.lock"
# the size and mtime of build.sqlite as tol left it after a command that ended well: a file
# still so (and without a WAL) is not checked again on opening (see needs_check)
CLOSED_NAME = ".tol.closed"


def is_record(name: str) -> bool:
    """Whether a file of OUT is the build's own record (its database and that database's
    log, the lock, the closed-state note) rather than part of the dataset."""
    return name in (DB_NAME, LOCK_NAME, CLOSED_NAME) or name.startswith(f"{DB_NAME}-")


SCHEMA_VERSION = 7  # 2: the image pass moved into scan; samples; rejects.unit
# 3: unselected ([select]); rights (licenses, owned by scan), encoded.pixel_std (for [filters])
# 4: encoded.phash, eval_files, eval_images, clusters, duplicates ([dedup])
# 5: splits, holdout, unselected and duplicates WITHOUT ROWID: each is probed by id once per
#    image by later stages, and a table clustered on its key is one B-tree search, not two
# 6: samples carries each sample's image record (source bytes and sha256, phash, rights,
#    in_train_small) and its JPEG's place, so catalog, provenance and write read one
#    relation in shard order; a
#    version 5 database is migrated by dropping samples (plan's output: plan runs again)
# 7: samples no longer copies its label's ranks, common name and status (taken from taxa
#    by label where a stage needs them): rows ~13 % narrower, plan ~15 % faster at 1M; a
#    version 5 or 6 database is migrated the same way

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- one row per stage that finished, with the fingerprint of what it read
CREATE TABLE IF NOT EXISTS stages (
    stage TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL,           -- JSON
    outputs TEXT NOT NULL DEFAULT '[]' -- JSON [[path under OUT, size, mtime_ns, sha256], ...]
);

-- every image a source enumerated (scan)
CREATE TABLE IF NOT EXISTS images (
    treeoflife_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,            -- eol | inat21 | bioscan | tol10m | generic | bioscan5m | gbif
    container TEXT,                  -- archive path relative to the sources root, or NULL
    member TEXT NOT NULL,            -- member name in the archive, or path relative to the root
    label_key TEXT NOT NULL,         -- -> labels.label_key
    size_bytes INTEGER,
    eol_content_id INTEGER,
    eol_page_id INTEGER,
    bioscan_part INTEGER,
    bioscan_filename TEXT,
    inat21_filename TEXT,
    inat21_cls_name TEXT,
    inat21_cls_num INTEGER
);
CREATE INDEX IF NOT EXISTS images_by_label ON images(label_key);
CREATE INDEX IF NOT EXISTS images_by_container ON images(container, member);

-- the image pass (scan): a unit is a stripe of an archive or a batch of loose files, read
-- once; its small JPEGs are in its work file (OUT/.work/, deleted after verify)
CREATE TABLE IF NOT EXISTS encode_units (
    unit TEXT PRIMARY KEY,           -- sha256 of (image spec, container, content signature)
    container TEXT,                  -- archive, or NULL for loose files
    stripe INTEGER NOT NULL,
    stripes INTEGER NOT NULL,
    work TEXT NOT NULL,              -- work file, relative to OUT
    bytes INTEGER NOT NULL,
    images INTEGER NOT NULL,
    rejected INTEGER NOT NULL
);

-- what the image pass learnt of each image: its source bytes, its size, and where its
-- small JPEG is, or why there is none
CREATE TABLE IF NOT EXISTS encoded (
    treeoflife_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    source_bytes INTEGER NOT NULL,
    source_sha256 TEXT,              -- of the source file's bytes
    width INTEGER, height INTEGER,   -- of the source image
    offset INTEGER,
    size INTEGER,
    sha256 TEXT,                     -- of the small JPEG
    reject TEXT,                     -- reason code when there is no JPEG
    notes TEXT NOT NULL DEFAULT '[]', -- JSON [[reason, detail], ...] of kept repairs
    pixel_std REAL,                  -- of the small decode, 0-255 (a blank frame is ~0)
    phash INTEGER                    -- 64-bit perceptual hash (treeoflife.dedup.phash), signed;
                                     -- NULL: no JPEG, or a picture without structure
);
CREATE INDEX IF NOT EXISTS encoded_by_unit ON encoded(unit);

-- who holds the rights to each image and under which license, as its source says (scan);
-- an image without a row has an unknown license
CREATE TABLE IF NOT EXISTS rights (
    treeoflife_id TEXT PRIMARY KEY,
    license TEXT NOT NULL,           -- code from treeoflife.licenses.normalise
    license_text TEXT NOT NULL,      -- as the source gave it
    rights_holder TEXT NOT NULL DEFAULT '',
    source_url TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL,            -- where it was read, e.g. eol/media_manifest.csv
    details TEXT NOT NULL DEFAULT '{}' -- JSON: what else the source says of where the image
                                     -- came from (GBIF: gbif_id, occurrence_id, creator, ...)
);

-- [dedup] eval_sets (cluster): each file read, by signature, so it is hashed again only
-- when it changes; and each of its images' hashes
CREATE TABLE IF NOT EXISTS eval_files (
    path TEXT PRIMARY KEY,           -- absolute
    eval_set TEXT NOT NULL,          -- the entry of eval_sets, as configured
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    problem TEXT NOT NULL DEFAULT '' -- an archive that could not be read to its end
);
CREATE TABLE IF NOT EXISTS eval_images (
    name TEXT PRIMARY KEY,           -- eval set entry / path inside it [#member]
    file TEXT NOT NULL,              -- -> eval_files.path
    phash INTEGER,                   -- NULL: not decodable
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS eval_images_by_file ON eval_images(file);

-- duplicate clusters (cluster): every image, and eval image, in a cluster of two or more
-- that holds at least one source image; a cluster is named by its smallest treeoflife_id
CREATE TABLE IF NOT EXISTS clusters (
    member TEXT PRIMARY KEY,         -- treeoflife_id, or eval_images.name when is_eval
    cluster TEXT NOT NULL,
    is_eval INTEGER NOT NULL,
    phash INTEGER,                   -- NULL: a picture without structure (flat)
    sha256 TEXT NOT NULL             -- of the source bytes
);
CREATE INDEX IF NOT EXISTS clusters_by_cluster ON clusters(cluster);

-- the images dedup drops (dedup, after resolve): a cluster's other samples, or matches of
-- an eval image; plan leaves them out
CREATE TABLE IF NOT EXISTS duplicates (
    treeoflife_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,            -- duplicate | eval_duplicate
    kept TEXT NOT NULL,              -- the kept treeoflife_id, or the eval image's name
    distance INTEGER NOT NULL        -- Hamming distance of the perceptual hashes
) WITHOUT ROWID;

-- what each source says about a distinct label (scan); resolve turns these into taxa
CREATE TABLE IF NOT EXISTS labels (
    label_key TEXT PRIMARY KEY,      -- e.g. eol:page:46559130, inat21:00001_Animalia_...
    source TEXT NOT NULL,
    given TEXT NOT NULL              -- JSON: {"name": ..., "ranks": {...}, "page_id": ...}
);

-- split of each image (split)
{splits}

-- resolved seven ranks + common name of each label (resolve)
CREATE TABLE IF NOT EXISTS taxa (
    label_key TEXT PRIMARY KEY,
    kingdom TEXT NOT NULL DEFAULT '', phylum TEXT NOT NULL DEFAULT '',
    class TEXT NOT NULL DEFAULT '', "order" TEXT NOT NULL DEFAULT '',
    family TEXT NOT NULL DEFAULT '', genus TEXT NOT NULL DEFAULT '',
    species TEXT NOT NULL DEFAULT '', common TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,            -- resolved | partial | ambiguous | unresolved
    provenance TEXT NOT NULL         -- JSON: rank -> {source, record, how}
);

-- images held out for the rare-species benchmark (resolve)
CREATE TABLE IF NOT EXISTS holdout (
    treeoflife_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL
) WITHOUT ROWID;

-- images the [select] rules leave out, with the rule's reason code (select); plan skips them
CREATE TABLE IF NOT EXISTS unselected (
    treeoflife_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL             -- a select_* code of treeoflife.rejects
) WITHOUT ROWID;

-- anything set aside or repaired, with a code from treeoflife.rejects
CREATE TABLE IF NOT EXISTS rejects (
    item TEXT NOT NULL,              -- treeoflife_id, or container[#member] when there is no id
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    outcome TEXT NOT NULL,           -- dropped | kept
    detail TEXT NOT NULL DEFAULT '',
    unit TEXT,                       -- the scan unit that found it (re-found when it re-runs)
    PRIMARY KEY (item, stage, reason)
);

-- every planned sample, written once by plan: where it goes (split, shard, position) and
-- what it says (source, ids, label, locator, small-JPEG digest), and its image's record
-- (source bytes, sha256 and perceptual hash from encoded; license and rights from
-- rights). write, verify, catalog, check-taxa and report read it; what is the same for
-- every sample of a label (ranks, common name, status, ~1 KB of provenance JSON) stays in
-- taxa, read by label.
-- A sample is in a split at most once (plan reads splits, keyed by id); a train_small
-- sample is also a train sample.
{samples}

-- one row per planned shard; status: planned | done | bad (verify found it broken)
CREATE TABLE IF NOT EXISTS shards (
    split TEXT NOT NULL,
    shard INTEGER NOT NULL,
    name TEXT NOT NULL,              -- path relative to OUT
    planned INTEGER NOT NULL,        -- samples in the plan (before image rejects)
    est_bytes INTEGER NOT NULL,
    digest TEXT NOT NULL,            -- sha256 of everything the shard's bytes depend on
    status TEXT NOT NULL,
    samples INTEGER,                 -- as written
    bytes INTEGER,
    sha256 TEXT,
    problem TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (split, shard)
);

"""


# split makes the table anew each run (the last run's is set aside to count what moved)
SPLITS = """CREATE TABLE IF NOT EXISTS splits (
    treeoflife_id TEXT PRIMARY KEY,
    split TEXT NOT NULL              -- train | val ; train_small is a subset, see in_train_small
    , in_train_small INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;"""


def _samples_table() -> str:
    columns = [
        "split TEXT NOT NULL",
        "shard INTEGER NOT NULL",
        "position INTEGER NOT NULL",  # order inside the shard
        "treeoflife_id TEXT NOT NULL",
        "source TEXT NOT NULL",
        "label_key TEXT NOT NULL",
        *(f"{c} {'INTEGER' if c in INTEGER_COLUMNS else 'TEXT'}" for c in ID_COLUMNS),
        # copied from images and encoded when planned: catalog reads one relation in shard
        # order instead of two random lookups per sample (~4x faster at 300K samples)
        "identity_key TEXT NOT NULL",
        "container TEXT",
        "member TEXT NOT NULL",
        "image_sha256 TEXT NOT NULL",  # of the small JPEG
        "source_width INTEGER",
        "source_height INTEGER",
        "image_notes TEXT NOT NULL",
        # the image's record, read by plan in its candidate join (tables in storage order,
        # before the sort), so catalog, provenance and report never probe encoded or
        # rights by id in shard order (random pages once they outgrow the page cache:
        # ~30 µs a sample at 1M). Rights are as scan recorded them, with the values an
        # image without a rights row has (unknown license, empty texts).
        "in_train_small INTEGER NOT NULL DEFAULT 0",
        "source_bytes INTEGER",
        "source_sha256 TEXT",
        "phash INTEGER",
        "license TEXT NOT NULL DEFAULT 'unknown'",
        "license_text TEXT NOT NULL DEFAULT ''",
        "rights_holder TEXT NOT NULL DEFAULT ''",
        "source_url TEXT NOT NULL DEFAULT ''",
        "license_origin TEXT NOT NULL DEFAULT ''",
        "source_details TEXT NOT NULL DEFAULT '{}'",
        # where the small JPEG is (encoded's unit, offset and size), for write, so it
        # reads a shard's rows without a probe of encoded per sample; write's re-encode
        # of a unit refreshes them
        "unit TEXT",
        "jpeg_offset INTEGER",
        "jpeg_size INTEGER",
        "PRIMARY KEY (split, shard, position)",
    ]
    return "CREATE TABLE IF NOT EXISTS samples (\n    " + ",\n    ".join(columns) + "\n);"


SCHEMA = _SCHEMA.replace("{samples}", _samples_table()).replace("{splits}", SPLITS)

# An image's `encoded` row, read while walking `images` in storage order: scan writes both
# tables in the same order, so it is almost always the row with the image's rowid (an
# integer probe, in storage order); where that row is another image's (a re-scan moved
# it), the id index is probed. Probing the id index for every image reads it at random
# once it outgrows the page cache (~600 MB at 10M images). Over `images i` joined with
# ENCODED_BY_ROWID; ``expr`` is written over ``{e}``, the encoded row: NULL when the image
# has none.
ENCODED_BY_ROWID = "LEFT JOIN encoded e ON e.rowid = i.rowid"


def image_encoded(expr: str) -> str:
    """SQL of ``expr`` (over ``{e}``) on image ``i``'s own `encoded` row (see above)."""
    return (
        f"CASE WHEN e.treeoflife_id = i.treeoflife_id THEN {expr.format(e='e')} ELSE "
        f"(SELECT {expr.format(e='x')} FROM encoded x WHERE x.treeoflife_id = i.treeoflife_id) "
        "END"
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# SQLite's words for a database file that is not (or no longer) a valid database
DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def damaged(path: Path, why: object) -> TolError:
    """The one line a damaged build database gets: no stage can be trusted to read it, and
    SQLite cannot repair it, so the way out is a new one (the sources are read again)."""
    return TolError(
        f"the build database {path} is damaged ({why}); move it away and run "
        f"`tol build --sources DIR --out {Path(path).parent}` again to rebuild it from the sources"
    )


def connect(out: Path, *, create: bool = False, read_only: bool = False) -> sqlite3.Connection:
    """Open the build database of ``out`` (creating it when ``create``).

    Opened for writing, it is checked first (``PRAGMA quick_check``: a page-level scan,
    about a second per few hundred MB), so a damaged file is said in one line before any
    stage builds on it. ``read_only`` (OUT is not writable: ``tol verify`` on a read-only
    mount) opens it without creating, locking or checking anything.
    """
    path = Path(out) / DB_NAME
    if not path.exists():
        if not create:
            raise TolError(
                f"{out} is not a build directory (no {DB_NAME}); run `tol build` or `tol scan` first"
            )
        Path(out).mkdir(parents=True, exist_ok=True)
    try:
        db = open_read_only(path) if read_only else _open_for_writing(path)
        version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorname in DAMAGED:
            raise damaged(path, exc) from None
        raise
    if version is None and not read_only:
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    elif version is not None and int(version[0]) in (5, 6) and not read_only:
        _samples_again(db)
    elif version is None or int(version[0]) != SCHEMA_VERSION:
        raise TolError(
            f"{path} was made by another version of treeoflife (schema {version and version[0]}); use a new --out"
        )
    return db


def _samples_again(db: sqlite3.Connection) -> None:
    """Version 5 or 6 → 7: ``samples`` changed its columns (6 gained the image's record, 7
    left the label's columns to ``taxa``). It is plan's output and only plan writes it, so
    it is made again empty and plan (and what follows) runs again; a shard whose content
    digest is unchanged keeps its ``done`` record, so its tar is not rewritten."""
    with transaction(db):
        db.execute("DROP TABLE samples")
        db.execute(_samples_table())
        from treeoflife.stages import stage_names  # the one stage order (it imports this)

        names = stage_names()
        forget_stages(db, names[names.index("plan") :])  # the next build plans again
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _file_state(path: Path) -> list[int] | None:
    """What says a file was changed: its size and mtime (ns); None when it is gone."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def needs_check(path: Path) -> bool:
    """Whether the build database must be checked (``PRAGMA quick_check``) on opening: yes
    unless tol closed it after a command that ended well and it has not changed since (the
    same size and mtime, and no write-ahead log left by a process that did not close it).

    The check reads every page: ~1 s a few hundred MB, ~25 s at 10M images, paid by every
    command. What it guards against is a file damaged behind tol's back (cut short, written
    over, restored from elsewhere), and any such write changes its size or mtime; damage
    it could not see that way (a disk's bit rot) is still said in one line by the command
    that reads the page (SQLITE_CORRUPT is a ``damaged`` error wherever it is raised)."""
    stamp = path.parent / CLOSED_NAME
    try:
        closed = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return True
    wal = _file_state(path.with_name(path.name + "-wal"))
    return closed != _file_state(path) or bool(wal and wal[0])


def close(db: sqlite3.Connection, out: Path, *, ended_well: bool) -> None:
    """Close a build database opened for writing; after a command that ended well, note the
    file's state, so the next command need not check it again (:func:`needs_check`)."""
    db.close()  # the last connection: SQLite checkpoints the log into the file and removes it
    path = Path(out) / DB_NAME
    if ended_well and not _file_state(path.with_name(path.name + "-wal")):
        atomic.write_text(Path(out) / CLOSED_NAME, json.dumps(_file_state(path)))


PAGE_SIZE = 16384  # bytes, of a new build database
CACHE_MIB = 256  # SQLite's page cache of a writing connection, unless TOL_SQLITE_CACHE_MIB says


def cache_mib() -> int:
    """The page cache, in MiB, of a writing connection: ``TOL_SQLITE_CACHE_MIB`` or
    CACHE_MIB. SQLite's memory in a tol process is bounded by about twice this plus half
    of it (pages, a sort, temporary tables); a small machine can lower it at some cost in
    speed, and the build benchmark sets it to 1 to see what else grows with the build."""
    given = os.environ.get("TOL_SQLITE_CACHE_MIB", "")
    if not given:
        return CACHE_MIB
    if not given.isdigit() or int(given) < 1:
        raise TolError(
            f"TOL_SQLITE_CACHE_MIB must be a whole number of MiB (1 or more), got {given!r}"
        )
    return int(given)


def _open_for_writing(path: Path) -> sqlite3.Connection:
    mib = cache_mib()  # a bad setting is refused before the file is touched
    db = sqlite3.connect(path, isolation_level=None)  # explicit transactions only
    # a new database gets 16 KiB pages (an existing one keeps its own: the size is fixed
    # when the file is made, before WAL is on): plan's wide sample rows went in 12 % faster,
    # split 5 %, report 4 % at 1M against 4 KiB pages, catalog the same
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
    db.execute("PRAGMA journal_mode=WAL")
    check = needs_check(path)
    (path.parent / CLOSED_NAME).unlink(missing_ok=True)  # until this command ends well
    if path.stat().st_size and check:
        problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            db.close()
            raise damaged(path, " ".join(problems[0].split())[:200])  # the first, on one line
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=OFF")
    # freed pages are not zeroed (some builds of SQLite, Debian's among them, zero them by
    # default): the build database holds no secrets, and a re-plan's DELETE of the samples
    # took 1.2 s at 1M zeroing them, 0.45 s without
    db.execute("PRAGMA secure_delete=OFF")
    # the page cache (256 MiB by default: bulk inserts run several times faster), which also
    # bounds each of SQLite's sorts in memory, and half of it for temporary tables
    # (SQLite's default is 2 MB: split and plan probe or walk theirs once an image, ~60 MB
    # at 1M images, and with the default most of those pages are read back from the temp
    # file); caps, filled only by a stage that needs them
    db.execute(f"PRAGMA cache_size=-{mib * 1024}")
    db.execute(f"PRAGMA temp.cache_size=-{max(1, mib // 2) * 1024}")
    db.executescript(SCHEMA)
    return db


def scratch() -> sqlite3.Connection:
    """A private temporary SQLite database for one process's scratch data: on disk (SQLite's
    temporary directory), never shared, deleted when closed, nothing to make durable. What
    a stage keeps here per label or per candidate (resolve's queries and candidates) is
    stored ``marshal``-ed: the file never outlives the Python that wrote it."""
    db = sqlite3.connect("")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    return db


def open_read_only(path: Path) -> sqlite3.Connection:
    """Open a build database for reading only. In a folder this process cannot write,
    SQLite cannot make the WAL's ``-shm`` file, so it is opened as immutable there (no tol
    command writes a build it cannot lock)."""
    immutable = "&immutable=1" if not os.access(Path(path).parent, os.W_OK) else ""
    db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro{immutable}", uri=True)
    db.execute("PRAGMA query_only=ON")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


@contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold OUT's lock for the duration: a second build on the same OUT refuses at once."""
    Path(out).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(out) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise TolError(
                f"{out} is in use by another tol command (pid {holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock, also when the process is killed


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def stage_fingerprint(db: sqlite3.Connection, stage: str) -> str | None:
    row = db.execute("SELECT fingerprint FROM stages WHERE stage=?", (stage,)).fetchone()
    return row[0] if row else None


def stage_summary(db: sqlite3.Connection, stage: str) -> dict[str, Any] | None:
    """What the stage recorded of its last run (its summary), or None if it has none."""
    row = db.execute("SELECT summary FROM stages WHERE stage=?", (stage,)).fetchone()
    return json.loads(row[0]) if row else None


def record_stage(
    db: sqlite3.Connection, stage: str, fingerprint: str, summary: dict, outputs: list | None = None
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?, ?)",
        (
            stage,
            fingerprint,
            _now(),
            json.dumps(summary, sort_keys=True),
            json.dumps(outputs or []),
        ),
    )


def stage_outputs(db: sqlite3.Connection, stage: str) -> list:
    row = db.execute("SELECT outputs FROM stages WHERE stage=?", (stage,)).fetchone()
    return json.loads(row[0]) if row else []


def forget_stages(db: sqlite3.Connection, stages: list[str]) -> None:
    db.executemany("DELETE FROM stages WHERE stage=?", [(s,) for s in stages])


def drop_scratch(db: sqlite3.Connection) -> None:
    """Drop every temporary table: a stage's scratch ends with it. Left for the stages after
    it in the same ``tol build``, split's million-row cluster keys made each later write
    outside a transaction cost ~1.5 ms (SQLite's commit of the temporary database walks
    its cache). Their pages stay in that cache, though: a temporary file's pages are
    never written back (nothing needs them on disk), so they stay dirty, and SQLite frees
    only clean pages (``PRAGMA shrink_memory``, a smaller cache_size and ``VACUUM temp``
    all leave them: 59 MB of pages after dropping a 59 MB temporary table). The next stage
    reuses them; what a build holds so is bounded by the temporary cache (half of
    :func:`cache_mib`): 55 MB after plan at 1M bench images, 111 MB at 2M."""
    tables = db.execute("SELECT name FROM temp.sqlite_master WHERE type = 'table'").fetchall()
    for (name,) in tables:
        db.execute(f'DROP TABLE temp."{name}"')


def add_reject(
    db: sqlite3.Connection,
    item: str,
    stage: str,
    reason: str,
    detail: str = "",
    outcome: str | None = None,
    unit: str | None = None,
) -> None:
    from treeoflife import rejects

    db.execute(
        "INSERT OR REPLACE INTO rejects VALUES (?, ?, ?, ?, ?, ?)",
        (item, stage, reason, outcome or rejects.outcome(reason), detail, unit),
    )
