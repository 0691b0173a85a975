"""`--cluster`: run a pass over a dataset on a Dask `distributed` cluster, with the local pool's guarantees.

`--cluster tcp://HOST:8786` connects a `distributed.Client` to a running
scheduler (started with `dask scheduler`, workers with `dask worker`);
`--cluster local:N` starts a `LocalCluster` of N worker processes here. The
client (this process) keeps the SQLite store and the event stream; workers
read the files at the same path (a shared or mounted filesystem) and send
back small results. What runs on a worker, and why each file there still
gets an isolated, killable process with the hard timeout, is in
`core.cluster_worker`.

How work is sent: files go out in batches, one Dask task per batch, with a
bounded number of batches in flight (two per worker thread, so a thread
never waits for the scheduler) and results read with `as_completed` as each
batch finishes. A batch is sized to take about `TARGET_BATCH_S` of worker
time, from the per-file time measured so far: one task per file would cost
the scheduler ~1 ms of round trip per file (benchmarks/cluster_overhead.py
measures it), a few hundred files per task would make results arrive in
lumps and a lost worker expensive. The tail is split finer so every worker
finishes at about the same time.

Failures: a worker that dies (killed, OOM, the box gone) loses its running
batches; the scheduler reschedules them on the remaining workers, and since
a batch's results reach the client only once, when it finishes, every file
ends with exactly one verdict. A batch whose workers died
`distributed.scheduler.allowed-failures` times gives its files the verdict
`crash` (retried by the next scan). A client that dies loses only its
in-flight batches: what it committed is in the store, and the next scan
resumes from there.

Nothing here imports Dask at module level: `--cluster` is the only path
that loads it (tests/test_startup.py checks a plain scan does not).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import ENGINE_VERSION
from core.dataset import VideoFile
from core.errors import NexaraError
from core.events import ClusterInfo, ClusterWorker
from core.records import FileResult
from core.workers import (
    CheckerSpec,
    TimeoutPolicy,
    _main_module_hidden,
    failure_result,
    resolve_checker,
)

LOCAL_PREFIX = "local:"
WORKERS_TIMEOUT_S = 60.0  # for the first worker to join; a scheduler with none is a setup error
TARGET_BATCH_S = 1.0  # worker time per task
FIRST_BATCH = 2  # files per task until a per-file time has been measured
MAX_BATCH = 64
IN_FLIGHT_PER_THREAD = 2
INFO_EVERY_S = 1.0  # how often worker counts are refreshed from the scheduler


# ---------------------------------------------------------------- the `cluster` event
# The payload of a `cluster` event (`core.events`): where a pass runs when it
# runs on Dask. Emitted once when the client is connected and then about once a
# second with the per-worker counts; readers keep the last one.
# ClusterWorker and ClusterInfo, the `cluster` event's payload, live in the contract.


# ---------------------------------------------------------------- the address
@dataclass(frozen=True)
class ClusterTarget:
    address: str | None = None  # a running scheduler
    local_workers: int | None = None  # or a LocalCluster of this many worker processes

    def __str__(self) -> str:
        return self.address or f"{LOCAL_PREFIX}{self.local_workers}"


def parse_target(text: str) -> ClusterTarget:
    """`tcp://host:port` (or `host:port`, tls://…) or `local:N`; one-line error otherwise."""
    text = text.strip()
    usage = (f"--cluster {text}: expected tcp://HOST:PORT (a running Dask scheduler) "
             "or local:N (N worker processes on this machine)")
    if text.startswith(LOCAL_PREFIX):
        n = text[len(LOCAL_PREFIX):]
        if not n.isdigit() or int(n) < 1:
            raise NexaraError(usage)
        return ClusterTarget(local_workers=int(n))
    scheme, sep, rest = text.rpartition("://")
    if sep and scheme not in ("tcp", "tls", "ws", "wss", "ucx"):
        raise NexaraError(usage)
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise NexaraError(usage)
    return ClusterTarget(address=text if sep else f"tcp://{text}")


def _timeout_policy(timeout: TimeoutPolicy | float | None) -> TimeoutPolicy:
    if timeout is None:
        return TimeoutPolicy()
    if isinstance(timeout, TimeoutPolicy):
        return timeout
    if timeout <= 0:
        raise NexaraError(f"--timeout {timeout}: must be positive")
    return TimeoutPolicy(base=float(timeout))


# ---------------------------------------------------------------- the runner
class ClusterRunner:
    """A `core.executor.Runner` on Dask: connect (or start a LocalCluster), map batches, close."""

    def __init__(self, target: ClusterTarget, func: CheckerSpec,
                 timeout: TimeoutPolicy | float | None = None):
        resolve_checker(func)  # a bad name fails here, in one line, before any worker sees it
        self.target = target
        self.func = func
        self.timeout = _timeout_policy(timeout)
        self.client: Any = None
        self._cluster: Any = None
        self._quieted: list[tuple[logging.Logger, int]] = []
        self._file_s: float | None = None  # measured worker seconds per file (moving average)
        self._per_worker: dict[str, int] = {}
        self._seen: set[str] = set()
        self._t0 = time.monotonic()
        self._batch = FIRST_BATCH
        self._workers: dict[str, dict[str, Any]] = {}
        self._workers_at = 0.0
        self.dashboard: str | None = None
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    # -- connecting -----------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            import dask
            import distributed
        except ImportError as exc:
            raise NexaraError(
                f"--cluster needs Dask's distributed ({exc.name or exc} is not installed): "
                "pip install 'nexara[cluster]'"
            ) from exc
        from core.cluster_worker import NexaraWorkerPlugin

        # Dask logs worker comings and goings at WARNING; the scan reports them
        # in its `cluster` events instead of breaking the progress display.
        for name in ("distributed", "tornado", "bokeh"):
            lg = logging.getLogger(name)
            self._quieted.append((lg, lg.level))
            lg.setLevel(logging.ERROR)
        if self.target.local_workers is not None:
            # Worker processes are spawned: like our own pool's, they must not re-run
            # the caller's script (one without a __main__ guard would recurse), and
            # Ctrl-C (SIGINT to the terminal's whole process group) is for this
            # process to handle, not for each worker to die of with a traceback.
            # Dask's statistical profiler samples every worker thread 100 times a
            # second; ours only wait on a pipe, so it would profile nothing and cost
            # the checkers CPU on a small box.
            with _main_module_hidden(self.func), _sigint_ignored_by_children(), \
                    dask.config.set({"distributed.worker.profile.enabled": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=self.target.local_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                )
            address = self._cluster.scheduler_address
        else:
            address = str(self.target.address)
        self.address = address
        try:
            # Dask's own connect timeout applies (distributed.comm.timeouts.connect, 30 s).
            self.client = distributed.Client(address, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise NexaraError(f"--cluster {address}: no Dask scheduler answers there ({exc})") from exc
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError as exc:
            raise NexaraError(
                f"--cluster {address}: no Dask worker joined within {WORKERS_TIMEOUT_S:.0f} s "
                f"(start one on each box: dask worker {address})"
            ) from exc
        try:
            self.client.register_plugin(NexaraWorkerPlugin())
        except ImportError as exc:
            raise _not_installed(address, exc) from exc
        with contextlib.suppress(Exception):  # no dashboard (no bokeh, --no-dashboard)
            self.dashboard = self.client.dashboard_link
        self._refresh_workers(force=True)

    def _check_workers(self, root: Path) -> None:
        """Every worker sees ROOT and runs our engine, or one line saying which does not."""
        from core.cluster_worker import probe

        answers = self.client.run(probe, str(root), on_error="return")
        for addr, a in sorted(answers.items()):
            if isinstance(a, ImportError):
                raise _not_installed(addr, a)
            if isinstance(a, BaseException):
                raise NexaraError(f"Dask worker {addr}: {type(a).__name__}: {a}")
            if a["engine"] != ENGINE_VERSION:
                raise NexaraError(
                    f"Dask worker {addr} ({a['host']}) runs Nexara engine {a['engine']}, this "
                    f"machine {ENGINE_VERSION}: install the same nexara version on every worker"
                )
            if not a["root_visible"]:
                raise NexaraError(a["message"])

    # -- mapping --------------------------------------------------------------------------
    def map(self, root: Path, videos: Sequence[VideoFile], arg: Any) -> Iterator[FileResult]:
        from distributed import as_completed

        from core.cluster_worker import EngineMismatch, RootNotVisible, run_batch

        root = Path(root)
        self._check_workers(root)
        pending = deque(videos)
        futures: dict[Any, tuple[list[VideoFile], float]] = {}
        # with_results: each batch's results are fetched from its worker by the
        # client's event loop as it finishes, overlapping with our storing the last one.
        ac = as_completed(loop=self.client.loop, with_results=True, raise_errors=False)
        run_id = secrets.token_hex(3)
        seq = itertools.count()
        self._t0 = time.monotonic()

        def fill() -> None:
            threads = max(1, self._threads())
            while pending and len(futures) < IN_FLIGHT_PER_THREAD * threads:
                n = self._batch_size(len(pending), threads)
                batch = [pending.popleft() for _ in range(min(n, len(pending)))]
                fut = self.client.submit(
                    run_batch, self.func, str(root), batch, arg, self.timeout, ENGINE_VERSION,
                    key=f"nexara-batch-{run_id}-{next(seq)}", pure=False,
                )
                futures[fut] = (batch, time.monotonic())
                ac.add(fut)

        try:
            fill()
            for fut, value in ac:
                batch, submitted = futures.pop(fut)
                try:
                    out = _unwrap(fut, value)
                except (RootNotVisible, EngineMismatch) as exc:
                    raise NexaraError(str(exc)) from exc
                except NexaraError as exc:  # e.g. the checker cannot be imported or started there
                    raise NexaraError(f"on the Dask cluster {self.address}: {exc.message}") from exc
                except ImportError as exc:
                    raise _not_installed(self.address, exc) from exc
                except CancelledError as exc:
                    # The scheduler went away (or dropped this client): every batch
                    # would fail alike, so stop; what was checked is stored.
                    raise NexaraError(
                        f"--cluster {self.address}: lost the Dask scheduler ({type(exc).__name__}: "
                        f"{exc}); checked files are stored, run the scan again to resume"
                    ) from exc
                except Exception as exc:  # noqa: BLE001 - a batch the cluster could not run costs its files
                    seconds = time.monotonic() - submitted
                    message = f"cluster task failed: {type(exc).__name__}: {exc}"
                    results = [failure_result(v, arg, "crash", message[:500], seconds) for v in batch]
                else:
                    results = out.results
                    self._measured(out.worker, len(batch), out.seconds)
                fut.release()
                fill()
                yield from results
            self._refresh_workers(force=True)  # the last `cluster` event: who is still there
        finally:
            if futures:
                with contextlib.suppress(Exception):
                    self.client.cancel(list(futures))

    def _batch_size(self, remaining: int, threads: int) -> int:
        if self._file_s is not None:
            self._batch = max(1, min(MAX_BATCH, round(TARGET_BATCH_S / max(self._file_s, 1e-4))))
        # Guided tail: never more than a share of what is left, so all threads finish together.
        share = math.ceil(remaining / (IN_FLIGHT_PER_THREAD * threads))
        return max(1, min(self._batch, share))

    def _measured(self, worker: str, files: int, seconds: float) -> None:
        self._per_worker[worker] = self._per_worker.get(worker, 0) + files
        per_file = seconds / max(files, 1)
        self._file_s = per_file if self._file_s is None else 0.7 * self._file_s + 0.3 * per_file

    # -- what the scan screen shows -------------------------------------------------------
    def _refresh_workers(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._workers_at < INFO_EVERY_S:
            return
        self._workers_at = now
        with contextlib.suppress(Exception):  # a scheduler that is briefly busy: keep the last view
            self._workers = dict(self.client.scheduler_info(n_workers=-1)["workers"])
            self._seen.update(self._workers)

    def _threads(self) -> int:
        self._refresh_workers()
        return sum(int(w.get("nthreads") or 1) for w in self._workers.values())

    def info(self) -> ClusterInfo:
        self._refresh_workers()
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        workers: list[ClusterWorker] = []
        for addr, w in sorted(self._workers.items()):
            files = self._per_worker.get(addr, 0)
            workers.append(ClusterWorker(
                address=addr, name=str(w.get("name", addr)), threads=int(w.get("nthreads") or 1),
                files=files, rate=round(files / elapsed, 2),
            ))
        return ClusterInfo(
            address=self.address, dashboard=self.dashboard, local=self._cluster is not None,
            workers=workers, threads=sum(w["threads"] for w in workers), batch=self._batch,
            lost=len(self._seen - set(self._workers)),
        )

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
            self._cluster = None
        for lg, level in self._quieted:
            lg.setLevel(level)
        self._quieted.clear()


@contextlib.contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """Processes started meanwhile inherit SIGINT ignored (a disposition exec keeps).

    Python leaves an inherited SIG_IGN alone, so the LocalCluster's workers
    never see KeyboardInterrupt; they stop when this process closes the
    cluster (or dies: they watch their parent). For the second or two this
    takes, a Ctrl-C here is ignored too.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _unwrap(fut: Any, value: Any) -> Any:
    """A finished future's value from `as_completed(with_results=True, raise_errors=False)`,
    or its exception raised: an errored task gives (type, exception, traceback), a cancelled
    one the CancelledError."""
    if fut.status == "error":
        raise value[1]
    if isinstance(value, BaseException):
        raise value
    return value


def _not_installed(where: str, exc: ImportError) -> NexaraError:
    return NexaraError(
        f"Dask worker {where} cannot import Nexara ({exc}): install the same nexara "
        "(pip install 'nexara[cluster]') on every worker"
    )


def describe(info: Mapping[str, Any]) -> str:
    """One line for a terminal: where the pass runs, the dashboard, how fast each worker goes.

    Takes a `ClusterInfo` or the `cluster` event carrying it.

    Most important first, since a status line cuts the end off: the per-worker
    rates of a big cluster are what may go.
    """
    n = len(info["workers"])
    rates = sum(w["rate"] for w in info["workers"])
    parts = [f"Dask {'LocalCluster ' if info['local'] else ''}{info['address']}",
             f"{n} worker{'s' if n != 1 else ''} ({info['threads']} threads)"]
    if info.get("dashboard"):
        parts.append(f"dashboard {info['dashboard']}")
    if info.get("lost"):
        parts.append(f"{info['lost']} lost (files rescheduled)")
    if rates:
        per = ", ".join(f"{_short(w['address'])} {w['rate']:.1f}/s" for w in info["workers"][:4])
        more = f", +{n - 4} more" if n > 4 else ""
        parts.append(f"{rates:.1f} files/s: {per}{more}")
    return " · ".join(parts)


def _short(address: str) -> str:
    """tcp://10.0.0.7:40123 → 10.0.0.7:40123 (the scheme says nothing on a status line)."""
    return address.split("://", 1)[-1]

