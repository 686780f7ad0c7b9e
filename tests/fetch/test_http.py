"""One resumable, verified download against a server that misbehaves on purpose."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace

import pytest

from treeoflife.fetch.http import (
    FetchError,
    backoff_wait,
    download,
    not_modified,
    parse_content_range,
    retry_after,
)

from .conftest import FAST

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


def no_leftovers(dest):
    assert not dest.exists()
    assert (
        not dest.with_name(dest.name + ".part").exists() or True
    )  # partials may be kept for resume


def test_plain_download_is_verified_and_placed(server, tmp_path):
    url = server.add("/f.bin", BODY)
    dest = tmp_path / "f.bin"
    dl = download(url, dest, sha256=SHA, size=len(BODY), policy=FAST, progress=False)
    assert dest.read_bytes() == BODY
    assert (dl.size, dl.sha256, dl.etag, dl.tries) == (len(BODY), SHA, '"v1"', 1)
    assert not list(tmp_path.glob("*.part*"))


def test_dropped_connection_resumes_with_range(server, tmp_path):
    url = server.add("/f.bin", BODY, drop_after=120_000, drops=1)
    dest = tmp_path / "f.bin"
    dl = download(url, dest, policy=FAST, progress=False)
    assert dest.read_bytes() == BODY
    hits = server.hits("/f.bin")
    assert [h.status for h in hits] == [200, 206]
    assert hits[1].range == "bytes=120000-" and hits[1].if_range == '"v1"'
    assert sum(h.sent for h in hits) < 2 * len(BODY)
    assert dl.resumed_from == 120_000 and dl.tries == 2


def test_interrupted_run_resumes_in_the_next_run(server, tmp_path):
    """A run that gives up keeps its .part; the next run continues it with Range."""
    url = server.add("/f.bin", BODY, drop_after=100_000, drops=1)
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError, match="partial download is kept"):
        download(url, dest, policy=replace(FAST, tries=1), progress=False)
    assert not dest.exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 100_000
    download(url, dest, sha256=SHA, policy=FAST, progress=False)
    assert dest.read_bytes() == BODY
    hits = server.hits("/f.bin")
    assert hits[-1].range == "bytes=100000-" and hits[-1].status == 206
    assert sum(h.sent for h in hits) < 2 * len(BODY)


def test_server_ignoring_range_starts_over_cleanly(server, tmp_path):
    url = server.add("/f.bin", BODY, drop_after=100_000, drops=1, ranges=False)
    dest = tmp_path / "f.bin"
    download(url, dest, sha256=SHA, policy=FAST, progress=False)
    assert dest.read_bytes() == BODY  # a 200 to a Range request replaced the part, not appended
    assert [h.status for h in server.hits("/f.bin")] == [200, 200]


def test_changed_file_is_not_spliced(server, tmp_path):
    """If-Range with the old ETag: the server sends the new file whole, the part is replaced."""
    url = server.add("/f.bin", BODY, drop_after=100_000, drops=1)
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError):
        download(url, dest, policy=replace(FAST, tries=1), progress=False)
    new = os.urandom(250_000)
    server.add("/f.bin", new, etag='"v2"', last_modified="Thu, 02 Jan 2025 00:00:00 GMT")
    download(url, dest, policy=FAST, progress=False)
    assert dest.read_bytes() == new
    last = server.hits("/f.bin")[-1]
    assert last.if_range == '"v1"' and last.status == 200


def test_500_and_429_are_retried_honouring_retry_after(server, tmp_path):
    url = server.add("/f.bin", BODY, fail=[500, 503, 429], retry_after="1")
    waits: list[float] = []
    dest = tmp_path / "f.bin"
    download(url, dest, sha256=SHA, policy=FAST, progress=False, sleep=waits.append)
    assert dest.read_bytes() == BODY
    assert [h.status for h in server.hits("/f.bin")] == [500, 503, 429, 200]
    assert waits == [1.0, 1.0, 1.0]  # Retry-After on every failing answer here


def test_backoff_is_exponential_and_bounded():
    p = replace(FAST, backoff=1.0, max_backoff=5.0)
    assert [backoff_wait(p, n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert backoff_wait(p, 3, 0.5) == 0.5
    assert retry_after("7") == 7.0 and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert parse_content_range("bytes 10-19/20") == (10, 19, 20)
    assert parse_content_range("bytes */20") == (None, None, 20)


def test_5xx_forever_gives_up_after_bounded_tries(server, tmp_path):
    url = server.add("/f.bin", BODY, fail=[500] * 50)
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError, match="gave up after 5 tries.*HTTP 500"):
        download(url, dest, policy=FAST, progress=False)
    assert not dest.exists() and len(server.hits("/f.bin")) == 5


def test_retry_after_beyond_the_deadline_fails_at_once(server, tmp_path):
    url = server.add("/f.bin", BODY, fail=[429], retry_after="3600")
    with pytest.raises(FetchError, match="deadline"):
        download(url, tmp_path / "f.bin", policy=FAST, progress=False)
    assert len(server.hits("/f.bin")) == 1


def test_wrong_checksum_is_discarded(server, tmp_path):
    url = server.add("/f.bin", BODY)
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError, match="failed verification: sha256"):
        download(url, dest, sha256="0" * 64, policy=FAST, progress=False)
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_wrong_size_is_refused(server, tmp_path):
    url = server.add("/f.bin", BODY)
    with pytest.raises(FetchError, match="expected"):
        download(url, tmp_path / "f.bin", size=len(BODY) + 1, policy=FAST, progress=False)
    assert not (tmp_path / "f.bin").exists()


def test_a_stall_times_out_and_is_retried(server, tmp_path):
    url = server.add("/f.bin", BODY, stall=1.0, stalls=1)
    dest = tmp_path / "f.bin"
    download(url, dest, sha256=SHA, policy=replace(FAST, timeout=0.3), progress=False)
    assert dest.read_bytes() == BODY and len(server.hits("/f.bin")) >= 1


def test_total_deadline_is_enforced(server, tmp_path):
    url = server.add("/f.bin", BODY, stall=5.0, stalls=-1)
    dest = tmp_path / "f.bin"
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="deadline|gave up"):
        download(
            url, dest, policy=replace(FAST, timeout=0.3, deadline=1.0, tries=50), progress=False
        )
    assert time.monotonic() - t0 < 3.0
    assert not dest.exists()


def test_redirects_are_followed_and_bounded(server, tmp_path):
    server.add("/real.bin", BODY)
    server.add("/hop2", redirect="/real.bin")
    url = server.add("/hop1", redirect=server.url("/hop2"))
    dl = download(url, tmp_path / "f.bin", sha256=SHA, policy=FAST, progress=False)
    assert dl.final_url == server.url("/real.bin") and dl.url == url
    loop = server.add("/loop", redirect="/loop")
    with pytest.raises(FetchError, match="too many redirects"):
        download(loop, tmp_path / "g.bin", policy=replace(FAST, max_redirects=3), progress=False)
    assert len(server.hits("/loop")) == 4
    assert not (tmp_path / "g.bin").exists()


def test_404_is_a_clear_error_without_retries(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        download(server.url("/missing"), tmp_path / "f.bin", policy=FAST, progress=False)
    assert len(server.hits("/missing")) == 1


def test_leftover_part_without_validators_is_started_over(server, tmp_path):
    url = server.add("/f.bin", BODY, etag=None, last_modified=None)
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 1000)
    (tmp_path / "f.bin.part.json").write_text(json.dumps({"url": url}))
    download(url, dest, policy=FAST, progress=False)
    assert dest.read_bytes() == BODY and server.hits("/f.bin")[0].range is None


def test_conditional_check(server):
    url = server.add("/f.bin", BODY)
    assert not_modified(url, '"v1"', None, policy=FAST) is True
    assert not_modified(url, '"v0"', None, policy=FAST) is False
    assert not_modified(url, None, None, policy=FAST) is False
    assert not_modified("http://127.0.0.1:1/x", '"v1"', None, policy=FAST) is None
