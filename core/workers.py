"""Running the integrity checker on many files, each in an isolated worker process.

Why not `concurrent.futures.ProcessPoolExecutor`: its futures cannot be
cancelled once running, so a decoder that hangs would hang the scan, and a
worker that segfaults breaks the whole pool. Here the parent owns N worker
processes, each with its own pipe and exactly one task in flight, and waits on
all result pipes and process sentinels at once (`multiprocessing.connection.wait`).
That lets it

- kill (SIGKILL) a worker whose current file is past its deadline, give that
  file the verdict `corrupt` / `timeout`, and start a fresh worker;
- notice a worker that died (segfault, abort, `os._exit`, the OOM killer), give
  its file `corrupt` / `crash`, and start a fresh worker;

and the scan goes on either way. Workers start from a `forkserver` (a clean,
thread-free process that has the checker module preloaded, so a respawn costs a
fork, not a Python start-up); `spawn` where forkserver does not exist. Never a
plain `fork` of a parent that may hold threads.

A caller may pass any `concurrent.futures.Executor` instead (e.g. a cluster's
executor): tasks are then submitted to it and isolation — killing hung or
crashed checks — is the executor's job; a task whose future raises is reported
as `crash`.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from core.dataset import VideoFile
from core.errors import NexaraError
from core.records import FileResult, Verdict

Checker = Callable[[Path, VideoFile, str], FileResult]
CheckerSpec = str | Checker

DEFAULT_CHECKER = "core.integrity:check_file"
_READY = "ready"  # a worker's first message: it started and loaded the checker


@dataclass(frozen=True)
class TimeoutPolicy:
    """The hard per-file time limit: `base` seconds plus `per_100mb` for every 100 MB.

    Generous by default: a healthy 8 s clip takes well under a second, so a
    minute means a decoder that is stuck, not one that is slow; big files get
    proportionally longer because a full decode is linear in size.
    """

    base: float = 60.0
    per_100mb: float = 15.0

    def for_size(self, size: int) -> float:
        return self.base + self.per_100mb * (max(size, 0) / 100e6)


def resolve_checker(spec: CheckerSpec) -> Checker:
    """A callable from a `module:function` name (or the callable itself)."""
    if callable(spec):
        return spec
    module_name, _, func_name = str(spec).partition(":")
    if not module_name or not func_name:
        raise NexaraError(f"checker {spec!r}: expected 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NexaraError(f"checker {spec!r}: cannot import {module_name}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise NexaraError(f"checker {spec!r}: {module_name} has no function {func_name}")
    return func


def failure_result(video: VideoFile, level: str, reason: str, message: str, seconds: float) -> FileResult:
    """The verdict for a file whose check never returned (timeout, crash, checker bug)."""
    return FileResult(
        path=video.rel, split=video.split, cls=video.cls, verdict=Verdict.CORRUPT,
        reasons=[reason], messages=[message], size=video.size, mtime_ns=video.mtime_ns,
        seconds=round(seconds, 3), level=level,
    )


def _call_checker(checker: Checker, root: Path, video: VideoFile, level: str) -> FileResult:
    """Run the checker; a Python exception from it becomes a `crash` verdict, not a dead worker."""
    t0 = time.perf_counter()
    try:
        return checker(root, video, level)
    except Exception as exc:  # noqa: BLE001 - any checker bug must cost one file, not the scan
        return failure_result(
            video, level, "crash", f"checker raised {type(exc).__name__}: {exc}",
            time.perf_counter() - t0,
        )


def _worker_main(conn: Connection, spec: CheckerSpec) -> None:
    """A worker: take one (task id, root, video, level) at a time, send back (task id, result)."""
    # Ctrl-C goes to the whole process group; the parent decides what stops.
    # SIGTERM keeps its default on purpose: a cancelled job's SIGTERM to the
    # group should end a busy decode at once (the parent, `core.scan`, then
    # commits what was checked), and multiprocessing's exit handler stops
    # leftover daemon workers with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    checker = resolve_checker(spec)
    conn.send(_READY)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if msg is None:
            return
        task_id, root, video, level = msg
        result = _call_checker(checker, root, video, level)
        try:
            conn.send((task_id, result))
        except (BrokenPipeError, OSError):
            return


def _context() -> mp.context.SpawnContext | mp.context.ForkServerContext:
    if "forkserver" in mp.get_all_start_methods():
        return mp.get_context("forkserver")
    return mp.get_context("spawn")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker process died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process killed by {name} while checking this file"
    return f"worker process exited with status {code} while checking this file"


@contextlib.contextmanager
def _main_module_hidden(spec: CheckerSpec) -> Iterator[None]:
    """Start children without re-running the parent's `__main__` script.

    spawn/forkserver children normally re-import the main script, which makes a
    script that calls `scan()` without an `if __name__ == "__main__"` guard
    start workers recursively, and costs every respawn an import. Our workers
    need nothing from `__main__` unless the checker itself lives there.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(spec, "__module__", None) == "__main__":
        yield
        return
    saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class _Worker:
    """One child process, its pipe, and the task it is working on."""

    def __init__(self, ctx: mp.context.SpawnContext | mp.context.ForkServerContext, spec: CheckerSpec):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, spec), daemon=True)
        with _main_module_hidden(spec):
            self.proc.start()
        child_conn.close()
        self.conn: Connection = parent_conn
        self.task: tuple[int, VideoFile] | None = None
        self.ready = False
        self.started = 0.0
        self.deadline = float("inf")
        self.done = 0

    def send(self, task_id: int, root: Path, video: VideoFile, level: str, limit: float) -> None:
        self.task = (task_id, video)
        self.started = time.monotonic()
        self.deadline = self.started + limit
        self.conn.send((task_id, root, video, level))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        """Ask politely (the worker finishes nothing more), then make sure."""
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.proc.join(timeout=1)
        self.kill()


class WorkerPool:
    """N isolated checker processes with a hard per-file timeout.

    Use as a context manager; `run()` yields one FileResult per task, in
    completion order. Workers are recycled after `max_tasks` files so a slow
    leak in a decoder library cannot grow without bound over 100,000 files.
    With `keep_workers`, idle workers outlive a `run()` for the next one (a
    Dask task per batch reuses a warm process instead of forking and joining
    one per batch); `close()` stops them.
    """

    def __init__(
        self,
        checker: CheckerSpec = DEFAULT_CHECKER,
        workers: int | None = None,
        timeout: TimeoutPolicy | float | None = None,
        max_tasks: int = 2000,
        keep_workers: bool = False,
    ):
        if workers is not None and workers < 1:
            raise NexaraError(f"--workers {workers}: must be at least 1")
        self.spec = checker
        resolve_checker(checker)  # fail fast, in the parent, with a clear message
        self.n = workers or os.cpu_count() or 1
        if timeout is None:
            timeout = TimeoutPolicy()
        elif not isinstance(timeout, TimeoutPolicy):
            if timeout <= 0:
                raise NexaraError(f"--timeout {timeout}: must be positive")
            timeout = TimeoutPolicy(base=float(timeout))
        self.timeout = timeout
        self.max_tasks = max_tasks
        self.keep_workers = keep_workers
        self._ctx = _context()
        if isinstance(checker, str) and self._ctx.get_start_method() == "forkserver":
            # Preloaded in the fork server: every (re)spawned worker starts warm.
            # av too: the default checker imports it lazily, and a worker
            # respawned after a timeout should not pay for that import again.
            # (The fork server skips a preload that fails to import.)
            self._ctx.set_forkserver_preload(["av", checker.partition(":")[0]])
        self._workers: list[_Worker] = []
        self.timeouts = 0
        self.crashes = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            if w.task is not None:
                w.kill()  # a stopped scan does not wait for a slow file
            else:
                w.stop()
        self._workers.clear()

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self.spec)

    def run(self, root: Path, videos: Iterable[VideoFile], level: str) -> Iterator[FileResult]:
        root = Path(root)
        pending = iter(videos)
        next_id = 0
        exhausted = False
        for w in [w for w in self._workers if not w.proc.is_alive()]:
            w.kill()  # a kept worker that died while idle (OOM killer): replaced below, not fed
            self._workers.remove(w)

        def feed(w: _Worker) -> bool:
            nonlocal next_id, exhausted
            if exhausted:
                return False
            video = next(pending, None)
            if video is None:
                exhausted = True
                return False
            w.send(next_id, root, video, level, self.timeout.for_size(video.size))
            next_id += 1
            return True

        # Start workers only as there is work for them: a rescan with nothing
        # to check starts no process at all.
        first = next(pending, None)
        if first is not None:
            pending = itertools.chain([first], pending)
        while first is not None and len(self._workers) < self.n:
            w = self._spawn()
            self._workers.append(w)
            if not feed(w):
                break
        for w in self._workers:
            if w.task is None:
                feed(w)
        try:
            while True:
                busy = [w for w in self._workers if w.task is not None]
                if not busy:
                    return
                now = time.monotonic()
                wait_s = max(0.0, min(w.deadline for w in busy) - now)
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=wait_s))
                now = time.monotonic()
                for i, w in enumerate(self._workers):
                    if w.task is None:
                        continue
                    task_id, video = w.task
                    result: FileResult | None = None
                    replace = False
                    dead = False
                    if w.conn in ready:
                        try:
                            while result is None and w.conn.poll():
                                msg = w.conn.recv()
                                if msg == _READY:
                                    w.ready = True
                                    continue
                                got_id, result = msg
                                if got_id != task_id:  # cannot happen with one task in flight
                                    raise EOFError(f"result for task {got_id}, expected {task_id}")
                        except (EOFError, OSError):
                            dead, result = True, None
                    if result is not None:
                        w.done += 1
                        w.task = None
                        replace = w.done >= self.max_tasks
                        if replace:
                            w.stop()
                    elif dead or w.proc.sentinel in ready:
                        w.proc.join(timeout=5)
                        if not w.ready:
                            raise NexaraError(
                                f"checker worker could not start ({_describe_exit(w.proc.exitcode).split(' while')[0]});"
                                " see the error printed above"
                            )
                        self.crashes += 1
                        result = failure_result(video, level, "crash", _describe_exit(w.proc.exitcode), now - w.started)
                        w.kill()
                        replace = True
                    elif now >= w.deadline:
                        limit = w.deadline - w.started
                        self.timeouts += 1
                        w.kill()
                        result = failure_result(
                            video, level, "timeout",
                            f"no result after {limit:.1f} s (hard limit); worker killed", now - w.started,
                        )
                        replace = True
                    else:
                        continue
                    if replace:
                        w = self._workers[i] = self._spawn()
                    else:
                        w.task = None
                    feed(w)
                    yield result
        finally:
            # A run cut short may leave busy workers: those are never kept.
            if not self.keep_workers or any(w.task is not None for w in self._workers):
                self.close()


def run_on_executor(
    executor: Executor,
    checker: CheckerSpec,
    root: Path,
    videos: Iterable[VideoFile],
    level: str,
    in_flight: int = 64,
) -> Iterator[FileResult]:
    """Check files on a caller's Executor, keeping at most `in_flight` futures outstanding.

    The executor must be able to ship the checker (a top-level function or a
    'module:function' string, resolved on the worker side). No timeout is
    enforced here: isolation is the executor's job.
    """
    root = Path(root)
    func: Any = _check_by_name if isinstance(checker, str) else checker
    resolve_checker(checker)
    pending = iter(videos)
    futures: dict[Future[FileResult], tuple[VideoFile, float]] = {}

    def submit() -> bool:
        video = next(pending, None)
        if video is None:
            return False
        args = (checker, root, video, level) if func is _check_by_name else (root, video, level)
        futures[executor.submit(func, *args)] = (video, time.monotonic())
        return True

    while len(futures) < in_flight and submit():
        pass
    done_queue: deque[Future[FileResult]] = deque()
    while futures:
        done, _ = wait_futures(list(futures), return_when=FIRST_COMPLETED)
        done_queue.extend(done)
        while done_queue:
            fut = done_queue.popleft()
            video, t0 = futures.pop(fut)
            try:
                result = fut.result()
            except BaseException as exc:  # noqa: BLE001 - a broken executor costs this file
                result = failure_result(
                    video, level, "crash", f"executor task failed: {type(exc).__name__}: {exc}",
                    time.monotonic() - t0,
                )
            submit()
            yield result


def _check_by_name(spec: str, root: Path, video: VideoFile, level: str) -> FileResult:
    """Executor entry point for a checker named 'module:function'."""
    return _call_checker(resolve_checker(spec), root, video, level)

