"""Where shard outputs live: ``OUT/<W>x<H>/<split>/shard-000000.tar`` (+ ``sizes.json``),
the image pass's work files under ``OUT/.work/``, reports under ``OUT/reports/``."""

from __future__ import annotations

from pathlib import Path

SPLITS: tuple[str, ...] = ("train", "val", "train_small")
SHARD_GLOB = "shard-*.tar"
TMP_SUFFIX = ".tmp"


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def size_dir(out: Path, width: int, height: int) -> Path:
    return Path(out) / f"{width}x{height}"


def split_dir(out: Path, width: int, height: int, split: str) -> Path:
    return size_dir(out, width, height) / split


def work_dir(out: Path) -> Path:
    """The image pass's work files: outside ``<W>x<H>/``, where loaders look for splits."""
    return Path(out) / ".work"


def reports_dir(out: Path) -> Path:
    return Path(out) / "reports"
