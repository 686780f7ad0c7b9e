"""Safe extraction: traversal, escaping links and bombs are refused; nothing lands half-way."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import zipfile

import pytest

from treeoflife.fetch.http import FetchError
from treeoflife.fetch.media_manifest import chunk_number, combine, log_path_for, write_log
from treeoflife.fetch.unpack import Limits, UnsafeArchive, extract, gunzip

from .conftest import MANIFEST_COLUMNS, dh_zip, media_manifest_tgz


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def write_tar(path, members: list[tarfile.TarInfo | tuple[str, bytes]]):
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_zip_with_a_top_folder_lands_flat(tmp_path):
    archive = tmp_path / "dh21.zip"
    archive.write_bytes(dh_zip())
    files = extract(archive, tmp_path / "eol/dh21", required=("taxon.tab",))
    assert sorted(f.name for f in files) == ["meta.xml", "taxon.tab"]
    assert (tmp_path / "eol/dh21/taxon.tab").read_text().startswith("taxonID\tsource")
    assert not list(tmp_path.glob("eol/.*"))  # the scratch folder is gone


def test_missing_required_member_moves_nothing(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"other.txt": b"x"})
    with pytest.raises(FetchError, match="has no taxon.tab .*other.txt"):
        extract(archive, tmp_path / "out", required=("taxon.tab",))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt", "..\\evil.txt"]
)
def test_zip_traversal_is_refused(tmp_path, name):
    archive = write_zip(tmp_path / "a.zip", {"ok.txt": b"fine", name: b"evil"})
    with pytest.raises(UnsafeArchive, match="refused"):
        extract(archive, tmp_path / "out" / "in")
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "in" / "ok.txt").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symlink"):
        extract(archive, tmp_path / "out")


@pytest.mark.parametrize(
    "member",
    [
        link("escape", "../../outside"),
        link("abs", "/etc/passwd"),
        link("hard", "../outside", tarfile.LNKTYPE),
        link("d/up", "../../x"),
    ],
)
def test_tar_links_out_of_the_target_are_refused(tmp_path, member):
    archive = write_tar(tmp_path / "a.tar.gz", [("ok.txt", b"fine"), member])
    with pytest.raises(UnsafeArchive, match="points outside"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.txt").exists()


def test_tar_traversal_and_devices_are_refused(tmp_path):
    archive = write_tar(tmp_path / "a.tar.gz", [("../../x.txt", b"evil")])
    with pytest.raises(UnsafeArchive, match=r"outside the target \(\.\.\)"):
        extract(archive, tmp_path / "out")
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    archive = write_tar(tmp_path / "b.tar.gz", [dev])
    with pytest.raises(UnsafeArchive, match="device"):
        extract(archive, tmp_path / "out")


def test_tar_inner_link_is_skipped_not_followed(tmp_path):
    archive = write_tar(
        tmp_path / "a.tar.gz", [("d/real.txt", b"data"), link("d/alias", "real.txt")]
    )
    files = extract(archive, tmp_path / "out")
    assert [f.name for f in files] == ["real.txt"]


def test_zip_bomb_is_refused_by_ratio_and_total(tmp_path):
    archive = write_zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * 20_000_000})
    with pytest.raises(UnsafeArchive, match="bomb"):
        extract(archive, tmp_path / "out", limits=Limits(max_ratio=100))
    with pytest.raises(UnsafeArchive, match="bomb"):
        extract(archive, tmp_path / "out", limits=Limits(max_total=1_000_000, max_ratio=1e9))
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_lying_zip_header_is_caught_while_writing(tmp_path):
    """A member whose header understates its size cannot write past that size."""
    archive = write_zip(tmp_path / "a.zip", {"big.bin": b"\0" * 100_000})
    data = bytearray(archive.read_bytes())
    # patch the uncompressed size in the central directory and local header to 10 bytes
    for sig in (b"PK\x01\x02", b"PK\x03\x04"):
        at = data.find(sig)
        off = at + (24 if sig == b"PK\x01\x02" else 22)
        data[off : off + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises((UnsafeArchive, FetchError)):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "big.bin").exists()


def test_gzip_bomb_is_refused(tmp_path):
    archive = tmp_path / "p.csv.gz"
    archive.write_bytes(gzip.compress(b"\0" * 10_000_000))
    with pytest.raises(UnsafeArchive, match="bomb"):
        gunzip(archive, tmp_path / "p.csv", limits=Limits(max_ratio=50))
    assert not (tmp_path / "p.csv").exists() and not list(tmp_path.glob("*.unpack-tmp"))
    archive.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    gunzip(archive, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_bytes() == b"a,b\n1,2\n"


def test_not_an_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"<html>moved</html>")
    with pytest.raises(FetchError, match="not a readable zip or tar"):
        extract(bad, tmp_path / "out")


# -- the media manifest ------------------------------------------------------------------


def manifest_rows(n: int) -> list[list[str]]:
    return [
        [
            str(1000 + i),
            str(500 + i % 7),
            f"http://src/{i}",
            f"http://copy/{i}.jpg",
            "cc-by-4.0",
            f'Owner, "{i}"\nsecond line' if i % 5 == 0 else f"Owner {i}",
        ]
        for i in range(n)
    ]


def test_chunk_numbers_are_numeric():
    assert chunk_number("media_manifest_2.csv") == 2
    assert chunk_number("x/media_manifest_10.csv") == 10
    assert chunk_number("README.txt") is None
    assert sorted(["m_10.csv", "m_2.csv", "m_1.csv"], key=chunk_number) == [
        "m_1.csv",
        "m_2.csv",
        "m_10.csv",
    ]


def test_combiner_one_header_numeric_order_and_count(tmp_path):
    rows = manifest_rows(123)  # 13 chunks of 10 (chunk numbers up to 13)
    archive = tmp_path / "media_manifest.tgz"
    archive.write_bytes(media_manifest_tgz(rows, 10, extra={"README.txt": b"not a chunk"}))
    out = tmp_path / "eol" / "media_manifest.csv"
    result = combine(archive, out)
    assert result == {"columns": MANIFEST_COLUMNS, "rows": 123}
    with out.open(newline="", encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0] == MANIFEST_COLUMNS and MANIFEST_COLUMNS not in got[1:]
    assert got[1:] == rows  # chunk 2 before chunk 10, quoted newlines intact
    log = write_log(
        log_path_for(out),
        start_time="2025-01-01 00:00:00",
        archive_md5="abc",
        out_csv=out,
        url="http://x/media_manifest.tgz",
        columns=result["columns"],
        rows=result["rows"],
    )
    on_disk = json.loads((tmp_path / "eol" / "media_manifest_log.json").read_text())
    assert on_disk == log and on_disk["total_entries_in_media_manifest"] == 123
    assert on_disk["column_names"] == MANIFEST_COLUMNS and len(on_disk["manifest_csv_md5"]) == 32


def test_combiner_refuses_mismatched_headers(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i, header in ((1, b"a,b\n1,2\n"), (2, b"a,c\n3,4\n")):
            info = tarfile.TarInfo(f"media_manifest_{i}.csv")
            info.size = len(header)
            tf.addfile(info, io.BytesIO(header))
    archive = tmp_path / "m.tgz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(FetchError, match="chunk 2 .* has header"):
        combine(archive, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.tmp").exists()
