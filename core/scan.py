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
runs (and once more if the consumer stops early).
"""

from __future__ import annotations

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
    with ScanStore.for_root(root) as store:
        cached = store.cached(listing.videos, level)
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
            r = cached.get(v.rel)
            if r is not None:
                summary.add(r)
                yield event("file", result=r.to_dict(), cached=True)
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
                batch.clear()
        store.prune({v.rel for v in listing.videos})
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
