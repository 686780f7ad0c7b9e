"""The downloader of ``tol fetch-images``: one image over HTTP, bounded and polite.

A try is one ``open_url`` GET (``fetch/http``: the same connection handling, redirects,
User-Agent and Retry-After parsing as ``tol fetch``); its outcome is bytes of a known
image type or a reason code. Whole-file resume and checksums are not used: an image is
small and its digest is not known in advance, so a dropped image is simply asked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from treeoflife.fetch.http import (
    RETRY_STATUS,
    FetchError,
    Policy,
    RedirectError,
    backoff_wait,
    open_url,
    retry_after,
    strip_credentials,
)


@dataclass(frozen=True)
class ImagePolicy(Policy):
    """``fetch/http``'s Policy with image defaults, plus pool size, politeness and limits.

    ``deadline`` (per whole file in ``tol fetch``) is not used: ``timeout`` × ``tries``
    bounds one image. Tests shrink the timeouts.
    """

    timeout: float = 30.0
    tries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 4
    delay: float = 0.0  # seconds between request starts on one host
    max_bytes: int = 50 * 1024 * 1024
    same_host_redirects: bool = False  # refuse a redirect to another host


DEFAULT_IMAGE_POLICY = ImagePolicy()


@dataclass(frozen=True)
class Outcome:
    """What became of one row: recorded by the driver, the only writer of the state."""

    idx: int
    ok: bool
    attempts: int
    reason: str = ""
    http_status: int | None = None
    detail: str = ""
    path: str = ""
    size: int = 0
    sha256: str = ""
    mtime_ns: int | None = None  # of a generic image file, to tell later whether it changed


def sniff(data: bytes) -> str | None:
    """The image type by magic bytes (the extension a file gets), None when not an image."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    if data[:2] == b"BM":
        return "bmp"
    return None


class HostGate:
    """At most ``per_host`` connections to one host, request starts ``delay`` s apart."""

    def __init__(self, per_host: int, delay: float = 0.0):
        self.per_host = max(1, per_host)
        self.delay = delay
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = defaultdict(float)
        self.active: Counter = Counter()
        self.max_active: Counter = Counter()

    @contextlib.contextmanager
    def __call__(self, host: str) -> Iterator[None]:
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with sem:
            if self.delay > 0:
                with self._lock:
                    start = max(time.monotonic(), self._next[host])
                    self._next[host] = start + self.delay
                time.sleep(max(0.0, start - time.monotonic()))
            with self._lock:
                self.active[host] += 1
                self.max_active[host] = max(self.max_active[host], self.active[host])
            try:
                yield
            finally:
                with self._lock:
                    self.active[host] -= 1


class _Fail(Exception):
    """One failed try: its reason code, and whether another try could help."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        status: int | None = None,
        retry: bool = False,
        wait: float | None = None,
    ):
        super().__init__(detail)
        self.reason, self.detail, self.status, self.retry, self.wait = (
            reason,
            strip_credentials(detail),
            status,
            retry,
            wait,
        )


def _get(url: str, policy: ImagePolicy) -> tuple[bytes, str]:
    """One GET of an image: its bytes and type, or _Fail with a reason."""
    try:
        resp = open_url(
            url,
            timeout=policy.timeout,
            max_redirects=policy.max_redirects,
            user_agent=policy.user_agent,
            same_host=policy.same_host_redirects,
        )
    except RedirectError as exc:
        raise _Fail(exc.reason, str(exc)) from None
    except FetchError as exc:
        raise _Fail("bad_url", str(exc)) from None
    try:
        status = resp.status
        if status != 200:
            retry = status in RETRY_STATUS or 500 <= status <= 599
            raise _Fail(
                f"http_{status}",
                resp.resp.reason,
                status,
                retry,
                retry_after(resp.header("Retry-After")),
            )
        length = resp.header("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise _Fail("too_large", f"{length} bytes > {policy.max_bytes}", status)
        data = resp.read(policy.max_bytes + 1)
        if len(data) > policy.max_bytes:
            raise _Fail("too_large", f"more than {policy.max_bytes} bytes", status)
        if length and length.isdigit() and len(data) < int(length):
            raise _Fail("connection", f"dropped after {len(data)} of {length} bytes", status, True)
        if not data:
            raise _Fail("empty", "the server sent no bytes", status)
        kind = sniff(data)
        if kind is None:
            ctype = resp.header("Content-Type") or "no content type"
            raise _Fail("not_an_image", f"{ctype}; starts with {data[:8]!r}", status)
        return data, kind
    finally:
        resp.close()


def fetch_image(
    url: str, policy: ImagePolicy, gate: HostGate, sleep: Callable[[float], None] = time.sleep
) -> tuple[bytes | None, str, Outcome]:
    """Fetch one image with bounded retries; (bytes, type, outcome without idx/path).

    Never raises for a URL: whatever ``http.client`` or the URL parser throws (a bad
    redirect Location, say) becomes a reason, so one URL cannot stop a run.
    """
    last: _Fail | None = None
    attempt = 0
    for attempt in range(1, policy.tries + 1):  # noqa: B007 (used after the loop)
        try:
            try:
                host = urlsplit(url).hostname or ""
                with gate(host):
                    data, kind = _get(url, policy)
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                    raise _Fail(
                        "timeout", f"no data for {policy.timeout:g} s", retry=True
                    ) from None
                raise _Fail("connection", str(exc) or type(exc).__name__, retry=True) from None
            except ValueError as exc:  # includes UnicodeError: a URL http.client refuses
                raise _Fail("bad_url", str(exc) or type(exc).__name__) from None
            return (
                data,
                kind,
                Outcome(-1, True, attempt, size=len(data), sha256=hashlib.sha256(data).hexdigest()),
            )
        except _Fail as fail:
            last = fail
            if not fail.retry or attempt == policy.tries:
                break
            sleep(min(backoff_wait(policy, attempt, fail.wait), policy.max_backoff))
    assert last is not None
    return None, "", Outcome(-1, False, attempt, last.reason, last.status, last.detail)
