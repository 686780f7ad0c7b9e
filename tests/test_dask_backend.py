"""The Dask backend for real: a build on a local `distributed` cluster, and a scheduler that
is not there."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from distributed import Client, LocalCluster

from fetch.conftest import Server
from shards.shard_helpers import shard_files, tol
from treeoflife.config import DistributeConfig
from treeoflife.distribute import SCHEDULER_ENV
from treeoflife.fetch.images import ImagePolicy, fetch_images
from treeoflife.fetch.images.cluster import ShardTask, fetch_shard
from treeoflife.fetch.images.state import Layout
from treeoflife.fetch.images.urls import read_jobs
from treeoflife.sample.photos import photo_jpeg

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


def url_list(server, tmp_path: Path, n: int) -> Path:
    """A generic URL list of ``n`` images on the loopback server, each answered after a
    short stall so that requests overlap."""
    urls = tmp_path / "urls.csv"
    lines = ["url,scientific_name"]
    for i in range(n):
        url = server.add(
            f"/img/{i}.jpg", photo_jpeg(i, 40, 30), content_type="image/jpeg", stall=0.05, stalls=-1
        )
        lines.append(f"{url},Species number{i}")
    urls.write_text("\n".join(lines) + "\n")
    return urls


def fetched(sources: Path) -> dict[str, bytes]:
    return {
        p.relative_to(sources).as_posix(): p.read_bytes()
        for p in sorted((sources / "generic").rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


POLICY = ImagePolicy(concurrency=4, per_host=2, timeout=5.0, tries=1)


def test_fetch_images_on_a_dask_cluster_holds_the_per_host_limit_and_the_bytes(
    tmp_path: Path,
) -> None:
    server = Server()
    try:
        urls = url_list(server, tmp_path, 24)
        quiet = {"progress": False, "log": lambda _: None, "fmt": "generic", "policy": POLICY}
        inline = fetch_images(urls, tmp_path / "inline", **quiet)
        assert inline["fetched"] == 24
        server.max_active = 0
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            settings = DistributeConfig(scheduler=cluster.scheduler_address)
            on_dask = fetch_images(
                urls, tmp_path / "dask", workers=2, distribute=settings, shard_size=5, **quiet
            )
            ran = set(cluster.scheduler.task_prefixes)
        assert "fetch_shard" in ran, ran
        # two workers × four threads, yet never more than per_host at once on the host
        assert 0 < server.max_active <= POLICY.per_host
        assert on_dask["fetched"] == 24 and on_dask["failed_total"] == 0
        assert fetched(tmp_path / "dask") == fetched(tmp_path / "inline")
        assert not any((tmp_path / "dask/generic/.images.fetch-shards").iterdir())
    finally:
        server.close()


def test_a_shard_journal_left_by_a_killed_run_is_taken_on_resume(tmp_path: Path) -> None:
    """A worker fetched and journaled its shard, then the driver died before recording it:
    the next run records those images from the journal and does not fetch them again."""
    server = Server()
    try:
        urls = url_list(server, tmp_path, 8)
        sources = tmp_path / "sources"
        layout = Layout("generic", sources / "generic")
        _, jobs = read_jobs(urls, "generic")
        rows = tuple((j.idx, j.url, j.name) for j in jobs)[:5]
        journal = layout.journals / "shard-000000000000.jsonl"
        fetch_shard(ShardTask(0, rows, layout, POLICY, str(journal), cluster_gate=False))
        assert journal.is_file() and len(server.hits()) == 5
        summary = fetch_images(
            urls, sources, fmt="generic", policy=POLICY, progress=False, log=lambda _: None
        )
        assert (summary["fetched"], summary["done_total"]) == (3, 8)
        assert all(n == 1 for n in server.hit_counts().values()) and len(server.hits()) == 8
        assert not journal.exists()
    finally:
        server.close()
