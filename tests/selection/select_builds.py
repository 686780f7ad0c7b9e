"""Builds of the bundled sample for the selection and diff tests (one per module at most)."""

from __future__ import annotations

import shutil
from pathlib import Path

from treeoflife.cli import main

SMALL = "[images]\nwidth = 64\nheight = 64\n\n[shards]\nmax_samples = 40\n"


def build(sources: Path, out: Path, extra: str = "", *, workers: int = 1, size: int = 64) -> Path:
    """``tol build`` of ``sources`` into ``out`` with small images and ``extra`` config."""
    config = out.parent / f"{out.name}.toml"
    config.write_text(SMALL.replace("64", str(size)) + extra)
    argv = ["build", "--sources", str(sources), "--out", str(out), "--config", str(config)]
    assert main([*argv, "--workers", str(workers), "--no-progress"]) == 0
    return out


def copy_sources(sample_dir: Path, dest: Path) -> Path:
    shutil.copytree(sample_dir, dest)
    return dest
