"""Faulty inputs (issue #10, "Trustworthy rebuilds"): each fault gives either one clear line
(a setup mistake, exit 2) or a specific reject while the rest of the build goes on.

One table per fault: (fault, what is written into a small collection, expected line or
reject). ``tests/collection.py`` writes the collection.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from collection import jpeg_bytes, write_small_collection
from treeoflife.cli import main

SMALL = 6 + 2 * 3  # images of write_small_collection


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, list[str]]:
    """Exit code and stderr lines of one `tol` command."""
    capsys.readouterr()
    rc = main([*argv, "--no-progress"])
    return rc, capsys.readouterr().err.strip().splitlines()


def one_line(capsys: pytest.CaptureFixture, src: Path, out: Path, *extra: str) -> str:
    """The single error line of a scan that must stop (exit 2, no traceback)."""
    rc, err = run(capsys, "scan", "--sources", str(src), "--out", str(out), *extra)
    errors = [line for line in err if line.startswith("tol: error: ")]
    assert rc == 2 and len(errors) == 1 and not any("Traceback" in line for line in err), err
    return errors[0]


def rejects_of(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return dict(db.execute("SELECT item, reason FROM rejects"))


def members_of(out: Path) -> set[str]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return {m for (m,) in db.execute("SELECT member FROM images")}


def write_config(path: Path, **paths: str) -> Path:
    path.write_text("[paths]\n" + "".join(f'{k} = "{v}"\n' for k, v in paths.items()))
    return path


# --- [paths] of the wrong kind ------------------------------------------------------------


def _file_for_folder(src: Path) -> dict[str, str]:
    (src / "my_eol.tar.gz").write_bytes(b"x")
    return {"eol_images": "my_eol.tar.gz"}


def _folder_for_file(src: Path) -> dict[str, str]:
    (src / "dh").mkdir()
    return {"eol_dh": "dh"}


def _default_is_a_file(src: Path) -> dict[str, str]:
    (src / "generic").write_text("not a folder")
    return {}


@pytest.mark.parametrize(
    ("fault", "setup", "expected"),
    [
        ("a file where a folder is expected", _file_for_folder, "paths.eol_images"),
        ("a folder where a file is expected", _folder_for_file, "paths.eol_dh"),
        ("a default folder that is a file", _default_is_a_file, "paths.generic"),
    ],
)
def test_paths_of_the_wrong_kind_are_one_line(
    tmp_path: Path, capsys, fault: str, setup: Callable[[Path], dict[str, str]], expected: str
) -> None:
    src = write_small_collection(tmp_path / "src")
    config = write_config(tmp_path / "tol.toml", **setup(src))
    line = one_line(capsys, src, tmp_path / "out", "--config", str(config))
    assert expected in line and "must be a" in line, fault


# --- label tables in other encodings, or not tables at all --------------------------------


def write_generic(src: Path, table: str, content: bytes) -> Path:
    """A generic source of one image, ``a.jpg``, with its label table as given."""
    folder = src / "generic"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.jpg").write_bytes(jpeg_bytes(41))  # not a copy of a collection image
    (folder / table).write_bytes(content)
    return folder


def _csv(encoding: str) -> bytes:
    return "path,scientific_name,common\na.jpg,Morus alba,mûrier blanc\n".encode(encoding)


@pytest.mark.parametrize(
    ("fault", "table", "content", "expected"),
    [
        ("Latin-1 CSV", "labels.csv", _csv("latin-1"), "labels.csv is not UTF-8 text"),
        ("cp1252 CSV", "labels.csv", _csv("cp1252"), "labels.csv is not UTF-8 text"),
        ("garbage Parquet", "labels.parquet", b"garbage", "labels.parquet is not a readable"),
    ],
)
def test_unreadable_label_tables_are_one_line_naming_the_file(
    tmp_path: Path, capsys, fault: str, table: str, content: bytes, expected: str
) -> None:
    src = write_small_collection(tmp_path / "src")
    write_generic(src, table, content)
    assert expected in one_line(capsys, src, tmp_path / "out"), fault


def test_a_label_table_with_a_byte_order_mark_is_read_as_utf8(tmp_path: Path, capsys) -> None:
    src = write_small_collection(tmp_path / "src")
    write_generic(src, "labels.csv", b"\xef\xbb\xbf" + _csv("utf-8"))
    out = tmp_path / "out"
    assert run(capsys, "scan", "--sources", str(src), "--out", str(out))[0] == 0
    with sqlite3.connect(out / "build.sqlite") as db:
        (given,) = db.execute("SELECT given FROM labels WHERE source = 'generic'").fetchone()
    assert "Morus alba" in given and "mûrier blanc" in given
    assert "generic/a.jpg" in members_of(out)


# --- paths that leave their source's folder -----------------------------------------------


def _secret(src: Path) -> Path:
    """A readable image outside every source folder: what must not get in."""
    secret = src.parent / "secret.jpg"
    secret.write_bytes(jpeg_bytes(9))
    return secret


def _generic_rows(src: Path, *paths: str) -> None:
    rows = "".join(f"{p},Morus alba\n" for p in ("a.jpg", *paths))
    write_generic(src, "labels.csv", ("path,scientific_name\n" + rows).encode())


def _absolute(src: Path) -> str:
    _generic_rows(src, str(_secret(src)))
    return str(_secret(src))


def _climbs_out(src: Path) -> str:
    _secret(src)
    _generic_rows(src, "../../secret.jpg")
    return "generic/../../secret.jpg"


def _generic_symlink(src: Path) -> str:
    _generic_rows(src, "link.jpg")
    (src / "generic/link.jpg").symlink_to(_secret(src))
    return "generic/link.jpg"


def _symlinked_folder(src: Path) -> str:
    _generic_rows(src, "photos/b.jpg")
    _secret(src)
    (src / "generic/photos").symlink_to(src.parent)
    return "generic/photos/b.jpg"


def _inat_symlink(src: Path) -> str:
    cls = src / "inat21/train" / sorted(p.name for p in (src / "inat21/train").iterdir())[0]
    (cls / "link.jpg").symlink_to(_secret(src))
    return f"inat21/train/{cls.name}/link.jpg"


def _bioscan_climbs_out(src: Path) -> str:
    _secret(src)
    (src / "bioscan/images/part1").mkdir(parents=True)
    (src / "bioscan/images/part1/b.jpg").write_bytes(jpeg_bytes(4))
    (src / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld").write_text(
        '[{"image_file": "b.jpg", "chunk_number": 1, "order": "Diptera"},'
        ' {"image_file": "../../../secret.jpg", "chunk_number": 1, "order": "Diptera"}]'
    )
    return "bioscan/images/part1/../../../secret.jpg"


OUTSIDE = [
    ("an absolute path in labels.csv", _absolute),
    ("a path that climbs out with ../", _climbs_out),
    ("a symlink in generic/ leading out", _generic_symlink),
    ("a symlinked folder in generic/ leading out", _symlinked_folder),
    ("a symlink in an iNat21 class folder leading out", _inat_symlink),
    ("a BIOSCAN image_file that climbs out", _bioscan_climbs_out),
]


@pytest.mark.parametrize(("fault", "plant"), OUTSIDE)
def test_paths_outside_their_source_are_rejected(
    tmp_path: Path, capsys, fault: str, plant: Callable[[Path], str]
) -> None:
    src = write_small_collection(tmp_path / "src")
    item = plant(src)
    out = tmp_path / "out"
    assert run(capsys, "scan", "--sources", str(src), "--out", str(out))[0] == 0
    assert rejects_of(out).get(item) == "path_outside_source", fault
    members = members_of(out)
    assert not any("secret" in m or m.startswith("/") for m in members), fault
    assert len(members - {item}) >= SMALL, fault  # the rest is there


# --- names that are not UTF-8 -------------------------------------------------------------


def _raw(path: Path, name: bytes) -> bytes:
    """A path whose last part is the raw bytes ``name`` (POSIX names are bytes)."""
    return os.fsencode(path) + b"/" + name


def _inat_file(src: Path) -> str:
    cls = sorted((src / "inat21/train").iterdir())[0]
    Path(os.fsdecode(_raw(cls, b"caf\xe9.jpg"))).write_bytes(jpeg_bytes(5))
    return f"inat21/train/{cls.name}/caf\\xe9.jpg"


def _inat_folder(src: Path) -> str:
    cls = os.fsdecode(_raw(src / "inat21/train", b"00009_Animalia_A_B_C_D_E_caf\xe9"))
    Path(cls).mkdir()
    (Path(cls) / "x.jpg").write_bytes(jpeg_bytes(6))
    return "inat21/train/00009_Animalia_A_B_C_D_E_caf\\xe9"


def _generic_file(src: Path) -> str:
    _generic_rows(src)
    Path(os.fsdecode(_raw(src / "generic", b"caf\xe9.jpg"))).write_bytes(jpeg_bytes(7))
    return "generic/caf\\xe9.jpg"


def _tar_member(src: Path) -> str:
    write_tar(src / "eol/images/images_02.tar", [(os.fsdecode(b"caf\xe9.jpg"), jpeg_bytes(8))])
    return "eol/images/images_02.tar#caf\\xe9.jpg"


def _archive_name(src: Path) -> str:
    write_tar(Path(os.fsdecode(_raw(src / "eol/images", b"set_\xe9.tar"))), [])
    return "eol/images/set_\\xe9.tar"


def write_tar(path: Path, members: list[tuple[str, bytes]], links: tuple[str, ...] = ()) -> None:
    """A plain tar of ``members`` in order (names may repeat), then ``links``: each name
    a symlink (``s:``) or hard link (``h:``) to the first member."""
    with tarfile.open(path, "w", encoding="utf-8", errors="surrogateescape") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for link in links:
            info = tarfile.TarInfo(link[2:])
            info.type = tarfile.SYMTYPE if link[0] == "s" else tarfile.LNKTYPE
            info.linkname = members[0][0]
            tar.addfile(info)


NOT_UTF8 = [
    ("an iNat21 image file name", _inat_file),
    ("an iNat21 class folder name", _inat_folder),
    ("a file name in generic/", _generic_file),
    ("a tar member name", _tar_member),
    ("an archive file name", _archive_name),
]


@pytest.mark.parametrize(("fault", "plant"), NOT_UTF8)
def test_names_that_are_not_utf8_are_rejected(
    tmp_path: Path, capsys, fault: str, plant: Callable[[Path], str]
) -> None:
    src = write_small_collection(tmp_path / "src")
    item = plant(src)
    out = tmp_path / "out"
    assert run(capsys, "scan", "--sources", str(src), "--out", str(out))[0] == 0, fault
    assert rejects_of(out).get(item) == "file_name_not_utf8", fault
    assert len(members_of(out)) >= SMALL, fault


# --- tar members that are links or repeat a name ------------------------------------------

FIRST, SECOND = jpeg_bytes(21, (64, 48)), jpeg_bytes(22, (96, 80))
NAME_A = "5000_77_eol-full-size-copy.jpg"
SET = "eol/images/images_02.tar"


@pytest.mark.parametrize(
    ("fault", "members", "links", "item", "reason"),
    [
        (
            "a symbolic link",
            [(NAME_A, FIRST)],
            ("s:5001_77_eol-full-size-copy.jpg",),
            f"{SET}#5001_77_eol-full-size-copy.jpg",
            "archive_member_link",
        ),
        (
            "a hard link",
            [(NAME_A, FIRST)],
            ("h:5002_77_eol-full-size-copy.jpg",),
            f"{SET}#5002_77_eol-full-size-copy.jpg",
            "archive_member_link",
        ),
        (
            "a repeated name",
            [(NAME_A, FIRST), (NAME_A, SECOND)],
            (),
            f"{SET}#{NAME_A}",
            "duplicate_locator",
        ),
    ],
)
def test_links_and_repeated_names_in_archives_are_rejected(
    tmp_path: Path, capsys, fault: str, members, links, item: str, reason: str
) -> None:
    src = write_small_collection(tmp_path / "src")
    write_tar(src / SET, members, links)
    out = tmp_path / "out"
    assert run(capsys, "scan", "--sources", str(src), "--out", str(out), "--workers", "2")[0] == 0
    assert rejects_of(out).get(item) == reason, fault
    with sqlite3.connect(out / "build.sqlite") as db:
        sizes = db.execute(
            "SELECT i.size_bytes, e.source_bytes FROM images i JOIN encoded e USING "
            "(treeoflife_id) WHERE i.member = ?",
            (NAME_A,),
        ).fetchall()
    # the image is the first copy, and its recorded size is that of the copy encoded
    assert sizes == [(len(FIRST), len(FIRST))], fault
    assert len(members_of(out)) == SMALL + 1, fault


# --- control characters in labels ---------------------------------------------------------


def shard_texts(out: Path) -> list[str]:
    """Every text member of every shard of a build."""
    texts = []
    for shard in sorted(out.rglob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            for info in tar:
                if info.name.endswith(".txt"):
                    texts.append(tar.extractfile(info).read().decode())
    return texts


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\t|\r(?!\n)")


@pytest.mark.parametrize(
    ("fault", "row", "expected"),
    [
        ("a NUL in the common name", "a.jpg,Morus alba,white\x00mulberry", "white mulberry"),
        ("a BEL in the common name", "a.jpg,Morus alba,white\x07mulberry", "white mulberry"),
        ("a DEL and a tab", "a.jpg,Morus alba,white\x7f\tmulberry ", "white mulberry"),
    ],
)
def test_control_characters_in_labels_never_reach_the_catalog_or_captions(
    tmp_path: Path, capsys, fault: str, row: str, expected: str
) -> None:
    src = write_small_collection(tmp_path / "src")
    write_generic(src, "labels.csv", f"path,scientific_name,common\n{row}\n".encode())
    out = tmp_path / "out"
    assert run(capsys, "build", "--sources", str(src), "--out", str(out), "--workers", "1")[0] == 0
    catalog = (out / "catalog.csv").read_text()
    assert not CONTROL.search(catalog), fault
    assert expected in catalog, fault
    texts = shard_texts(out)
    assert texts and not any(CONTROL.search(t) for t in texts), fault
    assert any(expected in t for t in texts), fault


# --- the rest of the build goes on --------------------------------------------------------


def test_a_build_with_every_rejected_fault_completes(tmp_path: Path, capsys) -> None:
    """All reject faults at once: `tol build` finishes, each is a reject, the rest is in."""
    src = write_small_collection(tmp_path / "src")
    planted = {
        _climbs_out(src): "path_outside_source",
        _inat_symlink(src): "path_outside_source",
        _inat_file(src): "file_name_not_utf8",
        _tar_member(src): "file_name_not_utf8",
    }
    write_tar(
        src / "eol/images/images_03.tar",
        [(NAME_A, FIRST), (NAME_A, SECOND)],
        ("s:5001_77_eol-full-size-copy.jpg",),
    )
    planted[f"eol/images/images_03.tar#{NAME_A}"] = "duplicate_locator"
    planted["eol/images/images_03.tar#5001_77_eol-full-size-copy.jpg"] = "archive_member_link"
    out = tmp_path / "out"
    assert run(capsys, "build", "--sources", str(src), "--out", str(out), "--workers", "2")[0] == 0
    rejects = rejects_of(out)
    assert {item: rejects.get(item) for item in planted} == planted
    with (out / "catalog.csv").open(newline="") as fh:
        ids = {row["treeoflife_id"] for row in csv.DictReader(fh)}  # train_small repeats
    assert len(ids) == SMALL + 1 + 1  # the collection, generic/a.jpg, the first copy of NAME_A
