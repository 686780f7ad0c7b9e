"""The one place that maps worker tasks to an executor: inline, a local process pool, or Dask.

Tasks are pure (module-level functions of picklable dataclasses), results come back in
completion order, and only the driver records them, so the output does not depend on
the executor or the number of workers.

- ``workers == 1``: run inline in the driver process (no pickling, no process start).
- ``workers > 1``: a ``concurrent.futures`` process pool with the ``spawn`` start method
  (safe with the driver's open SQLite connection and threads).
- Dask: set ``[distribute] scheduler = "tcp://host:8786"`` in ``tol.toml`` (or the
  environment variable ``TOL_DASK_SCHEDULER``) to use a running ``distributed`` cluster,
  or ``[distribute] slurm = {cores = 8, memory = "16GB", jobs = 4, ...}`` to start one on
  Slurm with ``dask-jobqueue`` (keyword arguments of ``SLURMCluster``). Dask is imported
  only then (``pip install treeoflife[cluster]``). Workers must see the same paths.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from treeoflife.errors import TolError

T = TypeVar("T")
R = TypeVar("R")


def backend(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The executor settings from the ``[distribute]`` config section and the environment."""
    out = dict(settings or {})
    env = os.environ.get("TOL_DASK_SCHEDULER")
    if env:
        out["scheduler"] = env
    return out


def run_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int = 1,
    settings: Mapping[str, Any] | None = None,
) -> Iterator[R]:
    """Run ``fn`` over ``tasks``, yielding results as they complete.

    At most a few tasks per worker are in flight, so a lazy task iterator is never
    materialised (tasks can be large: a shard's samples).
    """
    with executor(workers=workers, settings=settings) as ex:
        yield from ex.run(fn, tasks)


class Executor:
    """Runs task batches on one backend; a process pool is started once, on first use, and
    kept for every later :meth:`run` (process start and imports cost ~0.5 s a worker)."""

    def __init__(self, workers: int, settings: Mapping[str, Any] | None):
        self.workers = workers
        self.cfg = backend(settings)
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        if self.cfg.get("scheduler") or self.cfg.get("slurm"):
            yield from _run_dask(fn, tasks, self.workers, self.cfg)
        elif self.workers <= 1:
            for task in tasks:
                yield fn(task)
        else:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            yield from _bounded(self._pool.submit, fn, tasks, 2 * self.workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextlib.contextmanager
def executor(*, workers: int = 1, settings: Mapping[str, Any] | None = None) -> Iterator[Executor]:
    """An :class:`Executor` for several :meth:`Executor.run` calls sharing one pool."""
    ex = Executor(workers, settings)
    try:
        yield ex
    finally:
        ex.close()


def _watch_parent(parent: int) -> None:
    """In a pool worker: exit as soon as the driver is gone (e.g. SIGKILLed), instead of
    lingering as an orphan holding the driver's pipes; its temporaries are removed on resume."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _bounded(submit: Callable[..., Future], fn: Callable, tasks: Iterable, limit: int) -> Iterator:
    pending: set = set()
    it = iter(tasks)
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            try:
                pending.add(submit(fn, next(it)))
            except StopIteration:
                exhausted = True
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            yield f.result()


def _run_dask(fn: Callable, tasks: Iterable, workers: int, cfg: Mapping[str, Any]) -> Iterator:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise TolError(
            "the Dask backend needs `pip install treeoflife[cluster]` (distributed, dask-jobqueue)"
        ) from None
    cluster = None
    if cfg.get("slurm"):
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise TolError(
                "Slurm needs `pip install treeoflife[cluster]` (dask-jobqueue)"
            ) from None
        opts = dict(cfg["slurm"])
        jobs = int(opts.pop("jobs", 1))
        cluster = SLURMCluster(**opts)
        cluster.scale(jobs=jobs)
        client = Client(cluster)
    else:
        client = Client(cfg["scheduler"])
    try:
        limit = max(2 * workers, 2 * sum(client.nthreads().values()) or 2)
        it = iter(tasks)
        ac = as_completed()
        inflight = 0
        for task in it:
            ac.add(client.submit(fn, task, pure=False))
            inflight += 1
            if inflight >= limit:
                break
        for future in ac:
            inflight -= 1
            yield future.result()
            future.release()
            for task in it:
                ac.add(client.submit(fn, task, pure=False))
                inflight += 1
                break
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
