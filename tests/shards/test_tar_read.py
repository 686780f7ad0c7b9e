"""tario reads back exactly what TarWriter wrote, and refuses what it did not write."""

from __future__ import annotations

import io
import tarfile

import pytest

from treeoflife.shards.tario import TarFormatError, TarWriter, read_members

MEMBERS = [
    ("k1.jpg", b"\xff\xd8" + bytes(range(256)) * 3),
    ("k1.txt", b"a photo of Morus bassanus."),
    ("k1.json", b"{}"),
    ("k2." + "x" * 120 + ".txt", b"a name longer than ustar holds: a PAX header"),
    ("k2.empty.txt", b""),
]


def _tar() -> bytes:
    buf = io.BytesIO()
    w = TarWriter(buf)
    for name, data in MEMBERS:
        w.add(name, data)
    w.close()
    return buf.getvalue()


def test_reads_back_every_member_in_order_as_tarfile_does() -> None:
    data = _tar()
    assert list(read_members(io.BytesIO(data))) == MEMBERS
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert [(m.name, tar.extractfile(m).read()) for m in tar] == MEMBERS


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda b: b[:700], "ends"),  # cut inside the first member's data
        (lambda b: b[: 1024 + 512 + 300], "ends"),  # cut inside a later header
        (lambda b: b[:10] + b"Z" + b[11:], "checksum"),  # a flipped byte in a name
        (lambda b: b[:156] + b"2" + b[157:], "checksum"),  # a symlink type, checksum stale
    ],
)
def test_refuses_damaged_archives(damage, message: str) -> None:
    with pytest.raises(TarFormatError, match=message):
        list(read_members(io.BytesIO(damage(_tar()))))


def test_refuses_members_it_does_not_write() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "k1.jpg"
        tar.addfile(info)
    with pytest.raises(TarFormatError, match="not a regular file"):
        list(read_members(io.BytesIO(buf.getvalue())))
