"""Where per-file work runs: this machine's worker pool, or a Dask cluster, with one contract.

A pass over a dataset (the integrity scan today; repair and fingerprints
next) is a top-level function `func(root, video, arg) -> result` mapped over
files. Whoever runs it promises the same three things, wherever the files
are checked:

- each call runs in an isolated process that is killed at its hard time limit
  (`core.workers.TimeoutPolicy`); a call that hangs, crashes its process or
  raises comes back as `core.workers.failure_result` (verdict `corrupt`,
  reason `timeout` or `crash`), never as a lost file or a dead scan;
- exactly one result per file, yielded as soon as it is known (completion
  order), so the caller can commit in batches and resume after a kill;
- only paths and small records travel between processes and machines.

`open_runner` picks the place: the local `core.workers.WorkerPool` by
default, `core.cluster.ClusterRunner` for `--cluster` (imported only then, so
a plain scan never loads Dask), or a caller's `concurrent.futures.Executor`.
A runner that has something to show about where the work runs (the cluster's
address, workers, throughput, dashboard) says so through `info()`; the
caller turns that into `cluster` events.

`func` is named as `'module:function'` (or is a top-level function) so the
worker processes, on this machine or another, can import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.dataset import VideoFile
from core.errors import NexaraError
from core.records import FileResult
from core.workers import CheckerSpec, TimeoutPolicy, WorkerPool, run_on_executor

if TYPE_CHECKING:
    from core.events import ClusterInfo


class Runner(Protocol):
    """Maps one per-file function over files; see the module docstring for the guarantees."""

    def map(self, root: Path, videos: Sequence[VideoFile], arg: Any) -> Iterator[FileResult]: ...

    def info(self) -> ClusterInfo | None:
        """What to show about where the work runs (a `cluster` event's fields), if anything."""
        ...

    def close(self) -> None: ...


class LocalRunner:
    """The default: `core.workers.WorkerPool` on this machine's cores."""

    def __init__(self, func: CheckerSpec, workers: int | None, timeout: TimeoutPolicy | float | None):
        self.pool = WorkerPool(func, workers=workers, timeout=timeout)

    def map(self, root: Path, videos: Sequence[VideoFile], arg: Any) -> Iterator[FileResult]:
        return self.pool.run(root, videos, arg)

    def info(self) -> None:
        return None

    def close(self) -> None:
        self.pool.close()


class ExecutorRunner:
    """A caller's `concurrent.futures.Executor`; isolation and timeouts are then its job."""

    def __init__(self, func: CheckerSpec, executor: Executor):
        self.func = func
        self.executor = executor

    def map(self, root: Path, videos: Sequence[VideoFile], arg: Any) -> Iterator[FileResult]:
        return run_on_executor(self.executor, self.func, root, videos, arg)

    def info(self) -> None:
        return None

    def close(self) -> None:
        pass  # the caller owns the executor


def open_runner(
    func: CheckerSpec,
    *,
    cluster: str | None = None,
    workers: int | None = None,
    timeout: TimeoutPolicy | float | None = None,
    executor: Executor | None = None,
) -> Runner:
    """The runner for `--cluster ADDRESS|local:N`, a caller's executor, or the local pool.

    Raises NexaraError for a bad combination or a cluster that cannot be
    reached (one line, naming the address).
    """
    if cluster is not None:
        if workers is not None:
            raise NexaraError(
                "--workers sets the local pool; with --cluster the workers are Dask's "
                "(local:N, or `dask worker --nthreads N` on each box)"
            )
        if executor is not None:
            raise NexaraError("a cluster and an executor cannot both run the same pass")
        from core.cluster import ClusterRunner, parse_target

        return ClusterRunner(parse_target(cluster), func, timeout=timeout)
    if executor is not None:
        return ExecutorRunner(func, executor)
    return LocalRunner(func, workers, timeout)


def map_files(
    func: CheckerSpec,
    root: Path | str,
    videos: Sequence[VideoFile],
    arg: Any,
    *,
    cluster: str | None = None,
    workers: int | None = None,
    timeout: TimeoutPolicy | float | None = None,
) -> Iterator[FileResult]:
    """`func(root, video, arg)` for every video, in completion order, with the runner's guarantees.

    For passes that need no `cluster` events of their own; the runner is
    closed when the iterator is exhausted or closed early.
    """
    runner = open_runner(func, cluster=cluster, workers=workers, timeout=timeout)
    try:
        yield from runner.map(Path(root), videos, arg)
    finally:
        runner.close()
