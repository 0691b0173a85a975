"""The scan pipeline: discover → reuse stored verdicts → check the rest in workers → store.

`scan()` is a generator of events (see `core.events`), so the CLI, `--json`,
detached jobs and the TUI all watch the same stream:

- `start`    root, level, total, cached, to_check, skipped [{path, reason}], notes [...]
- `file`     result (FileResult dict), cached (bool) — cached files first, then
             newly checked ones in completion order
- `progress` done, total, rate (files/s over the newly checked files), eta_s,
             summary — at most every PROGRESS_EVERY_S seconds
- `summary`  summary, seconds, checked, cached, skipped
- `cluster`  only with `--cluster`: where the files are checked (`core.cluster.ClusterInfo`:
             address, dashboard, workers with their files and files/s) — once connected,
             then with the progress at most every CLUSTER_EVERY_S seconds, and last
             before the summary

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

Where the files are checked is `core.executor`'s business: the local worker
pool by default, a Dask cluster with `cluster=` (`--cluster`), with the same
isolation, timeouts and one-result-per-file; this module only stores and
reports what comes back.
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
from core.executor import Runner, open_runner
from core.provenance import SourcesTable, discover_sources, read_manifest
from core.records import LEVELS, FileResult
from core.store import ScanStore
from core.summary import Summary
from core.workers import DEFAULT_CHECKER, CheckerSpec, TimeoutPolicy

PROGRESS_EVERY_S = 0.25
CLUSTER_EVERY_S = 1.0
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

    previous: dict[signal.Signals, Any] = {}
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
    follow_symlinks: bool = False,
    sources: Path | str | None = None,
    cluster: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Scan ROOT at `level`, yielding events; raises NexaraError for bad input.

    Directory symlinks out of ROOT are skipped (and listed) unless `follow_symlinks`.
    `sources`: a `path,url` CSV naming where clips came from (`core.provenance`).
    `cluster` is `--cluster`'s value (`tcp://host:8786` or `local:N`): check
    the files on that Dask cluster instead of this machine's pool.
    """
    if level not in LEVELS:
        raise NexaraError(f"--level {level}: expected one of {', '.join(LEVELS)}")
    try:
        listing = discover(Path(root), follow_symlinks=follow_symlinks)
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc
    root = listing.root
    manifest = read_manifest(sources, root) if sources else None
    checker = checker or DEFAULT_CHECKER
    if cluster is not None:
        from core.cluster import parse_target

        parse_target(cluster)  # a malformed address fails before the store is touched
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
        source_notes = record_sources(store, root, listing.videos, manifest)
        store.set_meta("last_scan", {
            "level": level, "started": time.time(), "complete": False,
            "total": len(listing.videos), "engine": ENGINE_VERSION,
        })
        yield event(
            "start", root=str(root), level=level, total=len(listing.videos),
            cached=len(cached), to_check=len(to_check),
            skipped=[{"path": s.rel, "reason": s.reason} for s in listing.skipped],
            notes=list(listing.notes) + source_notes,
        )
        for v in listing.videos:
            d = cached.get(v.rel)
            if d is not None:
                summary.add_stored(d)
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
        runner: Runner | None = None
        last_cluster = 0.0
        try:
            if not to_check:
                results: Iterator[FileResult] = iter(())
            else:
                runner = open_runner(checker, cluster=cluster, workers=workers, timeout=timeout,
                                     executor=executor)
                results = runner.map(root, to_check, level)
                info = runner.info()
                if info is not None:
                    last_cluster = time.monotonic()
                    yield event("cluster", **info)
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
                    if runner is not None and now - last_cluster >= CLUSTER_EVERY_S:
                        info = runner.info()
                        if info is not None:
                            last_cluster = now
                            yield event("cluster", **info)
            if runner is not None and (info := runner.info()) is not None:
                yield event("cluster", **info)  # the final per-worker counts
        finally:
            # Runs on normal completion, an exception, or the consumer closing
            # the generator (Ctrl-C, a dropped pipe): what was checked stays checked.
            try:
                if batch:
                    store.put_many(batch)
                    store.put_fingerprints(batch)  # fingerprint hook (issue 15)
                    batch.clear()
            finally:
                if runner is not None:
                    runner.close()
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


def record_sources(store: ScanStore, root: Path, videos: list[Any],
                   manifest: dict[str, str] | None) -> list[str]:
    """Record where each clip came from (sidecar, manifest, name); write only what changed."""
    table = SourcesTable(store.db)
    known = table.all()
    found, notes = discover_sources(root, videos, manifest, known)
    changed = [v.rel for v in videos if found.get(v.rel) != known.get(v.rel)]
    if changed:
        table.replace_for(changed, {r: found[r] for r in changed if r in found})
    return notes[:20] + ([f"source: {len(notes) - 20} more unreadable sidecars"] if len(notes) > 20 else [])


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
    from core.userpaths import shown  # a ROOT with a newline stays one line

    root_path = Path(root).expanduser()
    if not ScanStore.exists_for(root_path):
        raise NexaraError(f"no scan yet for {shown(str(root))} — run `nexara scan {shown(str(root))}` first")
    store = ScanStore.for_root(root_path)
    if not store.has_results():
        store.close()
        raise NexaraError(f"no scan yet for {shown(str(root))} — run `nexara scan {shown(str(root))}` first")
    meta = store.get_meta("last_scan", {}) or {}
    return store, meta if isinstance(meta, dict) else {}
