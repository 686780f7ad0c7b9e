"""Builds with duplicates: the same photo as EOL images on two pages, an iNat21 image and a
generic image, and an eval set holding a re-encoded copy of another photo. No cluster
straddles splits, one sample per cluster is kept (the others are `duplicate` rejects naming
it), the eval copy's source image is dropped as `eval_duplicate`, and the catalog, shards,
sizes.json and reports agree; adding a duplicate of a val image moves nothing else."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from collection import eol_member, write_tar_gz
from treeoflife import builddb
from treeoflife.cli import main
from treeoflife.sample.copies import base, copies
from treeoflife.sample.photos import jpeg_bytes

pytestmark = pytest.mark.slow
INAT = "00000_Animalia_Chordata_Aves_Suliformes_Sulidae_Morus_bassanus"
SAME = 1  # the photo found four times
EVAL = 2  # the photo an eval set holds (re-encoded)
HELD = 5  # a photo the Rare Species benchmark lists, with a copy under another name
OTHERS = (3, 4, 7, 11, 12, 13, 14, 15)
HELD_MEMBER = eol_member(5003, 46559300)
CONFIG = """
[images]
width = 64
height = 64

[split]
val_percent = 40

[dedup]
eval_sets = ["evalset"]
"""


def _write_generic(root: Path, rows: list[tuple[str, bytes, str]]) -> None:
    folder = root / "generic"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "scientific_name", "kingdom", "genus", "species"])
        for name, data, species in rows:
            (folder / name).write_bytes(data)
            genus, epithet = species.split()
            w.writerow([name, species, "Animalia", genus, epithet])


def sources(root: Path) -> Path:
    same = copies(SAME)
    write_tar_gz(
        root / "eol/images/images_01.tar.gz",
        {
            eol_member(5001, 46559100): same["original"],
            eol_member(5002, 46559200): same["original"],  # the same file on another page
            HELD_MEMBER: copies(HELD)["original"],
        },
    )
    (root / "rarespecies").mkdir()
    (root / "rarespecies/seen_in_training.json").write_text(
        json.dumps({"Morus bassanus": [f"images/{HELD_MEMBER}"]})
    )
    folder = root / "inat21/train" / INAT
    folder.mkdir(parents=True)
    (folder / "0a1b2c3d-same.jpg").write_bytes(same["resized_50"])
    generic = [("same.jpg", same["quality_60"], "Sula leucogaster")]  # a second species
    generic.append(("eval-source.jpg", copies(EVAL)["original"], "Corvus corax"))
    generic.append(("held-copy.jpg", copies(HELD)["quality_60"], "Morus bassanus"))
    generic += [(f"other{s}.jpg", copies(s)["original"], "Corvus corax") for s in OTHERS]
    _write_generic(root, generic)
    (root / "evalset").mkdir()
    buf = io.BytesIO()
    base(EVAL).save(buf, "JPEG", quality=60)
    (root / "evalset" / "test-0001.jpg").write_bytes(buf.getvalue())
    (root / "tol.toml").write_text(CONFIG)
    return root


def build(src: Path, out: Path, *extra: str, config: str = "tol.toml") -> None:
    argv = ["build", "--sources", str(src), "--out", str(out), "--config", str(src / config)]
    assert main([*argv, "--workers", "1", "--no-progress", *extra]) == 0


def outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not builddb.is_record(p.name)
    }


def query(out: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dedup")
    src = sources(root / "src")
    out = root / "out"
    build(src, out)
    return src, out


def _catalog(out: Path) -> list[dict[str, str]]:
    with (out / "catalog.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_photo_found_four_times_is_one_sample_and_the_others_name_it(built) -> None:
    _, out = built
    ids = [
        r[0]
        for r in query(
            out,
            "SELECT i.treeoflife_id FROM images i JOIN encoded e USING (treeoflife_id) "
            "WHERE e.phash = (SELECT e2.phash FROM encoded e2 JOIN images i2 USING (treeoflife_id) "
            "WHERE i2.member LIKE '%5001_46559100%')",
        )
    ]
    family = {
        r[0]: r[1]
        for r in query(
            out,
            "SELECT member, cluster FROM clusters WHERE cluster = (SELECT cluster FROM clusters c "
            "JOIN images i ON i.treeoflife_id = c.member WHERE i.member LIKE '%5001_46559100%')",
        )
    }
    assert len(family) == 4 and len(ids) >= 2  # two EOL pages (same bytes), iNat21, generic
    in_catalog = [r["treeoflife_id"] for r in _catalog(out) if r["treeoflife_id"] in family]
    assert len(set(in_catalog)) == 1
    kept = in_catalog[0]
    dropped = query(out, "SELECT item, detail FROM rejects WHERE reason = 'duplicate'")
    assert sorted(item for item, _ in dropped) == sorted(set(family) - {kept})
    assert all(f"kept sample {kept}" in detail for _, detail in dropped)
    # most complete label wins: the iNat21 image (seven ranks) over unresolved EOL pages
    (source,) = query(out, f"SELECT source FROM images WHERE treeoflife_id = '{kept}'")[0]
    assert source == "inat21"


def test_no_cluster_straddles_splits(built) -> None:
    _, out = built
    rows = query(
        out,
        "SELECT c.cluster, COUNT(DISTINCT s.split) FROM clusters c "
        "JOIN splits s ON s.treeoflife_id = c.member GROUP BY c.cluster",
    )
    assert rows and all(n == 1 for _, n in rows)


def test_the_eval_copy_source_image_is_dropped_naming_the_eval_image(built) -> None:
    _, out = built
    rows = query(
        out,
        "SELECT i.member, r.detail FROM rejects r JOIN images i ON i.treeoflife_id = r.item "
        "WHERE r.reason = 'eval_duplicate'",
    )
    details = dict(rows)
    assert sorted(details) == ["generic/eval-source.jpg", "generic/held-copy.jpg"]
    assert "eval image evalset/test-0001.jpg" in details["generic/eval-source.jpg"]
    (held,) = query(out, f"SELECT treeoflife_id FROM images WHERE member = '{HELD_MEMBER}'")[0]
    assert f"held-out rare-species image {held}" in details["generic/held-copy.jpg"]
    members = {r["treeoflife_id"] for r in _catalog(out)}
    (tid,) = query(
        out, "SELECT treeoflife_id FROM images WHERE member = 'generic/eval-source.jpg'"
    )[0]
    assert tid not in members


def test_catalog_shards_sizes_and_reports_agree(built) -> None:
    _, out = built
    catalog = _catalog(out)
    sizes = json.loads(next(out.glob("*x*/train/sizes.json")).read_text())
    in_shards: dict[str, set[str]] = {}
    for shard in sorted(out.glob("*x*/*/shard-*.tar")):
        with tarfile.open(shard) as tar:
            keys = {n.split(".", 1)[0] for n in tar.getnames()}
        in_shards.setdefault(shard.parent.name, set()).update(keys)
    for split in ("train", "val"):
        assert in_shards.get(split, set()) == {
            r["treeoflife_id"] for r in catalog if r["split"] == split
        }
    assert sum(sizes.values()) == sum(1 for r in catalog if r["split"] == "train")
    report = pq.read_table(out / "reports/duplicates.parquet").to_pylist()
    dropped = {r["treeoflife_id"] for r in report if r["status"] in ("duplicate", "eval_duplicate")}
    assert dropped == {r[0] for r in query(out, "SELECT treeoflife_id FROM duplicates")}
    assert not dropped & {r["treeoflife_id"] for r in catalog}
    statuses = {"kept", "duplicate", "eval", "eval_duplicate", "held_out"}
    assert {r["status"] for r in report} == statuses
    stats = json.loads((out / "reports/stats.json").read_text())["duplicates"]
    assert stats["dropped"] == {"duplicate": 3, "eval_duplicate": 2}
    assert stats["eval_matches"] == {"evalset": 1}
    assert (stats["exact_clusters"], stats["near_clusters"]) == (0, 3)
    card = (out / "README.md").read_text()
    assert "`duplicate` (dropped) | 3" in card and "`eval_duplicate` (dropped) | 2" in card
    assert "| eval set `evalset`: images matched | 1 |" in card
    # clusters whose images carry two species (genus and species; a genus alone names
    # none): the stage's log, the stats and the card say one count, by one rule
    species: dict[str, set[str]] = {}
    for r in report:
        if r["species"] and " " in r["species"]:
            species.setdefault(r["cluster"], set()).add(r["species"])
    disagree = sum(len(names) > 1 for names in species.values())
    (summary,) = query(out, "SELECT summary FROM stages WHERE stage = 'dedup'")
    assert disagree >= 1
    assert stats["label_disagreement"] == json.loads(summary[0])["label_disagreement"] == disagree
    assert f"| clusters whose images carry different species | {disagree} |" in card


def test_one_and_two_workers_build_the_same_bytes(built, tmp_path: Path) -> None:
    src, out = built
    two = tmp_path / "two"
    argv = ["build", "--sources", str(src), "--out", str(two), "--config", str(src / "tol.toml")]
    assert main([*argv, "--workers", "2", "--no-progress"]) == 0
    assert outputs(two) == outputs(out)


def test_keep_all_keeps_every_copy_in_one_split(built, tmp_path: Path) -> None:
    src, out = built
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (src / "keep-all.toml").write_text(CONFIG + 'keep = "all"\n')
    build(src, copy, config="keep-all.toml")
    clusters = dict(query(copy, "SELECT member, cluster FROM clusters WHERE is_eval = 0"))
    rows = [r for r in _catalog(copy) if r["treeoflife_id"] in clusters]
    # all but the eval match, the held-out image and its copy
    assert len({r["treeoflife_id"] for r in rows}) == len(clusters) - 3
    by_cluster: dict[str, set[str]] = {}
    for r in rows:
        by_cluster.setdefault(clusters[r["treeoflife_id"]], set()).add(r["split"])
    assert all(len(s - {"train_small"}) == 1 for s in by_cluster.values())


def test_a_new_duplicate_of_a_val_image_joins_it_and_moves_nothing_else(
    built, tmp_path: Path
) -> None:
    src0, out0 = built
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(src0, src)
    shutil.copytree(out0, out)
    before = dict(query(out, "SELECT treeoflife_id, split FROM splits"))
    val_member = query(
        out,
        "SELECT i.member FROM images i JOIN splits s USING (treeoflife_id) "
        "WHERE s.split = 'val' AND i.member LIKE 'generic/other%' ORDER BY 1 LIMIT 1",
    )
    assert val_member, "the fixture needs a val image among the others"
    (member,) = val_member[0]
    again = Image.open(src / member)
    extra = src / "generic" / "zz-again.jpg"
    extra.write_bytes(jpeg_bytes(again.resize((240, 180)), quality=70))
    with (src / "generic/labels.csv").open("a", newline="") as fh:
        csv.writer(fh).writerow(["zz-again.jpg", "Corvus corax", "Animalia", "Corvus", "corax"])
    build(src, out)
    after = dict(query(out, "SELECT treeoflife_id, split FROM splits"))
    assert {k: after[k] for k in before} == before
    (new,) = set(after) - set(before)
    assert after[new] == "val"


def test_a_killed_eval_hashing_resumes_to_the_same_bytes(built, tmp_path: Path) -> None:
    src, out0 = built
    out = tmp_path / "out"
    (src / "evalset" / "test-0002.jpg").write_bytes(copies(3)["quality_60"])
    try:
        cmd = [
            sys.executable,
            "-m",
            "treeoflife",
            "build",
            "--sources",
            str(src),
            "--out",
            str(out),
        ]
        cmd += ["--config", str(src / "tol.toml"), "--workers", "1", "--no-progress"]
        env = dict(os.environ, TOL_FAULT="eval:1")
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == -signal.SIGKILL, res.stderr
        env.pop("TOL_FAULT")
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        clean = tmp_path / "clean"
        build(src, clean)
        assert outputs(out) == outputs(clean)
        assert query(out, "SELECT COUNT(*) FROM rejects WHERE reason = 'eval_duplicate'") == [(3,)]
    finally:
        (src / "evalset" / "test-0002.jpg").unlink()


def test_a_genus_alone_does_not_disagree_with_a_species_of_its_genus(built, tmp_path: Path) -> None:
    """The cluster of the photo found four times holds Morus bassanus and Sula
    leucogaster, a disagreement; with the second label cut to its genus (Sula), it names
    no species and the cluster agrees."""
    from treeoflife.config import Config
    from treeoflife.stages import BuildContext, dedup

    _, out = built
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    db = builddb.connect(copy)
    ctx = BuildContext(
        out=copy, config=Config.from_json(builddb.get_meta(db, "config")), db=db, log=print
    )
    before = dedup.run(ctx)["label_disagreement"]
    (changed,) = db.execute(
        "UPDATE taxa SET species = '' WHERE genus = 'Sula' AND species != '' RETURNING label_key"
    ).fetchall()
    assert changed
    after = dedup.run(ctx)
    db.close()
    assert before >= 1 and after["label_disagreement"] == before - 1
    assert all("Sula leucogaster" not in e["species"] for e in after["label_disagreement_examples"])
