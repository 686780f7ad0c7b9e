"""The shards load, every member intact, in the libraries trainers use."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from shard_helpers import shard_files

from treeoflife.shards.records import member_suffixes

SPLITS = ("train", "val", "train_small")


def shard_list(out: Path, split: str) -> list[str]:
    return [str(p) for p in sorted((out / "64x48" / split).glob("shard-*.tar"))]


def expected_samples(out: Path, split: str) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for path in shard_list(out, split):
        with tarfile.open(path) as tar:
            for m in tar:
                key, suffix = m.name.split(".", 1)
                samples.setdefault(key, {})[suffix] = tar.extractfile(m).read()
    return samples


def test_webdataset_pipeline_decodes_every_member(built: Path) -> None:
    wds = pytest.importorskip("webdataset")
    for split in SPLITS:
        expected = expected_samples(built, split)
        ds = wds.WebDataset(shard_list(built, split), shardshuffle=False, empty_check=False).decode(
            "pil"
        )
        seen = {}
        for sample in ds:
            key = sample["__key__"]
            assert sample["jpg"].size == (64, 48)
            # webdataset lower-cases extensions by default (taxonTag.txt -> taxontag.txt)
            assert set(sample) - {"__key__", "__url__", "__local_path__"} == {
                s.lower() for s in member_suffixes()
            }
            for suffix, raw in expected[key].items():
                suffix = suffix.lower()
                if suffix.endswith("txt"):
                    assert sample[suffix] == raw.decode()
                elif suffix == "json":
                    assert sample[suffix] == json.loads(raw)
            seen[key] = True
        assert seen.keys() == expected.keys()


def test_open_clip_style_loader(built: Path) -> None:
    """open_clip's training loader (open_clip/training/data.py, get_wds_dataset) needs GPU
    torchvision builds, so its pipeline is mirrored here with webdataset: a brace-expanded
    shard list, the sample count from ``sizes.json`` next to the shards, and
    ``to_tuple("jpg;png;jpeg;webp", "txt")`` after ``decode("pilrgb")``."""
    wds = pytest.importorskip("webdataset")
    import braceexpand

    folder = built / "64x48" / "train"
    n = len(shard_list(built, "train"))
    pattern = str(folder / f"shard-{{000000..{n - 1:06d}}}.tar")
    urls = list(braceexpand.braceexpand(pattern))
    sizes = json.loads((folder / "sizes.json").read_text())
    total = sum(int(sizes[Path(u).name]) for u in urls)
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_worker,
        wds.tarfile_to_samples(),
        wds.decode("pilrgb"),
        wds.rename(image="jpg;png;jpeg;webp", text="txt"),
        wds.to_tuple("image", "text"),
    )
    pairs = list(pipeline)
    assert len(pairs) == total > 0
    for image, text in pairs:
        assert image.mode == "RGB" and image.size == (64, 48)
        assert text.startswith("a photo of kingdom ") and " with common name " in text


def test_huggingface_datasets_loads_each_split(built: Path) -> None:
    datasets = pytest.importorskip("datasets")
    files = {split: shard_list(built, split) for split in SPLITS}
    dd = datasets.load_dataset(
        "webdataset", data_files=files, cache_dir=str(built.parent / "hf-cache")
    )
    for split in SPLITS:
        expected = expected_samples(built, split)
        ds = dd[split]
        assert len(ds) == len(expected)
        for row in ds:
            raw = expected[row["__key__"]]
            assert row["jpg"].size == (64, 48)
            assert row["txt"] == raw["txt"].decode()
            assert row["taxonTag_com.txt"] == raw["taxonTag_com.txt"].decode()
            assert row["json"]["treeoflife_id"] == row["__key__"]
    assert shard_files(built)  # the build is untouched by loading
