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
  only then (``pip install treeoflife[cluster]``). Workers must see the same absolute paths.
  One client (and Slurm cluster) serves every run of an :class:`Executor`; a scheduler that
  does not answer within ``[distribute] connect_timeout`` seconds (default 10) is a
  :class:`TolError`, not a hang. The settings are :class:`treeoflife.config.DistributeConfig`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from treeoflife.config import DistributeConfig
from treeoflife.errors import TolError

T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_ENV = "TOL_DASK_SCHEDULER"


def backend(settings: DistributeConfig | None) -> DistributeConfig:
    """The executor settings: the ``[distribute]`` config section, and the environment."""
    cfg = settings or DistributeConfig()
    env = os.environ.get(SCHEDULER_ENV)
    return dataclasses.replace(cfg, scheduler=env) if env else cfg


def uses_dask(cfg: DistributeConfig) -> bool:
    return bool(cfg.scheduler or cfg.slurm)


def check_reachable(settings: DistributeConfig | None) -> None:
    """Raise the :class:`TolError` of an unreachable or malformed Dask scheduler address now,
    before the stages that need no workers have run (they can take hours)."""
    cfg = backend(settings)
    if cfg.slurm:
        _check_slurm()
    elif cfg.scheduler:
        _DaskSession.start(cfg).close()


def run_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int = 1,
    settings: DistributeConfig | None = None,
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

    def __init__(self, workers: int, settings: DistributeConfig | None):
        self.workers = workers
        self.cfg = backend(settings)
        self._pool: ProcessPoolExecutor | None = None
        self._dask: _DaskSession | None = None

    def run(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        if uses_dask(self.cfg):
            if self._dask is None:
                self._dask = _DaskSession.start(self.cfg)
            yield from self._dask.run(fn, tasks, self.workers)
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
        if self._dask is not None:
            self._dask.close()
            self._dask = None


@contextlib.contextmanager
def executor(*, workers: int = 1, settings: DistributeConfig | None = None) -> Iterator[Executor]:
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


class _DaskSession:
    """A Dask client, and the Slurm cluster it runs on when this session started one."""

    def __init__(self, client: Any, cluster: Any = None):
        self.client = client
        self.cluster = cluster

    @classmethod
    def start(cls, cfg: DistributeConfig) -> _DaskSession:
        try:
            from distributed import Client
        except ImportError:
            raise TolError(
                "the Dask backend needs `pip install treeoflife[cluster]` (distributed, dask-jobqueue)"
            ) from None
        if cfg.slurm:
            cluster = _slurm_cluster(cfg.slurm)
            return cls(Client(cluster), cluster)
        return cls(_connect(cfg.scheduler, cfg.connect_timeout))

    def run(self, fn: Callable, tasks: Iterable, workers: int) -> Iterator:
        """Like :func:`_bounded`: a few tasks per worker thread in flight, results as they
        complete; tasks still queued when the caller stops (or a task fails) are cancelled."""
        from distributed import as_completed

        limit = max(2 * workers, 2 * sum(self.client.nthreads().values()))
        it = iter(tasks)
        pending = {self.client.submit(fn, t, pure=False) for t in itertools.islice(it, limit)}
        running = as_completed(pending)
        try:
            for future in running:
                result = future.result()
                pending.discard(future)
                future.release()
                for task in itertools.islice(it, 1):
                    successor = self.client.submit(fn, task, pure=False)
                    pending.add(successor)
                    running.add(successor)
                yield result
        finally:
            if pending:
                self.client.cancel(list(pending))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _check_slurm() -> None:
    """Without ``sbatch`` the jobs are never submitted and the tasks wait for workers forever."""
    if shutil.which("sbatch") is None:
        raise TolError(
            "distribute.slurm is set but `sbatch` is not on PATH: run the build on a Slurm "
            "login node, or remove [distribute] slurm to run on this machine"
        )


def _slurm_cluster(settings: Mapping[str, Any]) -> Any:
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise TolError("Slurm needs `pip install treeoflife[cluster]` (dask-jobqueue)") from None
    _check_slurm()
    opts = dict(settings)
    jobs = int(opts.pop("jobs", 1))
    cluster = SLURMCluster(**opts)
    cluster.scale(jobs=jobs)
    return cluster


def _connect(address: str, timeout: float) -> Any:
    """A client of the scheduler at ``address``, or a :class:`TolError` that says where the
    address came from (a stale ``TOL_DASK_SCHEDULER`` is easy to forget)."""
    from distributed import Client

    origin = SCHEDULER_ENV if os.environ.get(SCHEDULER_ENV) else "distribute.scheduler"
    try:
        return Client(address, timeout=timeout)
    except ValueError as exc:
        raise TolError(f"{origin} {address!r} is not a Dask scheduler address: {exc}") from None
    except OSError:  # includes TimeoutError
        raise TolError(
            f"cannot reach the Dask scheduler at {address} (from {origin}) within {timeout:g} s; "
            "start it, or correct or remove the address"
        ) from None
