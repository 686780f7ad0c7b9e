"""End-to-end shard builds: reproducibility across worker counts, rejects, holdout, layout."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from shard_helpers import PLANTED, build, shard_files, tol

from treeoflife import builddb
from treeoflife.captions import sample_texts
from treeoflife.columns import ID_COLUMNS
from treeoflife.shards import planning
from treeoflife.shards.records import member_suffixes
from treeoflife.stages.catalog import CSV_COLUMNS
from treeoflife.taxonomy.ranks import RANKS

TOL10M_COLUMNS = [
    "split",
    "treeoflife_id",
    "eol_content_id",
    "eol_page_id",
    "bioscan_part",
    "bioscan_filename",
    "inat21_filename",
    "inat21_cls_name",
    "inat21_cls_num",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "species",
    "common",
]


def shards_of(out: Path, split: str) -> list[Path]:
    return sorted(out.glob(f"64x48/{split}/shard-*.tar"))


def keys_of(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return list(dict.fromkeys(m.name.split(".", 1)[0] for m in tar))


def test_workers_1_and_2_give_byte_identical_shards_and_catalogs(
    built: Path, shard_sources: Path, tmp_path: Path
) -> None:
    other = tmp_path / "out2"
    build(shard_sources, other, workers=2)
    a, b = shard_files(built), shard_files(other)
    assert a.keys() == b.keys() and len(a) > 8
    assert all(a[k] == b[k] for k in a)
    for name in ("catalog.csv", "catalog.parquet"):
        assert (built / name).read_bytes() == (other / name).read_bytes()


def test_layout_numbering_and_sizes_json(built: Path) -> None:
    for split in ("train", "val", "train_small"):
        files = shards_of(built, split)
        assert [p.name for p in files] == [f"shard-{i:06d}.tar" for i in range(len(files))]
        sizes = json.loads((built / "64x48" / split / "sizes.json").read_text())
        assert sizes == {p.name: len(keys_of(p)) for p in files}
        assert all(n <= 7 for n in sizes.values())
    assert len(shards_of(built, "train")) >= 4


def test_train_small_is_a_subset_of_train_and_val_is_disjoint(built: Path) -> None:
    keys = {
        s: {k for p in shards_of(built, s) for k in keys_of(p)}
        for s in ("train", "val", "train_small")
    }
    assert keys["train_small"] and keys["train_small"] <= keys["train"]
    assert not keys["val"] & keys["train"]


def test_members_metadata_and_texts(built: Path) -> None:
    db = builddb.connect(built)
    with tarfile.open(shards_of(built, "train")[0]) as tar:
        members = tar.getmembers()
        for m in members:
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
            assert not m.pax_headers
        key = members[0].name.split(".")[0]
        names = [m.name for m in members if m.name.startswith(key)]
        assert names == [f"{key}.{s}" for s in member_suffixes()]
        record = json.loads(tar.extractfile(f"{key}.json").read())
        row = db.execute(
            'SELECT kingdom, phylum, class, "order", family, genus, species, common FROM taxa t '
            "JOIN images i ON i.label_key = t.label_key WHERE i.treeoflife_id = ?",
            (key,),
        ).fetchone()
        ranks = dict(
            zip(
                ("kingdom", "phylum", "class", "order", "family", "genus", "species"),
                row[:7],
                strict=True,
            )
        )
        texts = sample_texts(ranks, row[7])
        for name, text in texts.items():
            assert tar.extractfile(f"{key}.{name}.txt").read().decode() == text
        assert tar.extractfile(f"{key}.txt").read().decode() == texts["taxonTag_com"]
        assert record["treeoflife_id"] == key and record["taxon"] == ranks
    db.close()


def test_every_broken_image_is_a_reject_with_a_reason(built: Path) -> None:
    db = builddb.connect(built)
    got = {
        m: (t, r, o)
        for t, m, r, o in db.execute(
            "SELECT i.treeoflife_id, i.member, r.reason, r.outcome FROM rejects r "
            "JOIN images i ON i.treeoflife_id = r.item WHERE r.stage = 'scan'"
        )
    }
    in_shards = {
        k for s in ("train", "val", "train_small") for p in shards_of(built, s) for k in keys_of(p)
    }
    planned = {r[0] for r in db.execute("SELECT treeoflife_id FROM samples")}
    assert planned == in_shards  # the image pass ran before the plan: every sample is written
    for member, reason in PLANTED.items():
        tid, got_reason, outcome = got[member]
        assert got_reason == reason
        # a repaired image may be planned; a dropped one never is
        assert outcome == "kept" or tid not in planned
    db.close()


def test_no_holdout_image_in_any_shard(built: Path) -> None:
    db = builddb.connect(built)
    held = {r[0] for r in db.execute("SELECT treeoflife_id FROM holdout")}
    assert held
    rejects = {
        r[0] for r in db.execute("SELECT item FROM rejects WHERE reason = 'rare_species_holdout'")
    }
    assert rejects == held
    db.close()
    in_shards = {k for p in sorted(built.glob("64x48/*/shard-*.tar")) for k in keys_of(p)}
    assert not held & in_shards


def test_catalog_columns_and_rows(built: Path) -> None:
    assert list(CSV_COLUMNS) == TOL10M_COLUMNS
    with open(built / "catalog.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == TOL10M_COLUMNS
    in_shards = sorted(
        (p.parent.name, k) for p in built.glob("64x48/*/shard-*.tar") for k in keys_of(p)
    )
    assert sorted((r["split"], r["treeoflife_id"]) for r in rows) == in_shards
    table = pq.read_table(built / "catalog.parquet")
    assert table.num_rows == len(rows)
    assert {"shard", "image_sha256", "source", "provenance"} <= set(table.column_names)


def test_rerun_is_up_to_date_and_rewrites_nothing(built_copy: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in built_copy.glob("64x48/*/shard-*.tar")}
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    assert before == {p: p.stat().st_mtime_ns for p in built_copy.glob("64x48/*/shard-*.tar")}


def test_source_order_plans_shards_in_source_order(built_copy: Path) -> None:
    db = builddb.connect(built_copy)
    import dataclasses

    from treeoflife.config import Config

    cfg = Config.from_json(builddb.get_meta(db, "config"))
    cfg = dataclasses.replace(cfg, shards=dataclasses.replace(cfg.shards, order="source"))
    builddb.set_meta(db, "config", cfg.to_json())
    db.close()
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    db = builddb.connect(built_copy)
    for split in ("train", "train_small"):  # train_small is planned from train's candidates
        got = [
            r[0]
            for r in db.execute(
                "SELECT i.source || '|' || COALESCE(i.container, '') || '|' || i.member "
                "FROM samples p JOIN images i USING (treeoflife_id) WHERE p.split = ? "
                "ORDER BY p.shard, p.position",
                (split,),
            )
        ]
        assert got and got == sorted(got)
    db.close()


def test_a_build_after_an_image_set_is_removed_equals_a_fresh_build_of_what_is_left(
    shard_sources: Path, built_copy: Path, tmp_path: Path
) -> None:
    src = tmp_path / "sources"
    shutil.copytree(shard_sources, src)
    (src / "eol/images/set_01.tar.gz").unlink()
    build(src, built_copy)  # the same OUT, rebuilt from the reduced sources
    fresh = tmp_path / "fresh"
    build(src, fresh)
    a, b = shard_files(built_copy), shard_files(fresh)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    for name in ("catalog.csv", "catalog.parquet"):
        assert (built_copy / name).read_bytes() == (fresh / name).read_bytes()
    with (built_copy / "catalog.csv").open(newline="") as fh:
        content_ids = {int(r["eol_content_id"]) for r in csv.DictReader(fh) if r["eol_content_id"]}
    assert content_ids and not any(1100 <= c < 1200 for c in content_ids)  # set_01's images


def test_cut_opens_a_shard_at_the_sample_or_byte_limit() -> None:
    over = planning.SAMPLE_OVERHEAD
    # the byte limit binds before the third sample, a sample alone may pass it, then the count
    sizes = [100, 100, 100, 5 * over, 1, 1, 1, 1]
    got = planning.cut(sizes, max_samples=3, max_bytes=3 * over + 250)
    assert [n for n, _ in got] == [2, 1, 1, 3, 1]
    assert [b for _, b in got] == [
        2 * over + 200,
        over + 100,
        6 * over,
        3 * over + 3,
        over + 1,
    ]
    assert planning.cut([], 3, 10) == []
    # when no run of max_samples passes the byte limit, the cut is every max_samples
    chunks = planning.cut(sizes, max_samples=3, max_bytes=10 * over)
    assert [n for n, _ in chunks] == [3, 3, 2]
    assert planning.count_cut_holds(chunks, 10 * over)
    assert not planning.count_cut_holds(chunks, 2 * over)


def assert_samples_stored_in_plan_order(db) -> None:
    """write, catalog and report read samples in (split, shard, position) order: the
    rows must be stored (rowid) in that order within each split, or each read is random."""
    for split in ("train", "val", "train_small"):
        query = "SELECT shard, position FROM samples WHERE split = ? ORDER BY "
        stored = db.execute(query + "rowid", (split,)).fetchall()
        assert stored and stored == db.execute(query + "shard, position", (split,)).fetchall()


def test_plan_stores_samples_in_plan_order(built: Path) -> None:
    db = builddb.open_read_only(built / builddb.DB_NAME)
    assert_samples_stored_in_plan_order(db)
    db.close()


def test_a_byte_limit_cuts_the_shuffled_order_where_it_binds(built_copy: Path) -> None:
    db = builddb.connect(built_copy)
    import dataclasses

    from treeoflife.config import Config

    cfg = Config.from_json(builddb.get_meta(db, "config"))
    sizes = [r[0] for r in db.execute("SELECT size FROM encoded WHERE size IS NOT NULL")]
    median = sorted(sizes)[len(sizes) // 2]
    limit = 3 * (planning.SAMPLE_OVERHEAD + median)  # about half the shards fit three
    shards = dataclasses.replace(cfg.shards, max_samples=3, max_bytes=limit)
    builddb.set_meta(db, "config", dataclasses.replace(cfg, shards=shards).to_json())
    db.close()
    assert tol("shard", "--out", str(built_copy), "--workers", "1") == 0
    assert tol("verify", "--out", str(built_copy)) == 0
    db = builddb.connect(built_copy)
    for split in ("train", "val", "train_small"):
        rows = db.execute(
            "SELECT p.treeoflife_id, e.size FROM samples p JOIN encoded e USING (treeoflife_id) "
            "WHERE p.split = ? ORDER BY p.shard, p.position",
            (split,),
        ).fetchall()
        key = {tid: planning.shuffle_key(cfg.shards.seed, split, tid) for tid, _ in rows}
        assert [t for t, _ in rows] == sorted(key, key=lambda t: (key[t], t))
        planned = db.execute(
            "SELECT planned, est_bytes FROM shards WHERE split = ? ORDER BY shard", (split,)
        ).fetchall()
        assert planned == planning.cut([s for _, s in rows], 3, limit)
        assert all(b <= limit or n == 1 for n, b in planned)
    counts = [n for (n,) in db.execute("SELECT planned FROM shards WHERE split = 'train'")]
    assert_samples_stored_in_plan_order(db)  # renumbered in place
    db.close()
    assert 2 in counts and 3 in counts  # both limits bind


def test_a_replan_rewrites_only_the_shards_whose_samples_changed(built_copy: Path) -> None:
    """A shard keeps its done record when nothing its bytes depend on changed: here one
    label's common name changes, so only the shards holding its samples are written again."""
    db = builddb.connect(built_copy)
    label, common = db.execute(
        "SELECT s.label_key, t.common FROM samples s JOIN taxa t USING (label_key) "
        "WHERE s.split = 'train' ORDER BY s.shard, s.position"
    ).fetchone()
    touched = {
        (split, shard)
        for split, shard in db.execute(
            "SELECT DISTINCT split, shard FROM samples WHERE label_key = ?", (label,)
        )
    }
    db.execute("UPDATE taxa SET common = ? WHERE label_key = ?", (common + " renamed", label))
    db.close()
    shards = {p: p.stat().st_mtime_ns for p in built_copy.glob("64x48/*/shard-*.tar")}
    assert tol("shard", "--out", str(built_copy), "--workers", "1", "--force") == 0
    db = builddb.connect(built_copy)
    names = dict(
        (name, (split, shard))
        for split, shard, name in db.execute("SELECT split, shard, name FROM shards")
    )
    db.close()
    rewritten = {
        names[p.relative_to(built_copy).as_posix()]
        for p, t in shards.items()
        if p.stat().st_mtime_ns != t
    }
    assert touched and rewritten == touched


def test_plan_finds_each_images_jpeg_whatever_the_storage_order(built_copy: Path) -> None:
    """plan reads an image's encoded row by rowid (scan stores them in the images' order)
    and by id where that row is another image's: with every encoded row moved one place,
    the plan is the same, row for row."""
    from treeoflife.config import Config
    from treeoflife.stages import BuildContext, plan

    db = builddb.connect(built_copy)
    query = "SELECT * FROM samples ORDER BY split, shard, position"
    before = db.execute(query).fetchall()
    with builddb.transaction(db):
        db.execute("UPDATE encoded SET rowid = -rowid")
        db.execute("UPDATE encoded SET rowid = 1 - rowid")  # each image's rowid: the one before's
    cfg = Config.from_json(builddb.get_meta(db, "config"))
    plan.run(BuildContext(out=built_copy, config=cfg, db=db, log=lambda _: None))
    assert before and db.execute(query).fetchall() == before
    db.close()


def test_a_shards_digest_text_is_the_same_wherever_its_rows_are_stored(built_copy: Path) -> None:
    """plan reads a shard's rows for its digest as a range of rowids (it stores them in
    order); a range that does not hold exactly the shard's rows falls back to the index."""
    from treeoflife.shards import planning, samples

    db = builddb.connect(built_copy)
    samples.label_rows(db)
    (planned, est) = db.execute(
        "SELECT planned, est_bytes FROM shards WHERE split = 'train' AND shard = 0"
    ).fetchone()
    first = samples.first_rowid(db, "train")
    overhead = planning.SAMPLE_OVERHEAD
    shard = samples.shard_text(db, "train", 0, first, planned, overhead)
    text = shard[1]
    assert shard[0] == est  # the digest pass sums the shard's estimated bytes as plan cut it
    assert text.count("\n") == planned - 1 and text.startswith("[0,")
    assert samples.shard_text(db, "train", 0, first + 1, planned, overhead) == shard
    db.close()


# the shard digest's text per sample as schema 6 recorded it, when samples stored the
# label's columns between the ids and the locator: a build made before keeps its shards
# only while plan still makes this text
_SCHEMA_6_TEXT = (
    "treeoflife_id",
    "source",
    "label_key",
    *ID_COLUMNS,
    *RANKS,
    "common",
    "taxon_status",
    "identity_key",
    "container",
    "member",
    "image_sha256",
    "source_width",
    "source_height",
    "image_notes",
)


def test_each_shards_digest_is_the_one_a_schema_6_build_recorded(built: Path) -> None:
    """An upgraded build re-plans and keeps every shard whose digest is unchanged: the
    digest plan records is the sha256 of the image spec and caption, then per sample the
    JSON array of its position, the schema 6 columns above, a sha256 of its label's
    provenance and its JPEG's size, a line each."""
    from treeoflife.config import Config

    db = sqlite3.connect(built / builddb.DB_NAME)
    db.create_function("sha", 1, lambda t: hashlib.sha256(t.encode()).hexdigest())
    label = {*RANKS, "common", "taxon_status"}
    values = ", ".join(
        ("t.status" if c == "taxon_status" else f't."{c}"') if c in label else f's."{c}"'
        for c in _SCHEMA_6_TEXT
    )
    cfg = Config.from_json(builddb.get_meta(db, "config"))
    spec = json.dumps([repr(cfg.images), cfg.shards.caption]).encode()
    shards = db.execute("SELECT split, shard, digest FROM shards").fetchall()
    assert shards
    for split, shard, digest in shards:
        lines = db.execute(
            f"SELECT json_array(s.position, {values}, sha(t.provenance), s.jpeg_size) "
            "FROM samples s JOIN taxa t USING (label_key) WHERE s.split = ? AND s.shard = ? "
            "ORDER BY s.position",
            (split, shard),
        ).fetchall()
        text = "\n".join(line for (line,) in lines)
        assert hashlib.sha256(spec + text.encode()).hexdigest() == digest, (split, shard)
    db.close()


def test_no_stage_leaves_temporary_tables_for_the_stages_after_it(built_copy: Path) -> None:
    """A `tol build` runs every stage on one connection: a stage's temporary tables end
    with it (split's cluster keys, left behind, made report's writes ~200x slower at 1M)."""
    from treeoflife.config import Config
    from treeoflife.stages import BuildContext, run_stages, stage_names

    db = builddb.connect(built_copy)
    cfg = Config.from_json(builddb.get_meta(db, "config"))
    ctx = BuildContext(out=built_copy, config=cfg, db=db, log=lambda _: None)
    left = {}
    for name in stage_names()[1:]:
        run_stages(ctx, [name], force=True)
        left[name] = db.execute("SELECT name FROM temp.sqlite_master").fetchall()
    db.close()
    assert left == {name: [] for name in stage_names()[1:]}


def test_build_from_a_stage_reruns_it_and_those_after_it_only(
    built_copy: Path, capsys: pytest.CaptureFixture
) -> None:
    from treeoflife.stages import stage_names

    assert tol("build", "--out", str(built_copy), "--workers", "1") == 0
    capsys.readouterr()
    assert tol("build", "--out", str(built_copy), "--workers", "1", "--from", "plan") == 0
    text = capsys.readouterr()
    ran = [s for s in stage_names() if f"{s}: running" in text.out + text.err]
    names = stage_names()
    assert ran == names[names.index("plan") :]
