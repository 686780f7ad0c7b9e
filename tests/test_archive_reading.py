"""Reading source archives: every complete member, in order, with its exact bytes; a cut
anywhere gives back exactly the members before the cut and a truncation reject."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from treeoflife.sources.base import ArchiveError, iter_tar

LONG = "d" * 120 + "/" + "n" * 130 + ".jpg"  # needs a GNU long-name or PAX header


def members() -> dict[str, bytes]:
    rng = random.Random(7)
    names = [f"{1000 + i}_{i}_eol-full-size-copy.jpg" for i in range(5)] + [LONG]
    # incompressible, odd sizes (padding), one empty, one larger than the reader's chunk
    sizes = [3_000, 0, 70_001, 511, 300_000, 1_234]
    return {n: rng.randbytes(s) for n, s in zip(names, sizes, strict=True)}


def tar_bytes(content: dict[str, bytes], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        folder = tarfile.TarInfo("a-folder")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)  # not a file: skipped
        for name, data in content.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_all(path: Path, read: bool = True) -> list[tuple[str, bytes | None]]:
    return [(info.name, data) for info, data in iter_tar(path, read=read)]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("compress", [False, True])
def test_every_member_comes_back_whole_and_in_order(tmp_path: Path, fmt, compress) -> None:
    content = members()
    raw = tar_bytes(content, fmt)
    path = tmp_path / ("a.tar.gz" if compress else "a.tar")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    assert read_all(path) == list(content.items())
    assert [name for name, _ in read_all(path, read=False)] == list(content)


@pytest.mark.parametrize("padding", [0, 300_000])  # some writers pad with zero blocks
def test_concatenated_gzip_members_read_as_one_archive(tmp_path: Path, padding: int) -> None:
    content = members()
    raw = tar_bytes(content, tarfile.GNU_FORMAT)
    cut = 512 * 20
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(raw[:cut]) + gzip.compress(raw[cut:]) + bytes(padding))
    assert read_all(path) == list(content.items())


def data_ends(raw: bytes) -> dict[str, int]:
    """Where each file member's data ends in the uncompressed tar."""
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        return {i.name: i.offset_data + i.size for i in tar.getmembers() if i.isfile()}


@pytest.mark.parametrize("compress", [False, True])
def test_a_cut_anywhere_keeps_exactly_the_complete_members(tmp_path: Path, compress) -> None:
    content = members()
    raw = tar_bytes(content, tarfile.GNU_FORMAT)
    data = gzip.compress(raw) if compress else raw
    path = tmp_path / ("cut.tar.gz" if compress else "cut.tar")
    ends = data_ends(raw)
    rng = random.Random(3)
    cuts = sorted(rng.sample(range(600, len(data) - 1100), 25))
    for cut in cuts:
        path.write_bytes(data[:cut])
        got: list[str] = []
        with pytest.raises(ArchiveError) as err:
            for info, body in iter_tar(path, read=True):
                assert body == content[info.name]
                got.append(info.name)
        assert err.value.reason == "archive_truncated", cut
        assert got == list(content)[: len(got)]
        if not compress:  # where a gzip cut falls in the tar depends on the compressor
            # never a member cut through; always one followed by its whole next header(s)
            assert all(ends[name] <= cut for name in got), cut
            assert all(name in got for name, end in ends.items() if end + 2048 <= cut), cut
        assert len(got) < len(content)


def test_memory_does_not_grow_with_the_number_of_members(tmp_path: Path) -> None:
    """A real image set has ~100K members: reading one must not keep what it has passed."""
    path = tmp_path / "many.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for i in range(30_000):
            info = tarfile.TarInfo(f"{i:09d}_{i % 977}_eol-full-size-copy.jpg")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"jpg"))
    held: dict[int, int] = {}
    tracemalloc.start()
    try:
        for i, _ in enumerate(iter_tar(path)):
            if i in (2_000, 28_000):
                held[i] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # what is held varies by up to one 4 MiB inflate chunk; keeping the 26K TarInfos passed
    # in between would add ~12 MiB
    assert held[28_000] - held[2_000] < 5 * 2**20, held
