"""Phase A chains: consecutive units of one archive encoded in one streaming pass give
exactly the work files and outcomes of encoding each unit alone."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from treeoflife.images import ImageSpec
from treeoflife.shards.encode import UnitTask, encode_chain, encode_unit
from treeoflife.stages.write import _chains

SPEC = ImageSpec(32, 32)


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _archive(root: Path, n: int) -> list[str]:
    names = [f"img_{i:03d}.jpg" for i in range(n)]
    (root / "set").mkdir(parents=True)
    with tarfile.open(root / "set" / "a.tar.gz", "w:gz") as tar:
        for i, name in enumerate(names):
            data = b"not an image" if i == 4 else _jpeg(i)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return names


def _units(root: Path, work: Path, names: list[str], size: int, container="set/a.tar.gz"):
    members = [(f"id{i}", m) for i, m in enumerate(names)] + [("idx", "absent.jpg")]
    return [
        UnitTask(
            f"u{k}",
            str(root),
            container,
            tuple(members[k : k + size]),
            SPEC,
            str(work / f"u{k}.jpgs"),
        )
        for k in range(0, len(members), size)
    ]


def test_chain_equals_units_alone(tmp_path: Path) -> None:
    names = _archive(tmp_path / "src", 11)
    alone = [encode_unit(t) for t in _units(tmp_path / "src", tmp_path / "w1", names, 4)]
    alone_bytes = [Path(r.work).read_bytes() for r in alone]
    chained = encode_chain(tuple(_units(tmp_path / "src", tmp_path / "w2", names, 4)))
    assert [r.unit for r in chained] == [r.unit for r in alone]
    assert [r.outcomes for r in chained] == [r.outcomes for r in alone]
    assert [Path(r.work).read_bytes() for r in chained] == alone_bytes
    rejects = {o.treeoflife_id: o.reject[0] for r in chained for o in r.outcomes if o.reject}
    assert rejects == {"id4": "image_corrupt", "idx": "image_missing"}
    assert not [p for p in (tmp_path / "w2").iterdir() if not p.name.endswith(".jpgs")]


def test_unreadable_archive_rejects_every_member(tmp_path: Path) -> None:
    tasks = _units(tmp_path, tmp_path / "w", ["a.jpg", "b.jpg", "c.jpg"], 2, "missing.tar.gz")
    res = encode_chain(tuple(tasks))
    assert [o.reject[0] for r in res for o in r.outcomes] == ["archive_unreadable"] * 4


def test_chains_cover_units_in_order_and_split_only_for_more_workers(tmp_path: Path) -> None:
    names = [f"m{i:03d}" for i in range(40)]
    tasks = _units(tmp_path, tmp_path, names, 4)  # 11 units of one archive
    assert _chains(tasks, 1) == [tuple(tasks)]
    for workers in (2, 3, 8):
        chains = _chains(tasks, workers)
        assert len(chains) == min(len(tasks), 2 * workers)
        assert sorted((u for c in chains for u in c), key=tasks.index) == tasks
        assert all(list(c) == tasks[tasks.index(c[0]) : tasks.index(c[0]) + len(c)] for c in chains)
