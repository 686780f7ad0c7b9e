"""``fetch-images`` of a few hundred URLs with failures: reasons recorded, resume repeats nothing."""

from __future__ import annotations

import csv
import hashlib
import sqlite3
import tarfile
from collections import Counter

import pytest

from treeoflife.errors import TolError
from treeoflife.fetch import images
from treeoflife.fetch.images import ImagePolicy, fetch_images, sniff

from .conftest import MANIFEST_COLUMNS, jpeg

N = 300
SET = 50
POLICY = ImagePolicy(
    concurrency=8, per_host=3, timeout=2.0, tries=2, backoff=0.01, max_backoff=0.02
)


def expected_reason(i: int) -> str | None:
    return {3: "http_404", 7: "http_500", 11: "not_an_image", 13: "connection"}.get(i % 25)


def serve_images(server, n: int = N) -> None:
    for i in range(n):
        path = f"/img/{i}.jpg"
        reason = expected_reason(i)
        if reason == "http_404":
            server.add(path, status=404)
        elif reason == "http_500":
            server.add(path, jpeg(i), fail=[500] * 1000)
        elif reason == "not_an_image":
            server.add(path, b"<html>login</html>", content_type="text/html")
        elif reason == "connection":
            server.add(path, jpeg(i), drop_after=100, drops=-1)
        else:
            server.add(path, jpeg(i), content_type="image/jpeg")


def write_list(server, path, n: int = N) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_COLUMNS)
        for i in range(n):
            w.writerow([10_000 + i, 300 + i % 9, "", server.url(f"/img/{i}.jpg"), "cc-by", "o"])
        w.writerow(["not-a-number", 1, "", server.url("/img/0.jpg"), "", ""])  # bad row
        w.writerow([10_000, 300, "", server.url("/img/0.jpg"), "", ""])  # the same image again


def ok_paths(n: int = N) -> list[str]:
    return [f"/img/{i}.jpg" for i in range(n) if expected_reason(i) is None]


def run(src, urls, **kw):
    return fetch_images(
        urls, src, set_size=SET, policy=POLICY, progress=False, log=lambda m: None, **kw
    )


def tar_digests(src) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((src / "eol/images").glob("images_*.tar*"))
    }


def test_failures_recorded_sets_in_order_and_resume_repeats_nothing(server, tmp_path, monkeypatch):
    serve_images(server)
    urls = tmp_path / "urls.csv"
    write_list(server, urls)
    src = tmp_path / "src"

    # a run that dies part-way (the driver fails after 120 results)
    real_record = images.state.record
    calls = Counter()

    def dying_record(db, out):
        calls["n"] += 1
        if calls["n"] > 120:
            raise KeyboardInterrupt
        real_record(db, out)

    monkeypatch.setattr(images.state, "record", dying_record)
    with pytest.raises(KeyboardInterrupt):
        run(src, urls)
    monkeypatch.setattr(images.state, "record", real_record)
    state = sqlite3.connect(src / "eol/images/.images.fetch-state.sqlite")
    done_before = [u for (u,) in state.execute("SELECT url FROM items WHERE status='done'")]
    state.close()
    assert 50 <= len(done_before) <= 120
    hits_before = server.hit_counts()

    summary = run(src, urls)
    hits = server.hit_counts()
    for url in done_before:  # finished work is not repeated
        path = url.split(str(server.httpd.server_address[1]), 1)[1]
        assert hits[path] == hits_before[path] == 1
    # only images in flight when the run died (at most 2 x concurrency) were fetched twice
    assert sum(hits[p] - 1 for p in ok_paths()) <= 2 * POLICY.concurrency
    assert all(hits[p] >= 1 for p in ok_paths())
    assert summary["done_total"] == len(ok_paths())
    assert summary["pending_total"] == 0
    # the client never held more than per_host connections to the host (the server's own
    # count is no measure: its handler threads return a moment after the client has the
    # last byte, and on a loaded machine several such moments overlap)
    assert summary["max_connections_per_host"] <= POLICY.per_host

    # every failure with its reason, in list order
    with (src / "eol/images/fetch-images-failures.csv").open() as fh:
        failures = list(csv.DictReader(fh))
    want = {i: expected_reason(i) for i in range(N) if expected_reason(i)}
    got = {int(r["row"]): r["reason"] for r in failures}
    assert got == want | {N: "bad_row", N + 1: "duplicate"}
    assert {r["http_status"] for r in failures if r["reason"] == "http_500"} == {"500"}
    assert all(r["attempts"] == "2" for r in failures if r["reason"] in ("http_500", "connection"))
    assert all(
        r["attempts"] == "1" for r in failures if r["reason"] in ("http_404", "not_an_image")
    )

    # sets: row i in set i // SET, members in list order, fixed metadata
    sets = sorted((src / "eol/images").glob("images_*.tar"))
    assert len(sets) == N // SET
    with tarfile.open(sets[1]) as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == [
        f"{10_000 + i}_{300 + i % 9}_eol-full-size-copy.jpg"
        for i in range(SET, 2 * SET)
        if expected_reason(i) is None
    ]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}
    with tarfile.open(sets[1]) as tf:
        data = tf.extractfile(members[0]).read()
    assert data == jpeg(SET) and sniff(data) == "jpg"
    assert not (src / "eol/images/.images.fetch-staging").exists()

    # the same list fetched in one clean run gives byte-identical sets
    clean = tmp_path / "clean"
    run(clean, urls)
    assert tar_digests(clean) == tar_digests(src)

    # a third run does nothing; failures are kept, not retried
    before = len(server.hits())
    summary = run(src, urls)
    assert len(server.hits()) == before and summary["failed_total"] == len(want) + 2

    # --retry-failed: the 500s recover now; their sets are rewritten with them, in order
    for i in range(N):
        if expected_reason(i) == "http_500":
            server.routes[f"/img/{i}.jpg"].fail.clear()
    before_hits = server.hit_counts()
    summary = run(src, urls, retry_failed=True)
    new_hits = server.hit_counts() - before_hits
    assert set(new_hits) == {f"/img/{i}.jpg" for i in want}  # only failures were asked again
    assert summary["fetched"] == sum(1 for r in want.values() if r == "http_500")
    with tarfile.open(src / "eol/images/images_0000.tar") as tf:
        names = tf.getnames()
    assert "10007_307_eol-full-size-copy.jpg" in names
    assert names == sorted(names, key=lambda n: int(n.split("_")[0]))


def test_state_with_other_settings_is_refused(server, tmp_path):
    # an edited list is followed (tests/reliability); a different set size would move
    # every image to another set, so the state refuses it
    serve_images(server, 10)
    urls = tmp_path / "urls.csv"
    write_list(server, urls, 10)
    run(tmp_path / "src", urls)
    with pytest.raises(TolError, match="different settings"):
        fetch_images(
            urls, tmp_path / "src", set_size=SET + 1, policy=POLICY, progress=False, log=print
        )


def test_parquet_list_gzip_sets_and_too_large(server, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    serve_images(server, 6)
    big = server.add("/big.jpg", jpeg(1) + b"\0" * 5000)
    ids = list(range(7))
    table = pa.table(
        {
            "EOL content ID": ids,
            "EOL page ID": [5] * 7,
            "link": [server.url(f"/img/{i}.jpg") for i in range(6)] + [big],
        }
    )
    urls = tmp_path / "urls.parquet"
    pq.write_table(table, urls)
    src = tmp_path / "src"
    policy = ImagePolicy(concurrency=4, per_host=2, timeout=2.0, tries=1, max_bytes=3000)
    summary = fetch_images(
        urls,
        src,
        url_column="link",
        set_size=4,
        gz=True,
        policy=policy,
        progress=False,
        log=lambda m: None,
    )
    assert summary["failures_by_reason"] == {"too_large": 1, "http_404": 1}
    sets = sorted((src / "eol/images").glob("*.tar.gz"))
    assert [s.name for s in sets] == ["images_0000.tar.gz", "images_0001.tar.gz"]
    with tarfile.open(sets[0]) as tf:
        assert tf.getnames() == [
            "0_5_eol-full-size-copy.jpg",
            "1_5_eol-full-size-copy.jpg",
            "2_5_eol-full-size-copy.jpg",
        ]


def test_missing_url_column_is_a_clear_error(tmp_path):
    urls = tmp_path / "u.csv"
    urls.write_text("a,b\n1,2\n")
    with pytest.raises(TolError, match="no column 'EOL Full-Size Copy URL'"):
        fetch_images(urls, tmp_path / "src", progress=False)


def test_sniff():
    assert sniff(jpeg(1)) == "jpg"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff(b"<!doctype html>") is None
