"""Scan: stable ids, incremental re-scan without duplicates, rejects for broken containers."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from collection import eol_member, jpeg_bytes, write_small_collection, write_tar_gz
from treeoflife.cli import main
from treeoflife.ids import identity_key, treeoflife_id


def ids_of(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return dict(db.execute("SELECT identity_key, treeoflife_id FROM images"))


def rejects_of(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return dict(db.execute("SELECT item, reason FROM rejects"))


def test_two_fresh_scans_give_identical_ids(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src")
    assert main(["scan", "--sources", str(src), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert main(["scan", "--sources", str(src), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    a, b = ids_of(tmp_path / "a"), ids_of(tmp_path / "b")
    assert len(a) == 6 + 2 * 3
    assert a == b
    # the id is the UUIDv5 of the identity key, not of a path on this machine
    key = identity_key("eol", "1000_45509000")
    assert a[key] == treeoflife_id(key)


def test_inat21_ids_and_catalog_columns_are_those_of_the_published_catalog(
    tmp_path: Path,
) -> None:
    src = write_small_collection(tmp_path / "src")
    assert main(["scan", "--sources", str(src), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    with sqlite3.connect(tmp_path / "o/build.sqlite") as db:
        rows = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT identity_key, treeoflife_id, inat21_filename, inat21_cls_name, "
                "inat21_cls_num FROM images WHERE source = 'inat21'"
            )
        }
    # ids pinned as earlier versions gave them; columns as bioclip's make_mapping.py stores
    # them: the bare file name, the class folder without its number, the number (0 included)
    assert rows[
        "inat21:00000_Animalia_Chordata_Aves_Suliformes_Sulidae_Morus_bassanus/00000000-aaaa.jpg"
    ] == (
        "99e9d000-7539-5ddd-a448-d18d265653b6",
        "00000000-aaaa.jpg",
        "Animalia_Chordata_Aves_Suliformes_Sulidae_Morus_bassanus",
        0,
    )
    assert rows[
        "inat21:00001_Plantae_Tracheophyta_Magnoliopsida_Rosales_Moraceae_Morus_alba/01000002-aaaa.jpg"
    ] == (
        "dcc34bb1-b44d-5be7-9b8f-6043b862445f",
        "01000002-aaaa.jpg",
        "Plantae_Tracheophyta_Magnoliopsida_Rosales_Moraceae_Morus_alba",
        1,
    )


def test_ids_do_not_depend_on_where_the_sources_are(tmp_path: Path) -> None:
    a = write_small_collection(tmp_path / "one" / "src")
    b = write_small_collection(tmp_path / "two" / "elsewhere")
    main(["scan", "--sources", str(a), "--out", str(tmp_path / "a"), "--no-progress"])
    main(["scan", "--sources", str(b), "--out", str(tmp_path / "b"), "--no-progress"])
    assert ids_of(tmp_path / "a") == ids_of(tmp_path / "b")


def test_rescan_adds_exactly_the_new_images(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src")
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])
    before = ids_of(out)
    write_tar_gz(
        src / "eol/images/images_02.tar.gz",
        {eol_member(2000, 1): jpeg_bytes(1), eol_member(2001, 1): jpeg_bytes(2)},
    )
    (
        src
        / "inat21/train"
        / "00001_Plantae_Tracheophyta_Magnoliopsida_Rosales_Moraceae_Morus_alba"
        / "new.jpg"
    ).write_bytes(jpeg_bytes(9))
    main(["scan", "--out", str(out), "--no-progress"])
    after = ids_of(out)
    added = set(after) - set(before)
    assert added == {
        identity_key("eol", "2000_1"),
        identity_key("eol", "2001_1"),
        identity_key(
            "inat21",
            "00001_Plantae_Tracheophyta_Magnoliopsida_Rosales_Moraceae_Morus_alba",
            "new.jpg",
        ),
    }
    assert all(after[k] == v for k, v in before.items())


def test_unchanged_sources_rescan_does_nothing(tmp_path: Path, capsys) -> None:
    src = write_small_collection(tmp_path / "src")
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])
    capsys.readouterr()
    main(["scan", "--out", str(out), "--no-progress"])
    assert "scan: up to date" in capsys.readouterr().err


def test_broken_containers_and_names_are_rejects_and_the_rest_goes_on(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src")
    # a member that does not follow the EOL naming scheme, and an empty one
    write_tar_gz(
        src / "eol/images/images_02.tar.gz",
        {"README.txt": b"hello", eol_member(3000, 7): b"", eol_member(3001, 7): jpeg_bytes(3)},
    )
    # a truncated .tar.gz: the gzip stream is cut inside the last member
    # incompressible members of 20 kB: a cut at 80% of the stream falls inside the fourth
    members = {eol_member(4000 + i, 8): random.Random(i).randbytes(20_000) for i in range(4)}
    write_tar_gz(tmp_path / "whole.tar.gz", members)
    whole = (tmp_path / "whole.tar.gz").read_bytes()
    (src / "eol/images/images_03.tar.gz").write_bytes(whole[: int(len(whole) * 0.8)])
    # not an archive at all
    (src / "eol/images/images_04.tar.gz").write_bytes(b"this is not a tarball")
    out = tmp_path / "out"
    assert main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"]) == 0
    rejects = rejects_of(out)
    assert rejects["eol/images/images_02.tar.gz#README.txt"] == "member_name_unparsed"
    assert rejects[f"eol/images/images_02.tar.gz#{eol_member(3000, 7)}"] == "empty_file"
    assert rejects["eol/images/images_03.tar.gz"] == "archive_truncated"
    assert rejects["eol/images/images_04.tar.gz"] == "archive_unreadable"
    ids = ids_of(out)
    assert identity_key("eol", "3001_7") in ids
    # members before the cut are complete and kept; the one cut through is not
    recovered = sorted(k for k in ids if k.startswith("eol:40"))
    assert recovered == [identity_key("eol", f"{4000 + i}_8") for i in range(3)]


def test_scan_of_missing_sources_is_one_clear_sentence(tmp_path: Path, capsys) -> None:
    assert main(["scan", "--sources", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "not a directory" in err[0]


def labels_of(out: Path) -> dict[str, str]:
    """identity key -> label key of every image in the build."""
    with sqlite3.connect(out / "build.sqlite") as db:
        return dict(db.execute("SELECT identity_key, label_key FROM images"))


def test_rescan_forgets_what_the_sources_no_longer_have(tmp_path: Path, capsys) -> None:
    src = write_small_collection(tmp_path / "src")
    gone_set = src / "eol/images/images_02.tar.gz"
    write_tar_gz(gone_set, {eol_member(2000, 99): jpeg_bytes(1), "README.txt": b"x"})
    gone_file = next((src / "inat21/train").iterdir()) / "gone.jpg"
    gone_file.write_bytes(jpeg_bytes(8))
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])
    before = ids_of(out)
    assert identity_key("eol", "2000_99") in before
    assert "eol/images/images_02.tar.gz#README.txt" in rejects_of(out)

    gone_set.unlink()
    gone_file.unlink()
    capsys.readouterr()
    main(["scan", "--out", str(out), "--no-progress"])
    after = ids_of(out)
    assert set(before) - set(after) == {
        identity_key("eol", "2000_99"),
        identity_key("inat21", gone_file.parent.name, "gone.jpg"),
    }
    assert "2 no longer in the sources and removed" in capsys.readouterr().err
    assert "eol/images/images_02.tar.gz#README.txt" not in rejects_of(out)
    with sqlite3.connect(out / "build.sqlite") as db:  # page 99 had only that image
        assert not db.execute("SELECT 1 FROM labels WHERE label_key LIKE '%99'").fetchall()


def test_a_repaired_archive_is_no_longer_reported_broken(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src")
    members = {eol_member(4000 + i, 8): random.Random(i).randbytes(20_000) for i in range(4)}
    write_tar_gz(tmp_path / "whole.tar.gz", members)
    whole = (tmp_path / "whole.tar.gz").read_bytes()
    broken = src / "eol/images/images_03.tar.gz"
    broken.write_bytes(whole[: int(len(whole) * 0.8)])
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])
    assert rejects_of(out)["eol/images/images_03.tar.gz"] == "archive_truncated"
    broken.write_bytes(whole)  # downloaded again, whole this time
    main(["scan", "--out", str(out), "--no-progress"])
    assert "eol/images/images_03.tar.gz" not in rejects_of(out)
    assert {identity_key("eol", f"{4000 + i}_8") for i in range(4)} <= set(ids_of(out))


def test_a_corrected_label_is_read_again_and_the_id_kept(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "generic"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg_bytes(1))
    table = folder / "labels.csv"
    table.write_text("path,scientific_name\na.jpg,Morus alba\n")
    out = tmp_path / "out"
    main(["scan", "--sources", str(tmp_path / "src"), "--out", str(out), "--no-progress"])
    ((key, label),) = labels_of(out).items()
    table.write_text("path,scientific_name\na.jpg,Morus bassanus\n")
    main(["scan", "--out", str(out), "--no-progress"])
    ((key_after, label_after),) = labels_of(out).items()
    assert key_after == key and label_after != label and "bassanus" in label_after
    with sqlite3.connect(out / "build.sqlite") as db:  # the old label is gone with its image
        given = [g for (g,) in db.execute("SELECT given FROM labels")]
    assert len(given) == 1 and "bassanus" in given[0]
