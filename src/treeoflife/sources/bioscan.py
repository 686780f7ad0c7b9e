"""BIOSCAN-1M: the ``.jsonld`` metadata list and ``bioscan/images/part<N>/<image_file>``.

The metadata is one JSON list of ~1.1M records (~1 GB), so it is parsed one record at a
time (:func:`iter_json_list`): memory is one record plus a read buffer whatever its size,
and a file cut short keeps every complete record before the cut.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from treeoflife.config import Config
from treeoflife.errors import TolError
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sources.base import (
    IMAGE_SUFFIXES,
    Confinement,
    ImageRecord,
    Rights,
    ScanReject,
    name_not_utf8,
    relative,
)

NAME = "bioscan"
# ranks BIOSCAN gives; everything above order is fixed for this insect collection
GIVEN_RANKS = ("order", "family", "subfamily", "tribe", "genus", "species")
FIXED_RANKS = {"kingdom": "Animalia", "phylum": "Arthropoda", "class": "Insecta"}

BUFFER_CHARS = 1 << 20
# A token cut by the end of the buffer fails to parse (`tru`, `\u00`, `-Infin`) within
# this many characters of the end; an error further back is in the text itself.
_CUT_TOKEN_CHARS = 16
# what may follow a number cut short (`12` of `123`, `1.5` of `1.5e3`)
_NUMBER_TAIL = re.compile(r"[0-9.eE+\-]*")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class NotAJsonList(ValueError):
    """The text does not start a JSON list (empty, unreadable, or another JSON value)."""


class ListBreak(Exception):
    """A JSON list stops part-way; every item before it was complete and yielded.

    ``reason`` is a rejects code: ``metadata_truncated`` when the text ends inside the
    list, ``metadata_unreadable`` when it stops being JSON (or UTF-8).
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _Cut(Exception):
    """The text ended where the list needs more."""


class _Window:
    """The unparsed part of a text stream, and how many characters came before it."""

    def __init__(self, stream: TextIO, chunk_chars: int):
        self.stream = stream
        self.chunk_chars = max(1, chunk_chars)
        self.text = ""
        self.pos = 0
        self.base = 0
        self.ended = False

    def offset(self, pos: int | None = None) -> int:
        return self.base + (self.pos if pos is None else pos)

    def read_more(self) -> bool:
        """Drop the parsed text and append a chunk; False at the end of the stream.

        A chunk is at least as long as the unparsed text, so a record larger than the
        buffer is re-parsed a logarithmic, not linear, number of times.
        """
        if self.ended:
            return False
        try:
            chunk = self.stream.read(max(self.chunk_chars, len(self.text) - self.pos))
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":  # anything else is not a cut
                raise
            chunk = ""
        if not chunk:
            self.ended = True
            return False
        self.base += self.pos
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace, moving to it; "" at the end."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.read_more():
                return ""


def _may_be_cut(exc: json.JSONDecodeError, text_length: int) -> bool:
    return exc.pos >= text_length - _CUT_TOKEN_CHARS or exc.msg.startswith("Unterminated string")


def _next_value(window: _Window, decoder: json.JSONDecoder) -> Any:
    """The JSON value at the window's position, reading on while it may go on past the
    buffered text."""
    if not window.peek():
        raise _Cut
    while True:
        try:
            value, end = decoder.raw_decode(window.text, window.pos)
        except json.JSONDecodeError as exc:
            if not _may_be_cut(exc, len(window.text)):
                raise
            if not window.read_more():
                raise _Cut from None
            continue
        if not _may_go_on(value, window.text, end):
            window.pos = end
            return value
        if not window.read_more():
            raise _Cut  # the text ends in or right after a number


def _may_go_on(value: Any, text: str, end: int) -> bool:
    """Whether a parsed value may be the start of a longer one: only a number can be, when
    nothing but number characters follow it to the end of the buffered text."""
    return type(value) in (int, float) and _NUMBER_TAIL.fullmatch(text, end) is not None


def _values(window: _Window) -> Iterator[Any]:
    """The items of the list whose ``[`` the window is past, then past its ``]``."""
    decoder = json.JSONDecoder()
    if window.peek() == "]":
        window.pos += 1
        return
    while True:
        yield _next_value(window, decoder)
        after = window.peek()
        if after == "]":
            window.pos += 1
            return
        if not after:
            raise _Cut
        if after != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", window.text, window.pos)
        window.pos += 1


def iter_json_list(stream: TextIO, buffer_chars: int = BUFFER_CHARS) -> Iterator[Any]:
    """Each item of the JSON list the text stream holds, parsed one at a time.

    Raises :class:`NotAJsonList` before the first item when the text is not a list, and
    :class:`ListBreak` after the last complete item when the list breaks off.
    """
    window = _Window(stream, buffer_chars)
    try:
        first = window.peek()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotAJsonList(f"unreadable: {exc}") from None
    if first != "[":
        raise NotAJsonList(f"it starts with {first!r}" if first else "it is empty")
    window.pos += 1
    count = 0
    try:
        for value in _values(window):
            yield value
            count += 1
        extra = window.peek()
    except _Cut:
        raise ListBreak(
            "metadata_truncated",
            f"the file ends inside the list: {count} complete records, "
            f"then nothing usable from character {window.offset()} on",
        ) from None
    except json.JSONDecodeError as exc:
        raise ListBreak(
            "metadata_unreadable",
            f"not JSON from character {window.offset(exc.pos)} ({exc.msg}); "
            f"{count} complete records before it, any after it are lost",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ListBreak(
            "metadata_unreadable",
            f"unreadable after character {window.offset()} ({exc}); "
            f"{count} complete records before it, any after it are lost",
        ) from None
    if extra:
        raise ListBreak(
            "metadata_unreadable",
            f"text after the end of the list, at character {window.offset()}, is ignored",
        )


class _Utf8Reader:
    """The text of a binary stream, decoded as it is read.

    ``TextIOWrapper.read(n)`` drops all the text of a call that meets an undecodable byte
    or a character cut by the end of the file (up to a whole buffer of records); this
    returns the text before it, and raises on the next read.
    """

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.error: UnicodeDecodeError | None = None

    def read(self, size: int) -> str:
        if self.error is not None:
            raise self.error
        while True:
            data = self.raw.read(size)
            try:
                text = self.decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                self.error = exc
                text = exc.object[: exc.start].decode("utf-8")
                if not text:
                    raise
                return text
            if text or not data:  # "" only at the end
                return text


def input_files(cfg: Config) -> list[Path]:
    meta = cfg.source_path("bioscan_metadata")
    images = cfg.source_path("bioscan_images")
    parts = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
    return ([meta] if meta.is_file() else []) + parts


def metadata_records(path: Path, buffer_chars: int = BUFFER_CHARS) -> Iterator[Any]:
    """The records of a BIOSCAN metadata file, streamed (see :func:`iter_json_list`).

    A file that is not a JSON list at all is the wrong file: a :class:`TolError`. One that
    breaks off part-way raises :class:`ListBreak` after its last complete record.
    """
    try:
        with path.open("rb") as raw:
            yield from iter_json_list(_Utf8Reader(raw), buffer_chars)
    except NotAJsonList as exc:
        raise TolError(
            f"{path} is not BIOSCAN metadata: expected a JSON list of records, but {exc}"
        ) from None
    except OSError as exc:  # opening it; a read error part-way is a ListBreak
        raise TolError(f"{path} is not readable BIOSCAN metadata: {exc}") from None


def label_of(record: dict) -> dict[str, str]:
    ranks = dict(FIXED_RANKS)
    for rank in GIVEN_RANKS:
        ranks[rank] = str(record.get(rank) or "").strip()
    return ranks


def _part_number(value: Any) -> int | None:
    """The images part a record's ``chunk_number`` names (``part<N>``), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else None


def scan(cfg: Config) -> Iterator[ImageRecord | ScanReject]:
    meta = cfg.source_path("bioscan_metadata")
    if not meta.is_file():
        return
    root = Path(cfg.sources_root)
    images = cfg.source_path("bioscan_images")
    meta_item = relative(meta, root)
    listed: set[str] = set()
    confined = Confinement(images)
    # BIOSCAN-1M is published under one license; each record names who holds the rights
    dataset_license = Rights(cfg.rights.bioscan_license, origin="[rights] bioscan_license")
    try:
        for index, record in enumerate(metadata_records(meta)):
            name = _record_name(meta_item, index, record)
            yield _item(record, name, root, images, listed, confined, dataset_license)
    except ListBreak as exc:
        # the records before the break are in; images after it are rejected below
        yield ScanReject(meta_item, exc.reason, exc.detail)
    # images on disk that the metadata does not know cannot be labelled
    for part_dir in input_files(cfg)[1:]:
        for p in sorted(part_dir.iterdir()):
            rel = relative(p, root)
            if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES) and rel not in listed:
                yield name_not_utf8(rel) or ScanReject(
                    rel, "label_missing", "not in the BIOSCAN metadata"
                )


def _record_name(meta_item: str, index: int, record: Any) -> str:
    """How a reject names a record: by its processid, else by its place in the list."""
    processid = record.get("processid") if isinstance(record, dict) else None
    return f"{meta_item}#{processid}" if processid else f"{meta_item}#[{index}]"


def _item(
    record: Any,
    name: str,
    root: Path,
    images: Path,
    listed: set[str],
    confined: Confinement,
    dataset_license: Rights,
) -> ImageRecord | ScanReject:
    """One metadata record as an image, or why it is not one; adds its image to ``listed``."""
    if not isinstance(record, dict):
        return ScanReject(name, "label_missing", "the record is not a JSON object")
    image_file = str(record.get("image_file") or "").strip()
    part = _part_number(record.get("chunk_number"))
    if not image_file or part is None:
        return ScanReject(
            name,
            "label_missing",
            "record has no image_file or no chunk_number that is a part number",
        )
    path = images / f"part{record['chunk_number']}" / image_file
    member = relative(path, root)
    if member in listed:
        return ScanReject(member, "duplicate_locator", "listed twice in the metadata")
    listed.add(member)
    if not confined.contains(path):
        return ScanReject(member, "path_outside_source", f"image_file of {name}")
    try:
        st = (root / member).stat()
        size = st.st_size
    except OSError:
        return ScanReject(member, "image_missing")
    if size == 0:
        return ScanReject(member, "empty_file")
    ranks = label_of(record)
    key = identity_key(NAME, image_file)
    return ImageRecord(
        treeoflife_id=treeoflife_id(key),
        identity_key=key,
        source=NAME,
        container=None,
        member=member,
        label_key=f"{NAME}:" + "|".join(ranks[r] for r in GIVEN_RANKS),
        label={"ranks": ranks, "name": ranks["species"]},
        size_bytes=size,
        mtime_ns=st.st_mtime_ns,
        columns={"bioscan_part": part, "bioscan_filename": image_file},
        rights=replace(dataset_license, rights_holder=_holder(record)),
    )


def _holder(record: dict) -> str:
    """The rights holder a record names (``copyright_holder``, else its institution)."""
    for key in ("copyright_holder", "copyright_institution"):
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
