"""The Dask backend for real: a build on a local `distributed` cluster, and a scheduler that
is not there."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from distributed import Client, LocalCluster

from shards.shard_helpers import shard_files, tol
from treeoflife.distribute import SCHEDULER_ENV

CONFIG = "[images]\nwidth = 64\nheight = 64\n\n[shards]\nmax_samples = 40\n"


def build_sample(sample_dir: Path, out: Path, *, workers: int, distribute: str = "") -> None:
    config = out.with_suffix(".toml")
    config.write_text(CONFIG + distribute)
    args = ["--sources", str(sample_dir), "--config", str(config), "--workers", str(workers)]
    assert tol("build", "--out", str(out), *args) == 0


def closed_port() -> int:
    """A local port nothing listens on (the OS just handed it out and it was given back)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_on_a_dask_cluster_is_byte_identical_to_an_inline_build(
    sample_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    inline = tmp_path / "inline"
    build_sample(sample_dir, inline, workers=1)
    monkeypatch.chdir(tmp_path)
    on_dask = Path("dask")  # relative: tasks must still carry paths a worker elsewhere can open
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # like a remote machine: the same absolute paths, not the driver's working directory
        elsewhere = tmp_path / "worker-cwd"
        elsewhere.mkdir()
        with Client(cluster) as client:
            client.run(os.chdir, str(elsewhere))
        distribute = f'\n[distribute]\nscheduler = "{cluster.scheduler_address}"\n'
        build_sample(sample_dir, on_dask, workers=2, distribute=distribute)
        ran_on_cluster = set(cluster.scheduler.task_prefixes)
    assert ran_on_cluster, "no task reached the Dask scheduler"
    a, b = shard_files(inline), shard_files(on_dask)
    assert a.keys() == b.keys() and len(a) > 4
    assert all(a[k] == b[k] for k in a)
    for name in ("catalog.csv", "catalog.parquet"):
        assert (inline / name).read_bytes() == (on_dask / name).read_bytes()


def test_unreachable_scheduler_is_one_clear_sentence(
    sample_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    monkeypatch.setenv(SCHEDULER_ENV, address)
    config = tmp_path / "tol.toml"
    config.write_text(CONFIG + "\n[distribute]\nconnect_timeout = 1\n")
    args = ["--sources", str(sample_dir), "--config", str(config), "--workers", "1"]
    capsys.readouterr()
    assert tol("build", "--out", str(tmp_path / "out"), *args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # found before any stage runs, not after hours of scan and resolve
    assert "scan: running" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tol: error: ") and address in last and SCHEDULER_ENV in last


def test_slurm_settings_without_sbatch_are_one_clear_sentence(
    sample_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    config = tmp_path / "tol.toml"
    config.write_text(CONFIG + '\n[distribute]\nslurm = { cores = 2, memory = "4GB", jobs = 2 }\n')
    args = ["--sources", str(sample_dir), "--config", str(config), "--workers", "1"]
    capsys.readouterr()
    assert tol("build", "--out", str(tmp_path / "out"), *args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "scan: running" not in err
    assert err.strip().splitlines()[-1].startswith("tol: error: distribute.slurm is set but")
