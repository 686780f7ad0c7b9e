"""BIOSCAN metadata is streamed: records one at a time, bounded memory, and a damaged file
keeps every complete record before the damage."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from collection import jpeg_bytes
from treeoflife.cli import main
from treeoflife.ids import identity_key
from treeoflife.sources.bioscan import ListBreak, NotAJsonList, iter_json_list, metadata_records

META = "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld"

# values that straddle a buffer boundary differently: escapes, surrogate pairs, non-ASCII,
# numbers that could be read short, literals, nesting, empty containers
AWKWARD = [
    {"image_file": "a.jpg", "chunk_number": 1, "species": 'say "hi" \\ back\nslash'},
    {"genus": "Drosophila é 漢字 \ud83e\udeb2", "tribe": "not_classified", "n": -12345.678e-9},
    123456789012345678901234567890,
    -1.5e300,
    True,
    False,
    None,
    [],
    {},
    {"nested": [{"a": [1, 2, {"b": None}]}, "x" * 40], "inf": float("-inf")},
    "a plain string with \t tab",
]


def record(i: int) -> dict:
    return {
        "processid": f"BIOSCAN{i}-22",
        "image_file": f"img{i:04d}.jpg",
        "chunk_number": i % 3 + 1,
        "order": "Diptera",
        "family": "Cecidomyiidae",
        "species": "not_classified",
    }


def parse(text: str, buffer_chars: int = 1 << 20) -> list:
    return list(iter_json_list(io.StringIO(text), buffer_chars))


def parse_until_break(text: str, buffer_chars: int) -> tuple[list, ListBreak | None]:
    got: list = []
    try:
        for value in iter_json_list(io.StringIO(text), buffer_chars):
            got.append(value)
    except ListBreak as exc:
        return got, exc
    return got, None


class CountingStream(io.StringIO):
    """A text stream that counts what was read from it, and fails the test when something
    reads past ``limit`` characters."""

    def __init__(self, text: str, limit: int | None = None):
        super().__init__(text)
        self.consumed = 0
        self.limit = limit

    def read(self, size: int | None = -1) -> str:
        assert size is not None and size >= 0, "the parser asked for the whole rest of the file"
        out = super().read(size)
        self.consumed += len(out)
        assert self.limit is None or self.consumed <= self.limit, "read far past the record"
        return out


@pytest.mark.parametrize("indent", [None, 2])
def test_a_normal_file_gives_the_same_records_as_json_loads(indent: int | None) -> None:
    text = json.dumps([record(i) for i in range(50)] + AWKWARD, indent=indent)
    assert parse(text) == json.loads(text)


def test_records_split_across_buffer_boundaries_are_whole() -> None:
    compact = json.dumps(AWKWARD, separators=(",", ":"))
    spaced = "\r\n [\t" + json.dumps(AWKWARD, indent="\t")[1:-1] + "\n]\n\n"
    for buffer_chars in [*range(1, 40), 1 << 20]:  # every split of every token
        for text in (compact, spaced, "[]", " [ \n ] "):
            assert parse(text, buffer_chars) == json.loads(text), (buffer_chars, text)


@pytest.mark.parametrize("buffer_chars", [4, 1 << 20])
def test_a_cut_keeps_exactly_the_records_complete_before_it(buffer_chars: int) -> None:
    records = [record(1), {"s": 'x\u00e9\\"y', "n": -1.25e3, "t": True, "u": None}, record(2)]
    text = json.dumps(records)
    ends = [len(json.dumps(records[: i + 1])) - 1 for i in range(len(records))]
    for cut in range(1, len(text)):  # everything but the closing bracket, at every length
        got, broke = parse_until_break(text[:cut], buffer_chars)
        assert got == [r for r, end in zip(records, ends, strict=True) if end <= cut], cut
        assert broke is not None and broke.reason == "metadata_truncated", cut
        assert f"{len(got)} complete records" in broke.detail


def test_a_number_the_text_ends_on_is_not_taken_for_a_whole_one() -> None:
    text = "[1, 22, -3.5e+10, 4444]"
    for cut in range(1, len(text)):
        got, broke = parse_until_break(text[:cut], 3)
        assert got == json.loads(text)[: text[:cut].count(",")], cut
        assert broke is not None and broke.reason == "metadata_truncated", cut


def test_text_that_stops_being_json_keeps_the_records_before_it() -> None:
    text = json.dumps([record(1), record(2)])[:-1] + ', {"image_file": oops}, ' + "{}" * 10
    got, broke = parse_until_break(text, 16)
    assert got == [record(1), record(2)]
    assert broke is not None and broke.reason == "metadata_unreadable"
    assert str(text.index("oops")) in broke.detail


def test_text_after_the_list_is_reported_after_every_record() -> None:
    got, broke = parse_until_break(json.dumps([record(1), record(2)]) + "\n[{}]", 8)
    assert got == [record(1), record(2)]
    assert broke is not None and broke.reason == "metadata_unreadable"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("  \n ", "empty"),
        ('{"image_file": "a.jpg"}', "'{'"),
        ("BIOSCAN metadata", "'B'"),
    ],
)
def test_a_top_level_that_is_not_a_list_is_refused_before_any_record(text: str, says: str) -> None:
    with pytest.raises(NotAJsonList, match=says):
        parse(text, 4)


def test_the_parser_reads_only_a_few_buffers_past_the_record_it_yields() -> None:
    buffer_chars = 256
    records = [record(i) for i in range(2000)]
    text = json.dumps(records)
    stream = CountingStream(text)
    end = 0
    for i, value in enumerate(iter_json_list(stream, buffer_chars)):
        end += len(json.dumps(records[i])) + 2  # the record, then ", " or "]"
        assert value == records[i]
        assert stream.consumed <= end + 2 * buffer_chars, i
    assert stream.consumed == len(text) > 100 * buffer_chars


def test_a_broken_record_does_not_make_the_parser_read_the_rest_of_the_file() -> None:
    head = json.dumps([record(1)])[:-1] + ", {not json}, "
    text = head + json.dumps([record(i) for i in range(5000)])[1:]
    stream = CountingStream(text, limit=len(head) + 64 * 4)
    it = iter_json_list(stream, 64)
    assert next(it) == record(1)
    with pytest.raises(ListBreak) as broke:
        next(it)
    assert broke.value.reason == "metadata_unreadable"


# --- through `tol scan` ---------------------------------------------------------------------


def write_bioscan(root: Path, records: list[dict]) -> Path:
    """A BIOSCAN collection: the metadata list and an image on disk for every record."""
    for i, rec in enumerate(records):
        image = root / f"bioscan/images/part{rec['chunk_number']}/{rec['image_file']}"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(jpeg_bytes(i))
    (root / META).write_text(json.dumps(records, indent=1), encoding="utf-8")
    return root


def scan(src: Path, out: Path) -> int:
    return main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])


def scanned(out: Path) -> tuple[set[str], dict[str, str]]:
    with sqlite3.connect(out / "build.sqlite") as db:
        keys = {r[0] for r in db.execute("SELECT identity_key FROM images")}
        return keys, dict(db.execute("SELECT item, reason FROM rejects"))


def key(i: int) -> str:
    return identity_key("bioscan", f"img{i:04d}.jpg")


def test_scan_of_a_cut_metadata_file_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    src = write_bioscan(tmp_path / "src", [record(i) for i in range(10)])
    meta = src / META
    data = meta.read_bytes()
    meta.write_bytes(data[: data.index(b"img0006.jpg")])  # inside record 6
    assert scan(src, tmp_path / "out") == 0
    keys, rejects = scanned(tmp_path / "out")
    assert keys == {key(i) for i in range(6)}
    assert rejects[META] == "metadata_truncated"
    for i in range(6, 10):  # on disk, but their labels were lost with the cut
        assert rejects[f"bioscan/images/part{i % 3 + 1}/img{i:04d}.jpg"] == "label_missing"


def test_scan_of_a_file_cut_inside_a_utf8_character_keeps_every_record(tmp_path: Path) -> None:
    records = [record(i) for i in range(3)]
    src = write_bioscan(tmp_path / "src", records)
    text = json.dumps(records)[:-1] + ', {"species": "é'
    (src / META).write_bytes(text.encode("utf-8")[:-1])
    assert scan(src, tmp_path / "out") == 0
    keys, rejects = scanned(tmp_path / "out")
    assert keys == {key(i) for i in range(3)} and rejects[META] == "metadata_truncated"


def test_a_byte_that_is_not_utf8_keeps_the_records_before_it(tmp_path: Path) -> None:
    path = tmp_path / "meta.jsonld"
    path.write_bytes(json.dumps([record(1), record(2)])[:-1].encode() + b', {"genus": "\xff"}]')
    got = []
    with pytest.raises(ListBreak) as broke:
        for value in metadata_records(path, buffer_chars=1 << 20):
            got.append(value)
    assert got == [record(1), record(2)] and broke.value.reason == "metadata_unreadable"


def test_scan_rejects_bad_records_and_goes_on(tmp_path: Path) -> None:
    good = [record(i) for i in range(3)]
    src = write_bioscan(tmp_path / "src", good)
    no_part = dict(record(7), chunk_number="seven")
    no_image = {k: v for k, v in record(8).items() if k not in ("image_file", "processid")}
    (src / META).write_text(json.dumps([good[0], "not a record", no_part, no_image, *good[1:]]))
    assert scan(src, tmp_path / "out") == 0
    keys, rejects = scanned(tmp_path / "out")
    assert keys == {key(i) for i in range(3)}
    assert rejects == {
        f"{META}#[1]": "label_missing",
        f"{META}#BIOSCAN7-22": "label_missing",
        f"{META}#[3]": "label_missing",
    }


@pytest.mark.parametrize("content", [b"", b'{"image_file": "a.jpg"}', b"\xff\xfe[]"])
def test_scan_of_metadata_that_is_not_a_list_is_one_clear_sentence(
    tmp_path: Path, capsys, content: bytes
) -> None:
    src = write_bioscan(tmp_path / "src", [record(1)])
    (src / META).write_bytes(content)
    capsys.readouterr()
    assert scan(src, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tol: error: ") and "BIOSCAN_Insect_Dataset_metadata" in err[-1]
    assert "Traceback" not in "\n".join(err)


def units_of(out: Path) -> list[tuple[int, int]]:
    """Per unit of the image pass: its images, and the folders they are in."""
    with sqlite3.connect(out / "build.sqlite") as db:
        return db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT rtrim(i.member, replace(i.member, '/', ''))) "
            "FROM encoded e JOIN images i USING (treeoflife_id) GROUP BY e.unit ORDER BY 1"
        ).fetchall()


@pytest.mark.parametrize(("batch", "units"), [(256, [10, 10, 10]), (4, [2, 2, 2] + [4] * 6)])
def test_files_the_metadata_lists_part_after_part_are_read_in_units_of_one_part(
    tmp_path: Path, monkeypatch, batch: int, units: list[int]
) -> None:
    # BIOSCAN-1M's list goes from part to part at every record: a unit a file would be a
    # task, a work file and two commits per image
    monkeypatch.setattr("treeoflife.shards.encode.LOOSE_BATCH", batch)
    src = write_bioscan(tmp_path / "src", [record(i) for i in range(30)])
    assert scan(src, tmp_path / "out") == 0
    found = units_of(tmp_path / "out")
    assert [n for n, _ in found] == units
    assert {folders for _, folders in found} == {1}
    with sqlite3.connect(tmp_path / "out/build.sqlite") as db:
        # images are recorded in the order of their encoded rows (plan joins them by rowid)
        same = db.execute(
            "SELECT COUNT(*) FROM images i JOIN encoded e ON e.rowid = i.rowid "
            "WHERE e.treeoflife_id = i.treeoflife_id"
        ).fetchone()[0]
    assert same == 30


def test_more_folders_filling_than_are_held_still_read_every_file_once(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr("treeoflife.stages.scan.OPEN_FOLDERS", 2)
    src = write_bioscan(tmp_path / "src", [record(i) for i in range(30)])
    assert scan(src, tmp_path / "out") == 0
    found = units_of(tmp_path / "out")
    assert sum(n for n, _ in found) == 30 and {f for _, f in found} == {1}
    keys, rejects = scanned(tmp_path / "out")
    assert keys == {key(i) for i in range(30)} and not rejects
