"""The Dask-worker side of `--cluster`: each task checks a batch of files through our own pool.

Why our pool inside a Dask task, rather than one Dask task per file in the
worker's threads: a decoder that hangs cannot be interrupted inside a thread,
and one that segfaults takes the whole Dask worker (and every task on it)
down. So each Dask thread borrows a one-process `core.workers.WorkerPool`
and runs its batch through it: the hard timeout is enforced on the worker,
next to the file, and a hang or crash costs that file a `timeout` / `crash`
verdict while the Dask worker and the scan carry on. Pools are kept between
tasks (a warm checker process, no start-up per batch), start with the
environment a local scan's would have, and are closed by the worker plugin
when the worker shuts down.

A Dask worker under a nanny is a daemonic process, and Python refuses to
let a daemonic process start children. The flag only exists so that the
nanny's exit kills the worker; our checker processes are themselves
daemonic children of the worker, so clearing the worker's own flag (in its
own process, not the nanny's view of it) changes nothing else. This is what
`distributed.worker.daemon: False` would do, without asking every box's
operator to set it.

Only paths and small records cross the network: a task gets `VideoFile`s
(relative path, split, class, size, mtime) and returns `FileResult`s.
Imported by Dask workers (and by the client only to register the plugin),
never by a scan without `--cluster`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, get_worker

from core import ENGINE_VERSION
from core.dataset import VideoFile
from core.records import FileResult
from core.workers import CheckerSpec, TimeoutPolicy, WorkerPool

PLUGIN_NAME = "nexara"


class RootNotVisible(Exception):
    """The dataset root does not exist on this worker's machine (not mounted, other path)."""


class EngineMismatch(Exception):
    """This worker runs another Nexara engine version than the client: its verdicts would differ."""


@dataclass
class BatchResult:
    """What one task sends back: its results and where and how long it ran."""

    worker: str
    results: list[FileResult]
    seconds: float  # wall time on the worker, for the client's batch sizing


# Idle one-process pools of this worker process, per (checker, timeout policy).
_idle: dict[Hashable, list[WorkerPool]] = {}
_lock = threading.Lock()


@contextmanager
def _borrowed_pool(func: CheckerSpec, timeout: TimeoutPolicy) -> Iterator[WorkerPool]:
    key = (func, timeout)
    with _lock:
        stack = _idle.setdefault(key, [])
        pool = stack.pop() if stack else None
        if pool is None:
            allow_children()
            _local_scan_environment()
            pool = WorkerPool(func, workers=1, timeout=timeout, keep_workers=True)
    try:
        yield pool
    except BaseException:
        pool.close()  # a pool whose run was cut short may hold a busy process
        raise
    with _lock:
        _idle.setdefault(key, []).append(pool)


def allow_children() -> None:
    """Let this (daemonic, nanny-started) worker process start checker processes; see above."""
    proc = mp.current_process()
    if proc.daemon:
        proc.daemon = False


def _local_scan_environment() -> None:
    """Give our checker processes the environment a local scan gives them.

    The nanny starts its worker with `distributed.nanny.pre-spawn-environ`
    (MALLOC_TRIM_THRESHOLD_=65536, OMP_NUM_THREADS=1, …), tuned for the Dask
    worker's own memory. Our fork server, started from the worker, would
    inherit them: with that malloc setting a decoder's allocations trim on
    every free, and the same 600 clips cost the checkers 6.3–6.6 CPU-seconds
    instead of 5.6–5.8. Only values equal to Dask's defaults are dropped (a
    different one an operator exported is kept), and only for processes
    started from now on: the running worker is unaffected.
    """
    import dask

    added = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    for key, value in added.items():
        if os.environ.get(key) == str(value):
            del os.environ[key]


def close_pools() -> None:
    with _lock:
        pools = [p for stack in _idle.values() for p in stack]
        _idle.clear()
    for p in pools:
        p.close()


def _worker_address() -> str:
    try:
        return get_worker().address
    except ValueError:  # not inside a Dask worker (a direct call)
        return f"{socket.gethostname()}:{os.getpid()}"


def run_batch(
    func: CheckerSpec, root: str, videos: list[VideoFile], arg: Any, timeout: TimeoutPolicy,
    engine: str,
) -> BatchResult:
    """Check `videos` under `root` on this worker, each in the isolated pool; one result each."""
    t0 = time.monotonic()
    if engine != ENGINE_VERSION:
        raise EngineMismatch(
            f"worker {_worker_address()} runs Nexara engine {ENGINE_VERSION}, the client {engine}: "
            "install the same nexara version on every worker"
        )
    if not os.path.isdir(root):
        raise RootNotVisible(_not_visible(root))
    with _borrowed_pool(func, timeout) as pool:
        results = list(pool.run(Path(root), videos, arg))
    return BatchResult(_worker_address(), results, time.monotonic() - t0)


def _not_visible(root: str, address: str | None = None) -> str:
    return (f"Dask worker {address or _worker_address()} ({socket.gethostname()}) cannot see ROOT "
            f"{root}: every worker must mount the dataset at the same path as this machine")


def probe(root: str, dask_worker: Any = None) -> dict[str, Any]:
    """Run on every worker before a pass (`Client.run`, which passes `dask_worker`):
    can it see ROOT, and which engine does it run."""
    visible = os.path.isdir(root)
    address = getattr(dask_worker, "address", None)
    return {
        "root_visible": visible, "engine": ENGINE_VERSION, "host": socket.gethostname(),
        "pid": os.getpid(), "message": "" if visible else _not_visible(root, address),
    }


class NexaraWorkerPlugin(WorkerPlugin):
    """Lets workers start checker processes up front, and stops them when the worker closes."""

    idempotent = True
    name = PLUGIN_NAME

    def setup(self, worker: Any) -> None:
        allow_children()

    def teardown(self, worker: Any) -> None:
        close_pools()
