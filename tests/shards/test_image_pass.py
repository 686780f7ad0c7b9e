"""The image pass's worker: one read of a unit gives, per image, the source digest and
size, the source dimensions and the small JPEG — the same whatever the striping."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from treeoflife.images import ImageSpec
from treeoflife.shards.encode import STRIPE_BLOCK, UnitTask, encode_unit

SPEC = ImageSpec(32, 32)


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _archive(root: Path, n: int) -> dict[str, bytes]:
    members = {f"img_{i:03d}.jpg": b"not an image" if i == 4 else _jpeg(i) for i in range(n)}
    (root / "set").mkdir(parents=True)
    with tarfile.open(root / "set" / "a.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return members


def _task(root: Path, work: Path, stripe: int = 0, stripes: int = 1, **kw) -> UnitTask:
    fields = {"container": "set/a.tar.gz", "members": None} | kw
    return UnitTask(
        0,
        f"u{stripe}",
        str(root),
        fields["container"],
        fields["members"],
        stripe,
        stripes,
        SPEC,
        str(work / f"u{stripe}-{stripes}.jpgs"),
    )


def _jpegs(res) -> dict[str, bytes]:
    data = Path(res.work).read_bytes()
    return {o.member: data[o.offset : o.offset + o.size] for o in res.outcomes if o.size}


def test_an_archive_read_once_gives_digests_sizes_and_small_jpegs(tmp_path: Path) -> None:
    members = _archive(tmp_path / "src", 9)
    res = encode_unit(_task(tmp_path / "src", tmp_path / "w"))
    assert [o.member for o in res.outcomes] == list(members)
    for o in res.outcomes:
        assert o.source_bytes == len(members[o.member])
        assert o.source_sha256 == hashlib.sha256(members[o.member]).hexdigest()
    bad = [o for o in res.outcomes if o.reject]
    assert [(o.member, o.reject[0]) for o in bad] == [("img_004.jpg", "image_corrupt")]
    good = next(o for o in res.outcomes if o.member == "img_000.jpg")
    assert good.source_size == (40, 24)
    jpegs = _jpegs(res)
    assert hashlib.sha256(jpegs["img_000.jpg"]).hexdigest() == good.sha256
    assert Image.open(io.BytesIO(jpegs["img_000.jpg"])).size == (32, 32)
    assert res.broken is None
    assert not [p for p in (tmp_path / "w").iterdir() if not p.name.endswith(".jpgs")]


def test_stripes_cover_every_member_once_with_the_same_bytes(tmp_path: Path) -> None:
    _archive(tmp_path / "src", 3 * STRIPE_BLOCK + 5)
    whole = encode_unit(_task(tmp_path / "src", tmp_path / "w"))
    parts = [encode_unit(_task(tmp_path / "src", tmp_path / "w", k, 3)) for k in range(3)]
    members = [o.member for r in parts for o in r.outcomes]
    assert sorted(members) == sorted(o.member for o in whole.outcomes)
    assert len(set(members)) == len(members)
    striped = {}
    for r in parts:
        striped |= _jpegs(r)
    assert striped == _jpegs(whole)


def test_loose_files_and_broken_archives(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.jpg").write_bytes(_jpeg(1))
    (tmp_path / "f" / "e.jpg").write_bytes(b"")
    loose = _task(
        tmp_path,
        tmp_path / "w",
        container=None,
        members=(("id-a", "f/a.jpg"), ("id-e", "f/e.jpg"), ("id-x", "f/gone.jpg")),
    )
    res = encode_unit(loose)
    assert [(o.treeoflife_id, o.reject and o.reject[0]) for o in res.outcomes] == [
        ("id-a", None),
        ("id-e", "empty_file"),
        ("id-x", "image_missing"),
    ]
    broken = encode_unit(_task(tmp_path, tmp_path / "w", container="missing.tar.gz"))
    assert broken.outcomes == () and broken.broken[0] == "archive_unreadable"
