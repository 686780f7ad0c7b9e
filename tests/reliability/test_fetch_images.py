"""``tol fetch-images`` under the faults of issue #10, one table-driven test per fault.

Each case is (fault, command, what must come of it): a repaired output, a recorded
failure with its reason, or one clear line; never a traceback, never a silent loss.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from fetch.conftest import MANIFEST_COLUMNS, jpeg
from treeoflife.cli import main

N = 8
SET = 4
FAST = ["--no-progress", "--timeout", "2", "--tries", "1", "--concurrency", "4"]


def tol(*argv: object) -> int:
    return main([str(a) for a in argv])


def write_eol_list(path: Path, rows: list[tuple[int, str]]) -> None:
    """An EOL media manifest of (content id, URL) rows."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_COLUMNS)
        for content, url in rows:
            w.writerow([content, 7, "", url, "cc-by", "o"])


def write_generic_list(path: Path, urls: list[str]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["url", "scientific_name"])
        for i, url in enumerate(urls):
            w.writerow([url, f"Species {i}"])


def failures(folder: Path) -> dict[str, str]:
    """url → reason of fetch-images-failures.csv."""
    with (folder / "fetch-images-failures.csv").open() as fh:
        return {r["url"]: r["reason"] for r in csv.DictReader(fh)}


def digests(folder: Path, pattern: str) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob(pattern))
    }


# -- a set or image deleted or changed after a finished run is done again ---------------


def _cut(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:  # same size, other bytes (a member's data, past the header)
    data = bytearray(p.read_bytes())
    data[700] ^= 0xFF
    p.write_bytes(bytes(data))


DISK_FAULTS = [
    # (fault, format, pattern of the files, which one, damage, extra flags)
    ("set deleted", "eol", "images_*.tar", 1, Path.unlink, []),
    ("set deleted, --retry-failed", "eol", "images_*.tar", 0, Path.unlink, ["--retry-failed"]),
    ("set cut short", "eol", "images_*.tar", 1, _cut, []),
    ("set changed, same size", "eol", "images_*.tar", 0, _flip, []),
    ("image deleted", "generic", "images/*/*", 2, Path.unlink, []),
    ("image cut short", "generic", "images/*/*", 5, _cut, ["--retry-failed"]),
]


@pytest.mark.parametrize(
    ("fmt", "pattern", "which", "damage", "flags"),
    [c[1:] for c in DISK_FAULTS],
    ids=[c[0] for c in DISK_FAULTS],
)
def test_state_is_checked_against_the_disk(
    server,
    tmp_path: Path,
    fmt: str,
    pattern: str,
    which: int,
    damage: Callable[[Path], None],
    flags: list[str],
):
    urls = [server.add(f"/img/{i}.jpg", jpeg(i), content_type="image/jpeg") for i in range(N)]
    lst = tmp_path / "urls.csv"
    if fmt == "eol":
        write_eol_list(lst, [(100 + i, u) for i, u in enumerate(urls)])
    else:
        write_generic_list(lst, urls)
    src = tmp_path / "src"
    cmd = ["fetch-images", lst, "--out-sources", src, "--format", fmt, "--set-size", SET, *FAST]
    assert tol(*cmd) == 0
    folder = src / ("eol/images" if fmt == "eol" else "generic")
    before = digests(folder, pattern)
    assert len(before) == (N // SET if fmt == "eol" else N)

    damage(sorted(folder.glob(pattern))[which])
    hits = len(server.hits())
    assert tol(*cmd, *flags) == 0

    assert digests(folder, pattern) == before  # repaired, byte for byte
    refetched = len(server.hits()) - hits
    assert 1 <= refetched <= (SET if fmt == "eol" else 1)  # only what was lost


# -- a malformed URL is a recorded failure; editing the list keeps what was done ---------

BAD_URLS = [
    ("unparseable host", "http://[::1/x.jpg"),
    ("port not a number", "http://127.0.0.1:port/x.jpg"),
    ("space in the URL", "http://127.0.0.1/a b.jpg"),
    ("non-ASCII path", "http://127.0.0.1/caf\u00e9.jpg"),
    ("not http", "ftp://127.0.0.1/x.jpg"),
    ("no host", "http:///x.jpg"),
]


@pytest.mark.parametrize("bad", [c[1] for c in BAD_URLS], ids=[c[0] for c in BAD_URLS])
def test_bad_url_is_a_recorded_failure_and_the_list_can_be_edited(server, tmp_path: Path, bad: str):
    good = [server.add(f"/img/{i}.jpg", jpeg(i), content_type="image/jpeg") for i in range(N)]
    rows = [(100 + i, u) for i, u in enumerate(good)]
    lst = tmp_path / "urls.csv"
    write_eol_list(lst, rows[:3] + [(99, bad)] + rows[3:])
    src = tmp_path / "src"
    cmd = ["fetch-images", lst, "--out-sources", src, "--set-size", SET, *FAST]
    assert tol(*cmd) == 0
    assert failures(src / "eol/images") == {bad: "bad_url"}
    fetched_once = server.hit_counts()
    assert all(fetched_once[f"/img/{i}.jpg"] == 1 for i in range(N))

    # the bad row removed (every later row moves up, and to another set): nothing is
    # fetched again, and the sets hold what a fresh run of the edited list writes
    write_eol_list(lst, rows)
    assert tol(*cmd) == 0
    assert server.hit_counts() == fetched_once
    assert failures(src / "eol/images") == {}
    fresh = tmp_path / "fresh"
    assert tol("fetch-images", lst, "--out-sources", fresh, "--set-size", SET, *FAST) == 0
    assert digests(src / "eol/images", "images_*.tar") == digests(
        fresh / "eol/images", "images_*.tar"
    )


# -- redirects to another host; credentials are never written -----------------------------

REDIRECTS = [
    # (case, path listed, with user:pass@, extra flags, expected reason; None: fetched)
    ("cross-host redirect followed by default", "/moved.jpg", False, [], None),
    (
        "cross-host redirect refused",
        "/moved.jpg",
        False,
        ["--same-host-redirects"],
        "redirect_other_host",
    ),
    ("same-host redirect kept", "/same.jpg", False, ["--same-host-redirects"], None),
    ("credentials of a fetched image", "/cdn/1.jpg", True, [], None),
    ("credentials of a failed image", "/missing.jpg", True, [], "http_404"),
    (
        "credentials through a redirect",
        "/moved.jpg",
        True,
        ["--same-host-redirects"],
        "redirect_other_host",
    ),
]


@pytest.mark.parametrize(
    ("path", "credentials", "flags", "reason"),
    [c[1:] for c in REDIRECTS],
    ids=[c[0] for c in REDIRECTS],
)
def test_redirects_and_credentials(
    server, tmp_path: Path, path: str, credentials: bool, flags: list[str], reason: str | None
):
    # another host: the same server under the name localhost instead of 127.0.0.1
    target = server.add("/cdn/1.jpg", jpeg(1), content_type="image/jpeg")
    server.add("/moved.jpg", redirect=target.replace("127.0.0.1", "localhost"))
    server.add("/same.jpg", redirect="/cdn/1.jpg")
    clean = server.url(path)
    listed = clean.replace("http://", "http://alice:s3cret@") if credentials else clean
    lst = tmp_path / "urls.csv"
    write_generic_list(lst, [listed])
    src = tmp_path / "src"
    cmd = ["fetch-images", lst, "--out-sources", src, "--format", "generic", *FAST, *flags]
    assert tol(*cmd) == 0

    assert failures(src / "generic") == ({clean: reason} if reason else {})
    with (src / "generic/labels.csv").open() as fh:
        assert [r["url"] for r in csv.DictReader(fh)] == ([] if reason else [clean])
    written = [f.read_bytes() for f in src.rglob("*") if f.is_file()]
    state = sqlite3.connect(src / "generic/.images.fetch-state.sqlite")
    written.append("\n".join(state.iterdump()).encode())
    state.close()
    assert not any(b"s3cret" in data for data in written)
