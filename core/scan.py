"""The scan pipeline: discover → reuse stored verdicts → check the rest in workers → store.

`scan()` is a generator of events (see `core.events`), so the CLI, `--json`,
detached jobs and the TUI all watch the same stream:

- `start`    root, level, total, cached, to_check, skipped [{path, reason}], notes [...]
- `file`     result (FileResult dict), cached (bool) — cached files first, then
             newly checked ones in completion order
- `progress` done, total, rate (files/s over the newly checked files), eta_s,
             summary — at most every PROGRESS_EVERY_S seconds
- `summary`  summary, seconds, checked, cached, skipped

Why this shape: a rescan of 22,000 unchanged clips must cost a directory walk
and one indexed read, so verdicts are cached by (path, size, mtime, level,
engine version) in `core.store`; and a scan killed half way must lose at most a
few seconds of work, so results are committed in small batches while the scan
runs (and once more if the consumer stops early). SIGTERM and SIGHUP (a job
cancelled, `kill`, a closed terminal) get the same cleanup as Ctrl-C: busy
workers are killed, what was checked is committed, and the process exits with
status 128 + the signal; the next scan resumes from there. Verdicts that say
the check itself failed (`timeout`, `crash`) are stored but re-checked by the
next scan (`core.store.RETRIED_REASONS`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from core import ENGINE_VERSION
from core.dataset import DatasetError, discover
from core.errors import NexaraError
from core.events import event
from core.records import LEVELS, FileResult
from core.store import ScanStore
from core.summary import Summary
from core.workers import DEFAULT_CHECKER, CheckerSpec, TimeoutPolicy, WorkerPool, run_on_executor

PROGRESS_EVERY_S = 0.25
COMMIT_EVERY_FILES = 50
COMMIT_EVERY_S = 1.0
# Signals that ask a scan to stop (not SIGINT: Python already raises
# KeyboardInterrupt for it, which runs the same cleanup).
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class ScanTerminated(SystemExit):
    """SIGTERM or SIGHUP arrived while a scan was running; `code` is 128 + the signal.

    A SystemExit, so no `except Exception` on the way up swallows it and the
    process still exits with the status a shell expects from a terminated
    program, but only after the `finally` blocks of `scan()` and the worker
    pool ran. Python's default for SIGTERM is to die on the spot, skipping
    them: the last uncommitted batch of results was lost and busy workers
    went on decoding as orphans.
    """


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While a scan runs, turn SIGTERM / SIGHUP into `ScanTerminated`.

    Installed only from the main thread (Python delivers signals there) and
    only over the default disposition: an application with its own handler,
    or a parent that made us ignore the signal (the job wrapper ignores
    SIGHUP), keeps it. A second signal during the cleanup is ignored; SIGKILL
    remains for the impatient.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise ScanTerminated(128 + signum)

    previous: dict[int, Any] = {}
    for sig in TERMINATING_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) is signal.SIG_DFL:
                previous[sig] = signal.signal(sig, on_signal)
    try:
        yield
    finally:
        # A generator abandoned unfinished may be finalised from another
        # thread, where signal.signal() raises; the handler then stays, and a
        # later SIGTERM still ends the process (as an exception, not abruptly).
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)


def scan(
    root: Path | str,
    level: str = "standard",
    workers: int | None = None,
    timeout: TimeoutPolicy | float | None = None,
    checker: CheckerSpec | None = None,
    executor: Executor | None = None,
) -> Iterator[dict[str, Any]]:
    """Scan ROOT at `level`, yielding events; raises NexaraError for bad input."""
    if level not in LEVELS:
        raise NexaraError(f"--level {level}: expected one of {', '.join(LEVELS)}")
    try:
        listing = discover(Path(root))
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc
    root = listing.root
    checker = checker or DEFAULT_CHECKER
    t0 = time.monotonic()
    summary = Summary()
    with _terminate_cleanly(), ScanStore.for_root(root) as store:
        cached = store.cached_dicts(listing.videos, level)
        # --- fingerprint hook (issue 15): a usable clip stored without a current fingerprint
        # (scanned before fingerprints existed, or of another FP_VERSION) is checked again —
        # by the default checker, the one that fingerprints (core.integrity).
        if checker == DEFAULT_CHECKER:
            for rel in store.lacking_fingerprints(cached):
                del cached[rel]
        to_check = [v for v in listing.videos if v.rel not in cached]
        store.set_meta("last_scan", {
            "level": level, "started": time.time(), "complete": False,
            "total": len(listing.videos), "engine": ENGINE_VERSION,
        })
        yield event(
            "start", root=str(root), level=level, total=len(listing.videos),
            cached=len(cached), to_check=len(to_check),
            skipped=[{"path": s.rel, "reason": s.reason} for s in listing.skipped],
            notes=list(listing.notes),
        )
        for v in listing.videos:
            d = cached.get(v.rel)
            if d is not None:
                summary.add(FileResult.from_dict(d))
                yield event("file", result=d, cached=True)  # the stored dict is to_dict()'s
        del cached

        total = len(listing.videos)
        done = total - len(to_check)
        checked = 0
        batch: list[FileResult] = []
        last_commit = last_progress = time.monotonic()
        check_t0 = time.monotonic()
        if to_check:
            yield _progress(done, total, 0, check_t0, len(to_check), summary)
        pool = None
        try:
            if not to_check:
                results: Iterator[FileResult] = iter(())
            elif executor is not None:
                results = run_on_executor(executor, checker, root, to_check, level)
            else:
                pool = WorkerPool(checker, workers=workers, timeout=timeout)
                results = pool.run(root, to_check, level)
            for r in results:
                checked += 1
                done += 1
                summary.add(r)
                batch.append(r)
                now = time.monotonic()
                if len(batch) >= COMMIT_EVERY_FILES or now - last_commit >= COMMIT_EVERY_S:
                    store.put_many(batch)
                    store.put_fingerprints(batch)  # fingerprint hook (issue 15)
                    batch.clear()
                    last_commit = now
                yield event("file", result=r.to_dict(), cached=False)
                if now - last_progress >= PROGRESS_EVERY_S:
                    last_progress = now
                    yield _progress(done, total, checked, check_t0, len(to_check), summary)
        finally:
            # Runs on normal completion, an exception, or the consumer closing
            # the generator (Ctrl-C, a dropped pipe): what was checked stays checked.
            if pool is not None:
                pool.close()
            if batch:
                store.put_many(batch)
                store.put_fingerprints(batch)  # fingerprint hook (issue 15)
                batch.clear()
        store.prune({v.rel for v in listing.videos})
        store.prune_fingerprints()  # fingerprint hook (issue 15)
        seconds = round(time.monotonic() - t0, 3)
        store.set_meta("last_scan", {
            "level": level, "finished": time.time(), "complete": True, "total": total,
            "checked": checked, "seconds": seconds, "engine": ENGINE_VERSION,
        })
        if to_check:
            yield _progress(done, total, checked, check_t0, len(to_check), summary)
        yield event(
            "summary", summary=summary.to_dict(), seconds=seconds, checked=checked,
            cached=total - len(to_check), skipped=len(listing.skipped),
        )


def _progress(
    done: int, total: int, checked: int, t0: float, to_check: int, summary: Summary
) -> dict[str, Any]:
    elapsed = time.monotonic() - t0
    rate = checked / elapsed if elapsed > 0 and checked else 0.0
    eta = (to_check - checked) / rate if rate else None
    return event(
        "progress", done=done, total=total, rate=round(rate, 2),
        eta_s=round(eta, 1) if eta is not None else None, summary=summary.to_dict(),
    )


def stored_results(root: Path | str) -> tuple[ScanStore, dict[str, Any]]:
    """The store of a dataset that was scanned before, and its last-scan meta.

    Raises NexaraError when there is nothing stored, so `results` and friends
    say "scan first" instead of showing an empty table.
    """
    root_path = Path(root).expanduser()
    if not ScanStore.exists_for(root_path):
        raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first")
    store = ScanStore.for_root(root_path)
    if not store.has_results():
        store.close()
        raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first")
    meta = store.get_meta("last_scan", {}) or {}
    return store, meta if isinstance(meta, dict) else {}
