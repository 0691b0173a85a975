"""One `nexara repair` run, as a stream of events: select → attempt each file → (ask) → apply.

Where the data is, this is the whole command; the CLI renders its events, the
TUI and `--host` consume them as JSON lines. A run that changes the dataset
holds the journal's lock from the first candidate to the last move, so no
quarantine or restore runs on the same dataset meanwhile; a dry run writes
nothing under ROOT (its candidates are staged in the state directory and
removed at the end).

Events: `recovered` (an interrupted move finished or rolled back), `resumed`
(an interrupted repair put in place), `skipped` (changed/vanished/not scanned/
already in quarantine), `repair_plan` (how many files are considered),
`candidate` (per file: what repair can do, see `engine.Attempt`), `progress`,
`repair_summary` (totals), then, when applying, `repaired` / `skipped` per
file and `batch` (op "repair").
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import event
from core.records import FileResult
from core.repair.engine import Attempt, Context, RepairOptions, attempt
from core.store import DATASET, QUARANTINE, ScanStore


@dataclass
class Selection:
    results: list[FileResult] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (rel, reason, message)


def select(root: Path, store: ScanStore, files: set[str] | None) -> Selection:
    """Scanned dataset files that are not ok and unchanged since their scan."""
    import os

    sel = Selection()
    seen: set[str] = set()
    for r in store.results(DATASET):
        if files is not None and r.path not in files:
            continue
        seen.add(r.path)
        if r.verdict.value == "ok":
            continue
        try:
            st = os.stat(root / r.path)
        except FileNotFoundError:
            sel.skipped.append((r.path, "vanished", f"{r.path}: vanished since the scan"))
            continue
        if (st.st_size, st.st_mtime_ns) != (r.size, r.mtime_ns):
            sel.skipped.append((r.path, "changed", f"{r.path}: changed since the scan (size/mtime); rescan it"))
            continue
        sel.results.append(r)
    for rel in sorted((files or set()) - seen):
        got = store.get(rel)
        if got and got[1] == QUARANTINE:
            sel.skipped.append((rel, "already", f"{rel}: in quarantine; restore it first"))
        else:
            sel.skipped.append((rel, "not_scanned", f"{rel}: not in the scan results"))
    return sel


@dataclass
class Totals:
    considered: int = 0
    repairable: int = 0
    no_strategy: int = 0
    seconds_recovered: float = 0.0
    seconds_present: float = 0.0  # over the repairable files
    seconds_present_all: float = 0.0  # over every file a strategy fitted
    by_strategy: dict[str, int] = field(default_factory=dict)
    why_not: dict[str, int] = field(default_factory=dict)
    corrupt_recovered: int = 0
    recovered_by_class: dict[str, int] = field(default_factory=dict)

    def add(self, a: Attempt) -> None:
        self.considered += 1
        if a.status == "no_strategy":
            self.no_strategy += 1
            key = a.why.split(":", 1)[0]
            self.why_not[key] = self.why_not.get(key, 0) + 1
            return
        self.seconds_present_all += a.seconds_present or 0.0
        if not a.repairable:
            key = a.why.split(":", 1)[0] + ": " + _short(a.why)
            self.why_not[key] = self.why_not.get(key, 0) + 1
            return
        self.repairable += 1
        self.seconds_recovered += a.seconds_recovered
        self.seconds_present += a.seconds_present or 0.0
        self.by_strategy[a.strategy] = self.by_strategy.get(a.strategy, 0) + 1
        if a.before["verdict"] == "corrupt":
            self.corrupt_recovered += 1
            self.recovered_by_class[a.cls] = self.recovered_by_class.get(a.cls, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "considered": self.considered, "repairable": self.repairable, "no_strategy": self.no_strategy,
            "tried": self.considered - self.no_strategy,
            "seconds_recovered": round(self.seconds_recovered, 3),
            "seconds_present": round(self.seconds_present, 3),
            "seconds_present_tried": round(self.seconds_present_all, 3),
            "by_strategy": dict(sorted(self.by_strategy.items())),
            "why_not": dict(sorted(self.why_not.items(), key=lambda kv: -kv[1])),
            "corrupt_recovered": self.corrupt_recovered,
            "recovered_by_class": dict(sorted(self.recovered_by_class.items())),
        }


_GISTS = (
    ("too short", "too short (under --min-seconds)"),
    ("would keep", "usable as it is; repair would drop over 10 % of it"),
    ("no better", "no better than the original"),
    ("the candidate does not verify", "the candidate does not verify"),
    ("no clean stretch", "no clean stretch starting at a keyframe"),
    ("no healthy clip", "no healthy clip's decoder configuration fits"),
    ("the dataset has no healthy", "no healthy H.264/HEVC MP4 clip to borrow a configuration from"),
)


def _short(why: str) -> str:
    """The gist of a why-not line, for grouping."""
    text = why.split(":", 1)[1].strip() if ":" in why else why
    for prefix, gist in _GISTS:
        if text.startswith(prefix):
            return gist
    return text[:60]


def repair_events(
    root: Path,
    options: RepairOptions,
    files: set[str] | None = None,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    from core.journal import Journal, new_batch_id
    from core.paths import state_dir
    from core.quarantine import recover
    from core.quarantine.paths import Resolver, resolve_root
    from core.quarantine.repaired import clean_staging
    from core.repair import apply as ap
    from core.repair.reference import ReferencePicker
    from core.userpaths import shown

    root = resolve_root(root)  # '' refused (it would mean the current folder); resolved
    if not ScanStore.exists_for(root):
        raise NexaraError(f"{shown(str(root))}: no scan results; run `nexara scan {shown(str(root))}` first")
    if options.min_seconds < 0:
        raise NexaraError(f"--min-seconds {options.min_seconds:g}: must be >= 0")
    if options.reference:
        _check_reference(root, options.reference)
    # Without --yes and nobody to ask, the run is a dry run that refuses at the end.
    applying = not dry_run and (yes or confirm is not None)
    if applying:
        Resolver(root)  # the quarantine folder must be a real folder of ROOT (not a symlink into it)
    journal: Journal | None = None
    batch = new_batch_id()
    t0 = time.perf_counter()
    tmp: Path | None = None
    with ScanStore.for_root(root) as store:
        try:
            if applying:
                ap.check_writable(root)
                journal = Journal(root).open()  # held until the last move: one writer per dataset
                for act in recover(root, store=store, journal=journal):
                    yield event("recovered", **act.to_dict())
                for x in ap.resume_interrupted(root, journal, store):
                    yield event("resumed", **x.to_dict())
                ap.sync_markers(root, journal, store)
                clean_staging(root, journal.read())
                staging = ap.staging_dir(root, batch)
            else:
                base = state_dir() / "repair-staging"
                base.mkdir(parents=True, exist_ok=True)
                for old in base.glob("dry-*"):  # left by a dry run that was killed (a day ago or more)
                    with contextlib.suppress(OSError):
                        if time.time() - old.stat().st_mtime > 86400:
                            shutil.rmtree(old, ignore_errors=True)
                tmp = Path(tempfile.mkdtemp(prefix="dry-", dir=base))
                staging = tmp
            sel = select(root, store, files)
            for rel, reason, msg in sel.skipped:
                yield event("skipped", rel=rel, status="skipped", reason=reason, message=msg)
            yield event("repair_plan", root=str(root), count=len(sel.results), dry_run=not applying,
                        min_seconds=options.min_seconds, reference=options.reference)
            picker = ReferencePicker(root, list(store.results(DATASET)), named=options.reference)
            ctx = Context(root, staging, options, picker)
            totals = Totals()
            kept: list[Attempt] = []
            t0 = last = time.perf_counter()
            n = len(sel.results)
            for i, r in enumerate(sel.results, start=1):
                a = attempt(r, ctx)
                totals.add(a)
                if a.repairable:
                    kept.append(a)
                yield event("candidate", **a.to_dict())
                now = time.perf_counter()
                if now - last >= 0.25 or i == n:
                    last = now
                    rate = i / max(now - t0, 1e-6)
                    yield event("progress", done=i, total=n, rate=round(rate, 2),
                                eta_s=round((n - i) / rate, 1) if rate else None)
            summary = totals.to_dict()
            yield event("repair_summary", dry_run=not applying, **summary)
            if not applying:
                if not dry_run and kept:
                    raise NexaraError(
                        f"{shown(str(root))}: would repair {len(kept)} file(s); refusing without --yes "
                        "(no terminal to confirm on). Re-run with --yes, or --dry-run to look.")
                return
            if not kept:
                yield event("batch", batch=None, op="repair", repaired=0, skipped=0, moved=0, bytes=0,
                            seconds=round(time.perf_counter() - t0, 3))
                return
            if not yes and confirm is not None and not confirm(summary):
                yield event("log", message="nothing repaired")
                return
            ctx.crash.hit("repair_before_apply")
            assert journal is not None
            applied = ap.apply(root, journal, batch, kept, store)
            done = [x for x in applied if x.status == "repaired"]
            for x in applied:
                yield event("repaired" if x.status == "repaired" else "skipped", **x.to_dict())
            by_class: dict[str, int] = {}
            for x in done:
                assert x.attempt is not None
                if x.attempt.before["verdict"] == "corrupt":
                    by_class[x.attempt.cls] = by_class.get(x.attempt.cls, 0) + 1
            yield event("batch", batch=batch if done or len(applied) > len(done) else None, op="repair",
                        repaired=len(done), moved=len(done), skipped=len(applied) - len(done),
                        bytes=sum(x.attempt.size for x in done if x.attempt),
                        seconds=round(time.perf_counter() - t0, 3),
                        seconds_recovered=round(sum(x.attempt.seconds_recovered for x in done
                                                    if x.attempt), 3),
                        seconds_present=round(sum((x.attempt.seconds_present or 0) for x in done
                                                  if x.attempt), 3),
                        corrupt_recovered=sum(by_class.values()), recovered_by_class=by_class)
        finally:
            if journal is not None:
                with contextlib.suppress(Exception):
                    clean_staging(root, journal.read())  # rejected candidates, an unanswered question
                journal.close()
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def _check_reference(root: Path, rel: str) -> None:
    from core.repair.rebuild_index import RebuildError, read_config

    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise NexaraError(f"--reference {rel}: outside {root}; refusing")
    if not path.is_file():
        raise NexaraError(f"--reference {rel}: no such file in {root}")
    try:
        read_config(path)
    except RebuildError as exc:
        raise NexaraError(f"--reference {rel}: {exc}") from exc
