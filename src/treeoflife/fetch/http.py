"""One resumable, verified HTTP download, on the standard library's ``http.client``.

The reference recipe used bare ``wget``: a dropped connection left a partial file that
looked like a whole one. Here a download streams into ``<dest>.part``; after a drop it
resumes with ``Range`` (guarded by ``If-Range`` so a file that changed upstream is never
spliced onto an old prefix); timeouts, connection errors, 5xx and 429 are retried with
exponential backoff (``Retry-After`` honoured) within a bounded number of tries and a
total deadline; the size and (when known) SHA-256 are verified; only then is the file
moved into place with ``os.replace``. A reader never sees a partial file at ``dest``.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.client
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from treeoflife import __version__
from treeoflife.config import FetchConfig
from treeoflife.errors import TolError

USER_AGENT = f"treeoflife/{__version__} (tol fetch)"
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
RETRY_STATUS = frozenset({408, 425, 429})  # plus every 5xx
CHUNK = 256 * 1024
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class FetchError(TolError):
    """A download that could not be completed or verified; the message says why."""


class RedirectError(FetchError):
    """A redirect that is not followed; ``reason`` is the code ``fetch-images`` records."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


# scheme://userinfo@ — userinfo ends at the last "@" before the path, query or fragment
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"]*@")


def strip_credentials(text: str) -> str:
    """``text`` (a URL, or a message quoting URLs) without any ``user:pass@``.

    Credentials must never reach a file we write (labels, failure lists, state); this is
    the one place that knows how to find them, and it works on URLs ``urlsplit`` refuses.
    """
    return _USERINFO.sub(r"\1", text)


@dataclass(frozen=True)
class Policy:
    """How hard to try (the ``[fetch]`` settings: :class:`treeoflife.config.FetchConfig`)."""

    timeout: float = FetchConfig.timeout  # seconds without progress before a try fails
    deadline: float = FetchConfig.deadline  # seconds for the whole file, tries and waits
    tries: int = FetchConfig.tries
    backoff: float = FetchConfig.backoff  # first wait; doubles each retry
    max_backoff: float = FetchConfig.max_backoff
    max_redirects: int = FetchConfig.max_redirects
    user_agent: str = USER_AGENT


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Download:
    """What was fetched, as recorded in fetch-manifest.json."""

    url: str
    final_url: str
    size: int
    sha256: str
    etag: str | None
    last_modified: str | None
    fetched_at: str
    tries: int
    resumed_from: int  # bytes kept from an earlier, interrupted try (0: none)


class Retry(Exception):
    """A transient failure worth another try (after ``wait`` seconds when the server said)."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class Response:
    """An open response plus the connection it came over and the URL it finally came from."""

    def __init__(self, resp: http.client.HTTPResponse, conn: http.client.HTTPConnection, url: str):
        self.resp = resp
        self.conn = conn
        self.url = url
        self.status = resp.status

    def header(self, name: str) -> str | None:
        return self.resp.getheader(name)

    def read(self, n: int) -> bytes:
        return self.resp.read(n)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.close()
        with contextlib.suppress(Exception):
            self.conn.close()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_wait(policy: Policy, attempt: int, server_wait: float | None) -> float:
    """The wait before try ``attempt + 1``: the server's Retry-After, else exponential."""
    if server_wait is not None:
        return server_wait
    return min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """(first, last, total) of a Content-Range header; None for each unknown part."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None, None, None
    first = int(m.group(1)) if m.group(1) else None
    last = int(m.group(2)) if m.group(2) else None
    total = int(m.group(3)) if m.group(3) and m.group(3) != "*" else None
    return first, last, total


def if_range_validator(etag: str | None, last_modified: str | None) -> str | None:
    """A validator If-Range may carry: a strong ETag, else Last-Modified (never a weak ETag)."""
    if etag and not etag.startswith("W/"):
        return etag
    return last_modified or None


def open_url(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float,
    max_redirects: int = 10,
    user_agent: str = USER_AGENT,
    same_host: bool = False,
) -> Response:
    """GET ``url``, following at most ``max_redirects`` redirects; the caller closes it.

    ``same_host`` refuses a redirect to another host (RedirectError) for lists whose
    images must come from the host they name; by default redirects are followed, as
    image URLs commonly point at a CDN.
    """
    first_host = urlsplit(url).hostname
    for _ in range(max_redirects + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"cannot fetch {url!r}: only http:// and https:// URLs are supported")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            conn = cls(parts.hostname, parts.port, timeout=timeout)
        except ValueError as exc:  # e.g. a bad port
            raise FetchError(f"cannot fetch {url!r}: {exc}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"User-Agent": user_agent, "Accept-Encoding": "identity", **(headers or {})}
        try:
            conn.request("GET", target, headers=sent)
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if resp.status in REDIRECT_STATUS:
            location = resp.getheader("Location")
            resp.close()
            conn.close()
            if not location:
                raise FetchError(f"{url} answered HTTP {resp.status} without a Location to follow")
            target_url = urljoin(url, location)
            if same_host and urlsplit(target_url).hostname != first_host:
                raise RedirectError(
                    f"{strip_credentials(url)} redirects to another host "
                    f"({urlsplit(target_url).hostname}), refused by --same-host-redirects",
                    "redirect_other_host",
                )
            url = target_url
            continue
        return Response(resp, conn, url)
    raise RedirectError(
        f"too many redirects (more than {max_redirects}) fetching {url}", "too_many_redirects"
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_part_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _discard(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    policy: Policy = DEFAULT_POLICY,
    progress: bool | None = None,
    label: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
) -> Download:
    """Fetch ``url`` to ``dest`` (atomically), resuming an earlier ``dest.part`` when safe.

    Resuming needs a validator (strong ETag or Last-Modified) for If-Range, or a known
    SHA-256 that will catch any splice; otherwise a leftover part is started over.
    Raises FetchError with one sentence when the file cannot be had or verified.
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meta_path = dest.with_name(dest.name + ".part.json")
    meta = _read_part_meta(meta_path)
    if meta.get("url") != url:
        meta = {"url": url}
        _discard(part)
    expected = sha256.lower() if sha256 else None
    end = time.monotonic() + policy.deadline
    bar = tqdm(
        desc=label or dest.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=(not progress) if progress is not None else None,
        leave=False,
    )
    attempt = 0
    resumed_from = 0
    final_url = url
    try:
        while True:
            attempt += 1
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise FetchError(_deadline_msg(url, policy, part))
            offset = part.stat().st_size if part.exists() else 0
            validator = if_range_validator(meta.get("etag"), meta.get("last_modified"))
            headers: dict[str, str] = {}
            if offset and (validator or expected):
                headers["Range"] = f"bytes={offset}-"
                if validator:
                    headers["If-Range"] = validator
            elif offset:
                _discard(part)
                offset = 0
            try:
                done, final_url = _one_try(
                    url, part, offset, headers, meta, meta_path, policy, end, bar, size
                )
                resumed_from = done
                break
            except Retry as exc:
                reason, server_wait = str(exc), exc.wait
            except TimeoutError:
                reason, server_wait = f"no data for {policy.timeout:g} s (timed out)", None
            except (OSError, http.client.HTTPException) as exc:
                reason, server_wait = f"connection failed: {exc or type(exc).__name__}", None
            if attempt >= policy.tries:
                raise FetchError(
                    f"{url}: gave up after {attempt} tries (last: {reason}); " + _kept_msg(part)
                )
            wait = backoff_wait(policy, attempt, server_wait)
            if time.monotonic() + wait > end:
                raise FetchError(_deadline_msg(url, policy, part, f" (last: {reason})"))
            if log is not None:
                log(f"{label or dest.name}: {reason}; retrying in {wait:g} s")
            sleep(wait)
    finally:
        bar.close()
    return _verify_and_place(
        url, final_url, part, meta_path, dest, meta, expected, size, attempt, resumed_from
    )


def _kept_msg(part: Path) -> str:
    if part.exists() and part.stat().st_size:
        return f"the partial download is kept at {part} and the next run resumes it"
    return "nothing was kept"


def _deadline_msg(url: str, policy: Policy, part: Path, extra: str = "") -> str:
    return (
        f"{url} did not finish within the deadline of {policy.deadline:g} s{extra}; "
        + _kept_msg(part)
    )


def _one_try(
    url: str,
    part: Path,
    offset: int,
    headers: dict[str, str],
    meta: dict,
    meta_path: Path,
    policy: Policy,
    end: float,
    bar,
    size: int | None,
) -> tuple[int, str]:
    """One request: append to ``part`` from ``offset``; returns (bytes resumed, final URL)."""
    timeout = max(0.001, min(policy.timeout, end - time.monotonic()))
    resp = open_url(
        url,
        headers,
        timeout=timeout,
        max_redirects=policy.max_redirects,
        user_agent=policy.user_agent,
    )
    try:
        status = resp.status
        if status == 416 and offset:
            total = parse_content_range(resp.header("Content-Range"))[2]
            if total == offset:  # the part already holds the whole file
                return offset, resp.url
            _discard(part)
            raise Retry("the server refused to resume (HTTP 416); starting over", wait=0)
        if status == 429 or status in RETRY_STATUS or 500 <= status <= 599:
            raise Retry(
                f"HTTP {status} {resp.resp.reason}", retry_after(resp.header("Retry-After"))
            )
        if status not in (200, 206):
            raise FetchError(
                f"{url} answered HTTP {status} {resp.resp.reason}; check the URL "
                "(a moved link is a [fetch.<name>] url in tol.toml)"
            )
        length = resp.header("Content-Length")
        length_n = int(length) if length and length.isdigit() else None
        if status == 206:
            first, _, total = parse_content_range(resp.header("Content-Range"))
            if first != offset:
                _discard(part)
                raise Retry(
                    f"the server resumed at byte {first}, not {offset}; starting over", wait=0
                )
            expected_total = total
        else:  # 200: a whole body, Range ignored or the file changed (If-Range failed)
            offset = 0
            expected_total = length_n
        etag, modified = resp.header("ETag"), resp.header("Last-Modified")
        if status == 200 or meta.get("etag") != etag or meta.get("last_modified") != modified:
            meta.update(etag=etag, last_modified=modified)
            _write_json(meta_path, meta)
        if size is not None and expected_total is not None and expected_total != size:
            raise FetchError(
                f"{url} is {expected_total} bytes but {size} were expected; "
                "the file changed upstream or the configured size is wrong"
            )
        bar.reset(total=expected_total)
        bar.update(offset)
        with part.open("r+b" if offset else "wb") as fh:
            fh.seek(offset)
            fh.truncate()
            received = 0
            while True:
                if time.monotonic() > end:
                    raise Retry("deadline reached mid-transfer", wait=0)
                block = resp.read(CHUNK)
                if not block:
                    break
                fh.write(block)
                received += len(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
        if length_n is not None and received < length_n:
            raise Retry(f"connection dropped after {received} of {length_n} bytes")
        return (offset if status == 206 else 0), resp.url
    finally:
        resp.close()


def _verify_and_place(
    url: str,
    final_url: str,
    part: Path,
    meta_path: Path,
    dest: Path,
    meta: dict,
    expected: str | None,
    size: int | None,
    tries: int,
    resumed_from: int,
) -> Download:
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        _discard(part, meta_path)
        raise FetchError(
            f"{url} gave {actual_size} bytes but {size} were expected; the download was discarded"
        )
    digest = sha256_file(part)
    if expected and digest != expected:
        _discard(part, meta_path)
        raise FetchError(
            f"{url} failed verification: sha256 {digest} is not the expected "
            f"{expected}; the download was discarded (if the file was updated "
            "upstream, set the new sha256 in tol.toml)"
        )
    os.replace(part, dest)
    _discard(meta_path)
    return Download(
        url=url,
        final_url=final_url,
        size=actual_size,
        sha256=digest,
        etag=meta.get("etag"),
        last_modified=meta.get("last_modified"),
        fetched_at=now_iso(),
        tries=tries,
        resumed_from=resumed_from,
    )


def not_modified(
    url: str,
    etag: str | None,
    last_modified: str | None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> bool | None:
    """Ask the server whether ``url`` changed since it gave these validators.

    True: not modified (304, or a 200 carrying the same validator); False: changed or
    unknowable (no validators); None: the server could not be reached or answered an error.
    """
    if not etag and not last_modified:
        return False
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        resp = open_url(
            url,
            headers,
            timeout=policy.timeout,
            max_redirects=policy.max_redirects,
            user_agent=policy.user_agent,
        )
    except (OSError, http.client.HTTPException, FetchError):
        return None
    try:
        if resp.status == 304:
            return True
        if resp.status == 200:
            same_etag = etag is not None and resp.header("ETag") == etag
            same_date = etag is None and resp.header("Last-Modified") == last_modified
            return bool(same_etag or same_date)
        return None
    finally:
        resp.close()
