"""``tol fetch-images`` on the Dask backend the build uses: a download spread over machines.

The driver reads the list and keeps the one state file, as on one machine. The pending
rows are cut into shards (``shard_size`` rows, in list order); each shard is one task of
:mod:`treeoflife.distribute`, run on a Dask worker with its own bounded thread pool. A
worker writes the images straight into the output folder (every worker mounts it at the
same path, as for a build) and appends each outcome to its shard's journal
(``.images.fetch-shards/shard-NNNNNN.jsonl``, one state per shard); the driver records a
shard's outcomes when the task returns, then deletes its journal. A driver killed while
shards ran finds their journals on the next run and takes every complete outcome in them
(:func:`treeoflife.fetch.images.state.fold_journals`), so nothing fetched is fetched again.

Per-host limits are global: a worker takes a lease on a ``distributed.Semaphore`` named
after the host (``max_leases = per_host``, held by the scheduler) around every request,
so at most ``per_host`` connections reach one host from the whole cluster, however many
workers and threads there are. The delay between request starts (``--delay``) is kept by
each worker process on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from treeoflife import distribute
from treeoflife.config import DistributeConfig
from treeoflife.fetch.images.download import HostGate, ImagePolicy, Outcome
from treeoflife.fetch.images.state import Layout, journal_line

SEMAPHORE_PREFIX = "tol-fetch-images-host:"


class ClusterHostGate(HostGate):
    """:class:`HostGate` whose per-host limit holds across a Dask cluster: a lease on the
    host's ``distributed.Semaphore`` is taken around each request (and the local gate's
    counters still say what this process saw).

    The semaphores are made up front, in the task's own thread: only there does
    ``distributed`` know the worker (and so the scheduler) they talk to; the download
    threads then use them as they are.
    """

    def __init__(self, per_host: int, delay: float, hosts: set[str]):
        super().__init__(per_host, delay)
        from distributed import Semaphore

        self._leases = {
            h: Semaphore(max_leases=self.per_host, name=SEMAPHORE_PREFIX + h) for h in sorted(hosts)
        }

    @contextlib.contextmanager
    def __call__(self, host: str) -> Iterator[None]:
        with self._leases[host], super().__call__(host):
            yield


@dataclass(frozen=True)
class ShardTask:
    """One shard of pending rows, with everything a worker needs (absolute paths)."""

    shard: int
    rows: tuple[tuple[int, str, str], ...]  # (idx, url, name)
    layout: Layout
    policy: ImagePolicy
    journal: str
    cluster_gate: bool = True  # False only where no Dask worker runs the task (tests)


@dataclass(frozen=True)
class ShardResult:
    shard: int
    outcomes: tuple[Outcome, ...]
    journal: str
    max_per_host: dict[str, int]


def fetch_shard(task: ShardTask) -> ShardResult:
    """Fetch one shard's rows (on a worker): images stored, each outcome journaled."""
    from treeoflife.fetch.images import _work

    if task.cluster_gate:
        hosts = {urlsplit(url).hostname or "" for _, url, _ in task.rows}
        gate: HostGate = ClusterHostGate(task.policy.per_host, task.policy.delay, hosts)
    else:
        gate = HostGate(task.policy.per_host, task.policy.delay)
    journal = Path(task.journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    names = {idx: (url, name) for idx, url, name in task.rows}
    outcomes: list[Outcome] = []
    with (
        journal.open("a", encoding="utf-8") as fh,
        ThreadPoolExecutor(max_workers=max(1, task.policy.concurrency)) as pool,
    ):
        work = [pool.submit(_work, row, task.layout, task.policy, gate) for row in task.rows]
        for future in work:
            out = future.result()
            fh.write(journal_line(*names[out.idx], out))
            fh.flush()
            outcomes.append(out)
    return ShardResult(task.shard, tuple(outcomes), task.journal, dict(gate.max_active))


@dataclass(frozen=True)
class ShardDone:
    """Yielded after a shard's outcomes: the driver commits, then drops the journal."""

    journal: str
    max_per_host: dict[str, int]


def run_sharded(
    pending: Iterator[tuple[int, str, str]],
    layout: Layout,
    policy: ImagePolicy,
    *,
    workers: int,
    settings: DistributeConfig,
    shard_size: int,
) -> Iterator[Outcome | ShardDone]:
    """Every pending row's outcome, shard by shard as the cluster finishes them."""

    def tasks() -> Iterator[ShardTask]:
        batch: list[tuple[int, str, str]] = []
        shard = 0
        for row in pending:
            batch.append(row)
            if len(batch) >= shard_size:
                yield _task(shard, batch)
                shard += 1
                batch = []
        if batch:
            yield _task(shard, batch)

    def _task(shard: int, rows: list[tuple[int, str, str]]) -> ShardTask:
        journal = layout.journals / f"shard-{rows[0][0]:012d}.jsonl"  # named by its first row
        return ShardTask(shard, tuple(rows), _absolute(layout), policy, str(journal.resolve()))

    with distribute.executor(workers=workers, settings=settings) as ex:
        for res in ex.run(fetch_shard, tasks()):
            yield from res.outcomes
            yield ShardDone(res.journal, res.max_per_host)


def _absolute(layout: Layout) -> Layout:
    """The layout with an absolute folder: a worker may run in another directory."""
    return Layout(layout.fmt, Path(layout.folder).resolve(), layout.prefix)
