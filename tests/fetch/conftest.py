"""A real HTTP server on 127.0.0.1 that serves reference-format files and misbehaves on purpose.

Each path is a Route: its body and validators, plus scripted faults — answer some
statuses first (500, 429 with Retry-After), drop the connection mid-body, stall, ignore
Range, redirect. The server logs every request (path, Range/If-Range headers, status,
bytes sent) so tests can assert how a client behaved.
"""

from __future__ import annotations

import csv
import io
import socket
import tarfile
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from treeoflife.fetch.http import Policy

FAST = Policy(timeout=2.0, deadline=20.0, tries=5, backoff=0.01, max_backoff=0.05)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    etag: str | None = '"v1"'
    last_modified: str | None = "Wed, 01 Jan 2025 00:00:00 GMT"
    ranges: bool = True  # honour Range requests
    fail: list[int] = field(default_factory=list)  # statuses answered first, one per request
    retry_after: str | None = None
    drop_after: int | None = None  # send this many body bytes, then cut the connection
    drops: int = 0  # how many requests are cut (-1: all)
    stall: float = 0.0  # seconds to wait before the body
    stalls: int = 0
    redirect: str | None = None
    send_length: bool = True


@dataclass
class Hit:
    path: str
    range: str | None
    if_range: str | None
    status: int
    sent: int


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Hit] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                with server.lock:
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                self.counted = True
                try:
                    server._serve(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    server._uncount(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes = b"", **kw) -> str:
        self.routes[path] = Route(body=body, **kw)
        return self.url(path)

    def hits(self, path: str | None = None) -> list[Hit]:
        with self.lock:
            return [h for h in self.log if path is None or h.path == path]

    def hit_counts(self) -> Counter:
        return Counter(h.path for h in self.hits())

    def _record(self, h: Hit) -> None:
        with self.lock:
            self.log.append(h)

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        rng, if_range = req.headers.get("Range"), req.headers.get("If-Range")
        route = self.routes.get(path)
        if route is None:
            return self._simple(req, path, 404, b"not found", rng, if_range)
        with self.lock:
            failing = route.fail.pop(0) if route.fail else None
        if failing:
            headers = {"Retry-After": route.retry_after} if route.retry_after else {}
            return self._simple(req, path, failing, b"try later", rng, if_range, headers)
        if route.redirect:
            return self._simple(req, path, 302, b"", rng, if_range, {"Location": route.redirect})
        if route.status != 200:
            return self._simple(req, path, route.status, b"nope", rng, if_range)
        inm = req.headers.get("If-None-Match")
        if inm and route.etag and inm == route.etag:
            return self._simple(req, path, 304, b"", rng, if_range)
        body, status, headers = route.body, 200, {}
        if rng and route.ranges and self._if_range_ok(route, if_range):
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            if start >= len(body):
                return self._simple(
                    req, path, 416, b"", rng, if_range, {"Content-Range": f"bytes */{len(body)}"}
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            body = body[start:]
        req.send_response(status)
        req.send_header("Content-Type", route.content_type)
        if route.send_length:
            req.send_header("Content-Length", str(len(body)))
        if route.etag:
            req.send_header("ETag", route.etag)
        if route.last_modified:
            req.send_header("Last-Modified", route.last_modified)
        req.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        with self.lock:
            stall = route.stall if route.stalls != 0 else 0.0
            if route.stalls > 0:
                route.stalls -= 1
            cut = route.drop_after is not None and route.drops != 0
            if cut and route.drops > 0:
                route.drops -= 1
        if stall:
            time.sleep(stall)
        if cut:
            part = body[: route.drop_after]
            self._record(Hit(path, rng, if_range, status, len(part)))
            req.wfile.write(part)
            req.wfile.flush()
            req.connection.shutdown(socket.SHUT_RDWR)
            req.close_connection = True
            return
        self._record(Hit(path, rng, if_range, status, len(body)))  # before the client can see it
        # the request stops counting as active before its last byte leaves: a client that has
        # read the whole body (and so may start its next request) is never still counted
        req.wfile.write(body[:-1])
        self._uncount(req)
        req.wfile.write(body[-1:])

    def _uncount(self, req: BaseHTTPRequestHandler) -> None:
        with self.lock:
            if getattr(req, "counted", False):
                req.counted = False
                self.active -= 1

    @staticmethod
    def _if_range_ok(route: Route, if_range: str | None) -> bool:
        return if_range is None or if_range in (route.etag, route.last_modified)

    def _simple(self, req, path, status, body, rng, if_range, headers=None) -> None:
        req.send_response(status)
        req.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        self._record(Hit(path, rng, if_range, status, len(body)))
        req.end_headers()
        if body:
            req.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


# -- small real-format copies of the reference files -----------------------------------

DH_COLUMNS = [
    "taxonID",
    "source",
    "furtherInformationURL",
    "acceptedNameUsageID",
    "parentNameUsageID",
    "scientificName",
    "taxonRank",
    "taxonomicStatus",
    "datasetID",
    "canonicalName",
    "authority",
    "eolID",
    "Landmark",
    "higherClassification",
]


def dh_zip() -> bytes:
    rows = [
        [
            "EOL-000000000001",
            "trunk:1",
            "",
            "",
            "",
            "Life",
            "",
            "accepted",
            "trunk",
            "Life",
            "",
            "2913056",
            "3",
            "",
        ],
        [
            "EOL-000000000002",
            "trunk:2",
            "",
            "",
            "EOL-000000000001",
            "Animalia",
            "kingdom",
            "accepted",
            "trunk",
            "Animalia",
            "",
            "1",
            "3",
            "Life",
        ],
        [
            "EOL-000000000003",
            "trunk:3",
            "",
            "",
            "EOL-000000000002",
            "Panthera leo (Linnaeus, 1758)",
            "species",
            "accepted",
            "trunk",
            "Panthera leo",
            "(Linnaeus, 1758)",
            "328672",
            "",
            "Life|Animalia",
        ],
    ]
    text = "\t".join(DH_COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dh21/taxon.tab", text)
        zf.writestr("dh21/meta.xml", "<archive/>")
    return buf.getvalue()


def dwca_zip() -> bytes:
    taxa = io.StringIO()
    w = csv.writer(taxa)
    w.writerow(
        [
            "id",
            "taxonID",
            "identifier",
            "parentNameUsageID",
            "kingdom",
            "phylum",
            "class",
            "order",
            "family",
            "genus",
            "specificEpithet",
            "infraspecificEpithet",
            "modified",
            "scientificName",
            "taxonRank",
            "references",
        ]
    )
    w.writerow(
        [
            "41964",
            "https://www.inaturalist.org/taxa/41964",
            "41964",
            "",
            "Animalia",
            "Chordata",
            "Mammalia",
            "Carnivora",
            "Felidae",
            "Panthera",
            "leo",
            "",
            "",
            "Panthera leo",
            "species",
            "",
        ]
    )
    names = (
        "id,vernacularName,language,locality,countryCode,source,lexicon,contributor,created\n"
        "41964,Lion,en,,,,English,,\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("taxa.csv", taxa.getvalue())
        zf.writestr("VernacularNames-english.csv", names)
        zf.writestr("VernacularNames-french.csv", names.replace("Lion", "Lion d'Afrique"))
        zf.writestr("meta.xml", "<archive/>")
    return buf.getvalue()


VERNACULAR = (
    b"page_id,canonical_form,vernacular_string,language_code,resource_name,is_preferred_by_resource,"
    b"is_preferred_by_eol\n328672,Panthera leo,lion,eng,Wikipedia,preferred,preferred\n"
)

MANIFEST_COLUMNS = [
    "EOL content ID",
    "EOL page ID",
    "Medium Source URL",
    "EOL Full-Size Copy URL",
    "License Name",
    "Copyright Owner",
]


def media_manifest_tgz(
    rows: list[list[str]], per_chunk: int, *, extra: dict[str, bytes] | None = None
) -> bytes:
    """Chunks media_manifest_1.csv … _N.csv, each with its header, added to the tar out of order."""
    chunks = [rows[i : i + per_chunk] for i in range(0, len(rows), per_chunk)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        order = list(range(len(chunks)))
        order = order[::2] + order[1::2]  # scrambled, so the combiner has to sort
        for i in order:
            s = io.StringIO()
            w = csv.writer(s, lineterminator="\n")
            w.writerow(MANIFEST_COLUMNS)
            w.writerows(chunks[i])
            data = s.getvalue().encode()
            info = tarfile.TarInfo(f"media_manifest_{i + 1}.csv")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def jpeg(seed: int) -> bytes:
    from PIL import Image

    # a colour under a ramp, 48x32: flat or under 32 px it would be left out by [filters]
    img = Image.new("RGB", (48, 32), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    img = Image.blend(img, Image.linear_gradient("L").resize((48, 32)).convert("RGB"), 0.5)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()
