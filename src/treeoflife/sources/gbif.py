"""GBIF occurrence downloads: ``gbif/occurrence/occurrence.txt`` + ``multimedia.txt``
(the Darwin Core Archive a GBIF download unpacks to) and the images ``tol fetch-images
--gbif`` wrote beside them, ``images/<id[:2]>/<id>.<type>``.

Each StillImage row of ``multimedia.txt`` is one image, labelled with its occurrence's
interpreted taxonomy (``kingdom`` … ``species``, ``scientificName``, ``taxonKey``: what
GBIF matched the record to in its backbone) and carrying its own license, rights holder
and creator. Its id is a UUIDv5 of (``gbifID``, media ``identifier`` URL), which is also
the image's file name, so the fetcher and this reader agree without a shared table.
Images come in id order, whatever the order of the download's rows: the same download
gives the same scan, and consecutive images share their ``images/<id[:2]>/`` folder, so
the image pass reads them in batches of one folder (as it does every loose source).

A download is large (hundreds of millions of occurrence rows, ~250 columns each), so the
two files are streamed, never loaded: the image rows are put in a temporary SQLite table,
the occurrences they belong to are kept while ``occurrence.txt`` streams past, and one
join gives the images back by id — memory is SQLite's page cache, whatever the
download's size.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from treeoflife.config import Config
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import ImageRecord, ScanReject, relative, tsv_rows
from treeoflife.taxonomy.ranks import RANKS

NAME = "gbif"
OCCURRENCE = "occurrence.txt"
MULTIMEDIA = "multimedia.txt"
IMAGES = "images"

# the columns read, by their names in a GBIF DwC-A download (gbif.org/developer/occurrence)
OCCURRENCE_REQUIRED = ("gbifID", *RANKS, "scientificName", "taxonKey")
OCCURRENCE_WANTED = ("occurrenceID", "datasetKey", "license", "rightsHolder", "taxonRank")
MEDIA_REQUIRED = ("gbifID", "type", "format", "identifier")
MEDIA_WANTED = ("references", "title", "creator", "publisher", "license", "rightsHolder")
STILL_IMAGE = "StillImage"

# the file type fetch-images gives an image (by its bytes); the one the media row's
# ``format`` names is tried first, so a found image costs one stat
IMAGE_TYPES = ("jpg", "png", "gif", "webp", "tif", "bmp")
_FORMAT_TYPE = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/tiff": "tif",
    "image/bmp": "bmp",
}
_BATCH = 10_000


def is_still_image(media: dict[str, str]) -> bool:
    """Whether a multimedia row is an image: GBIF's interpreted ``type`` says so (Sound,
    MovingImage and InteractiveResource rows are not images and are passed over), or,
    when a publisher left ``type`` empty, its ``format`` is an image MIME type."""
    kind = media.get("type", "").strip()
    if kind:
        return kind == STILL_IMAGE
    return media.get("format", "").strip().lower().startswith("image/")


def image_key(gbif_id: str, url: str) -> str:
    """The identity key of one media item: the GBIF occurrence key and the media URL."""
    return identity_key(NAME, gbif_id.strip(), url.strip())


def image_stem(gbif_id: str, url: str) -> str:
    """Where fetch-images puts the image, without its type: ``images/<id[:2]>/<id>``."""
    tid = treeoflife_id(image_key(gbif_id, url))
    return f"{IMAGES}/{tid[:2]}/{tid}"


def media_rows(folder: Path) -> Iterator[dict[str, str]]:
    """The rows of ``multimedia.txt``, streamed."""
    return tsv_rows(
        folder / MULTIMEDIA, MEDIA_REQUIRED, "a GBIF multimedia.txt", wanted=MEDIA_WANTED
    )


def present(folder: Path) -> bool:
    return (folder / OCCURRENCE).is_file() and (folder / MULTIMEDIA).is_file()


def input_files(cfg: Config) -> list[Path]:
    folder = cfg.source_path("gbif_occurrence")
    if not present(folder):
        return []
    images = folder / IMAGES
    fetched = sorted(p for p in images.rglob("*") if p.is_file()) if images.is_dir() else []
    return [folder / OCCURRENCE, folder / MULTIMEDIA, *fetched]


def joined(folder: Path) -> Iterator[tuple[str, bool, dict[str, str], dict[str, str] | None]]:
    """(treeoflife_id, first, media row, its occurrence or None) of every StillImage row of
    ``multimedia.txt`` by id, joined through a temporary SQLite database; ``first`` is
    False for a row naming the same (occurrence, URL) as an earlier row of the file."""
    with tempfile.TemporaryDirectory(prefix="tol-gbif-") as tmp:
        db = sqlite3.connect(Path(tmp) / "join.sqlite", isolation_level=None)
        try:
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536"):
                db.execute(f"PRAGMA {pragma}")
            db.execute(
                "CREATE TABLE media (seq INTEGER PRIMARY KEY, gbif_id TEXT, tid TEXT, row TEXT)"
            )
            db.execute("CREATE TABLE occ (gbif_id TEXT PRIMARY KEY, row TEXT) WITHOUT ROWID")
            _load_media(db, folder)
            db.execute("CREATE INDEX media_by_occ ON media (gbif_id)")
            db.execute("CREATE INDEX media_by_id ON media (tid, seq)")
            _load_occurrences(db, folder)
            cursor = db.execute(
                "SELECT m.tid, m.seq = (SELECT MIN(d.seq) FROM media d WHERE d.tid = m.tid), "
                "m.row, o.row FROM media m LEFT JOIN occ o ON o.gbif_id = m.gbif_id "
                "ORDER BY m.tid, m.seq"
            )
            for tid, first, media, occ in cursor:
                occurrence = json.loads(occ) if occ is not None else None
                yield tid, bool(first), json.loads(media), occurrence
        finally:
            db.close()


def _load_media(db: sqlite3.Connection, folder: Path) -> None:
    batch: list[tuple[int, str, str, str]] = []
    db.execute("BEGIN")
    for seq, row in enumerate(media_rows(folder)):
        if is_still_image(row):
            gbif_id = row["gbifID"].strip()
            tid = treeoflife_id(image_key(gbif_id, row["identifier"]))
            batch.append((seq, gbif_id, tid, json.dumps(row, ensure_ascii=False)))
        if len(batch) >= _BATCH:
            db.executemany("INSERT INTO media VALUES (?, ?, ?, ?)", batch)
            batch.clear()
    db.executemany("INSERT INTO media VALUES (?, ?, ?, ?)", batch)
    db.execute("COMMIT")


def _load_occurrences(db: sqlite3.Connection, folder: Path) -> None:
    """Keep the occurrences an image belongs to (the first row of a repeated gbifID)."""
    keep = (
        "INSERT OR IGNORE INTO occ SELECT ?1, ?2 "
        "WHERE EXISTS (SELECT 1 FROM media WHERE gbif_id = ?1)"
    )
    rows = tsv_rows(
        folder / OCCURRENCE,
        OCCURRENCE_REQUIRED,
        "a GBIF occurrence.txt (the Darwin Core Archive of an occurrence download)",
        wanted=OCCURRENCE_WANTED,
    )
    batch: list[tuple[str, str]] = []
    db.execute("BEGIN")
    for row in rows:
        batch.append((row["gbifID"].strip(), json.dumps(row, ensure_ascii=False)))
        if len(batch) >= _BATCH:
            db.executemany(keep, batch)
            batch.clear()
    db.executemany(keep, batch)
    db.execute("COMMIT")


def label_of(occ: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(label key, given label) of an occurrence: its interpreted ranks, the backbone name
    and key. GBIF's ``species`` is a binomial; the resolver takes it as genus + epithet."""
    ranks = {r: occ.get(r, "").strip() for r in RANKS}
    name = occ.get("scientificName", "").strip()
    taxon_key = occ.get("taxonKey", "").strip()
    key = f"{NAME}:" + json.dumps([taxon_key, *ranks.values(), name], ensure_ascii=False)
    return key, {"name": name, "ranks": ranks, "taxon_key": taxon_key}


def provenance_of(media: dict[str, str], occ: dict[str, str]) -> dict[str, str]:
    """License and rights of one media item (the media row's own; the occurrence's record
    license when the media row has none, and ``license_from`` says which), and its ids."""
    license_text, source = media.get("license", "").strip(), "media"
    if not license_text:
        license_text, source = occ.get("license", "").strip(), "occurrence"
    return {
        "license": license_text,
        "license_from": source if license_text else "",
        "rights_holder": media.get("rightsHolder", "").strip()
        or occ.get("rightsHolder", "").strip(),
        "creator": media.get("creator", "").strip(),
        "publisher": media.get("publisher", "").strip(),
        "title": media.get("title", "").strip(),
        "source_url": media.get("references", "").strip() or media["identifier"].strip(),
        "media_url": media["identifier"].strip(),
        "gbif_id": media["gbifID"].strip(),
        "occurrence_id": occ.get("occurrenceID", "").strip(),
        "dataset_key": occ.get("datasetKey", "").strip(),
    }


def find_image(folder: str, stem: str, media_format: str) -> tuple[str, os.stat_result] | None:
    """The fetched file of an image (its path and stat), whatever type its bytes turned out
    to be. Strings and ``os.stat``, not ``Path``: this runs once per media row."""
    first = _FORMAT_TYPE.get(media_format.strip().lower().split(";")[0], "jpg")
    for kind in (first, *(k for k in IMAGE_TYPES if k != first)):
        path = f"{folder}/{stem}.{kind}"
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return path, st
    return None


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    folder = cfg.source_path("gbif_occurrence")
    if not present(folder):
        return
    root = Path(cfg.sources_root)
    listing = relative(folder / MULTIMEDIA, root)
    where = str(folder)
    for tid, first, media, occ in joined(folder):
        gbif_id, url = media["gbifID"].strip(), media["identifier"].strip()
        item = f"{listing}#{gbif_id} {url}"
        if not url:
            yield ScanReject(item, "image_missing", "the media row has no identifier URL")
            continue
        if occ is None:
            yield ScanReject(
                item, "label_missing", f"occurrence {gbif_id} is not in occurrence.txt"
            )
            continue
        if not first:
            yield ScanReject(item, "duplicate_locator", "the same URL twice for one occurrence")
            continue
        found = find_image(where, f"{IMAGES}/{tid[:2]}/{tid}", media.get("format", ""))
        if found is None:
            yield ScanReject(
                item,
                "image_missing",
                "not fetched: run `tol fetch-images --gbif` (its failures are in "
                "fetch-images-failures.csv)",
            )
            continue
        path, st = found
        member = relative(Path(path), root)
        if st.st_size == 0:
            yield ScanReject(member, "empty_file")
            continue
        label_key, label = label_of(occ)
        yield ImageRecord(
            treeoflife_id=tid,
            identity_key=image_key(gbif_id, url),
            source=NAME,
            container=None,
            member=member,
            label_key=label_key,
            label=label,
            size_bytes=st.st_size,
            mtime_ns=st.st_mtime_ns,
            provenance=provenance_of(media, occ),
        )
