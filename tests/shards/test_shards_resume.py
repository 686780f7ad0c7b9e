"""A `tol scan` or `tol shard` killed with SIGKILL at any point resumes to the same bytes as an
uninterrupted build, with no sample missing or repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from shard_helpers import fill_taxa, has_resolve, shard_files, tol


def tol_subprocess(
    out: Path, workers: int, fault: str | None, command: tuple[str, ...] = ("shard",)
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("TOL_FAULT", None)
    if fault:
        env["TOL_FAULT"] = fault
    cmd = [
        sys.executable,
        "-m",
        "treeoflife",
        *command,
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--no-progress",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def scan_command(sources: Path) -> tuple[str, ...]:
    return ("scan", "--sources", str(sources), "--config", str(sources / "tol.toml"))


def prepared(sources: Path, out: Path, scan_faults: list[str] = (), workers: int = 1) -> Path:
    """Scan (killed at each of ``scan_faults`` first, then resumed), split, taxa."""
    for fault in scan_faults:
        res = tol_subprocess(out, workers, fault, scan_command(sources))
        assert res.returncode == -signal.SIGKILL, res.stderr
    res = tol_subprocess(out, workers, None, scan_command(sources))
    assert res.returncode == 0, res.stderr
    common = ["--out", str(out)]
    if has_resolve():
        assert tol("resolve", *common) == 0
    assert tol("split", *common) == 0
    assert tol("select", *common) == 0
    fill_taxa(out)
    return out


@pytest.mark.parametrize(
    "faults,workers",
    [
        (["unit:1"], 1),  # during the scan's image pass
        (["published:2"], 1),  # a shard renamed into place but not yet recorded
        (["shard:3"], 2),  # after some shards are recorded
        (["unit:1", "unit:2", "shard:1", "published:4"], 2),  # killed four times in a row
    ],
)
def test_killed_build_resumes_to_identical_bytes(
    shard_sources: Path, built: Path, tmp_path: Path, faults, workers
) -> None:
    scan_faults = [f for f in faults if f.startswith("unit:")]
    out = prepared(shard_sources, tmp_path / "out", scan_faults, workers)
    for fault in (f for f in faults if f not in scan_faults):
        res = tol_subprocess(out, workers, fault)
        assert res.returncode == -signal.SIGKILL, res.stderr
    res = tol_subprocess(out, workers, None)
    assert res.returncode == 0, res.stderr
    assert not list(out.rglob("*.tmp"))
    expected = {k: v for k, v in shard_files(built).items()}
    assert shard_files(out) == expected
    assert tol("verify", "--out", str(out), "--workers", "1") == 0  # no key missing or repeated
