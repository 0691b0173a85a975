"""Turning a scan's event stream into what the scan screen shows: plain Python.

The scan screen's reader thread (`nexara_tui.scan_reader`) only queues typed
events; once per tick the UI thread hands the queued batch to `ScanFeed.apply`,
which folds it into running counts and a list of new problem rows. One batch →
one redraw, however many files arrived (toolong's pattern), and this logic is
testable without a terminal. It reads events through the contract
(`core.events`): every key it uses is declared there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.events import (
    ClusterEvent,
    Event,
    EventType,
    JobStatus,
    SkippedFile,
    SummaryEvent,
    Verdict,
)
from core.records import FileResult
from core.summary import Summary
from nexara_tui.file_model import FileRow

PROBLEM_VERDICTS = frozenset({Verdict.WARNING, Verdict.DAMAGED, Verdict.CORRUPT})


@dataclass
class ScanFeed:
    summary: Summary = field(default_factory=Summary)
    root: str | None = None
    level: str | None = None
    total: int = 0  # files the scan will report (from `start`)
    done: int = 0  # file events seen
    cached: int = 0
    to_check: int | None = None
    rate: float | None = None
    eta_s: float | None = None
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finished: SummaryEvent | None = None  # the `summary` event
    error: str | None = None
    job_status: str | None = None
    started: bool = False
    cluster: ClusterEvent | None = None  # the last `cluster` event: where the scan runs on Dask

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def apply(self, events: Iterable[Event]) -> list[FileRow]:
        """Fold events in; return the new problem-file rows (warning/damaged/corrupt)."""
        new_rows: list[FileRow] = []
        for ev in events:
            if ev["type"] == EventType.FILE:
                res = ev.get("result") or {}
                try:
                    self.summary.add(FileResult.from_dict(dict(res)))
                except (KeyError, ValueError, TypeError):
                    continue  # a record from a newer engine we cannot read: skip, never crash
                self.done += 1
                if res.get("verdict") in PROBLEM_VERDICTS:
                    new_rows.append(FileRow.from_result(dict(res)))
            elif ev["type"] == EventType.PROGRESS:
                self.total = int(ev.get("total") or self.total)
                self.rate = ev.get("rate")
                self.eta_s = ev.get("eta_s")
            elif ev["type"] == EventType.START:
                self.started = True
                self.root = ev.get("root", self.root)
                self.level = ev.get("level", self.level)
                self.total = int(ev.get("total") or 0)
                self.cached = int(ev.get("cached") or 0)
                self.to_check = int(ev.get("to_check") or 0)
                self.skipped = list(ev.get("skipped") or [])
                self.notes = list(ev.get("notes") or [])
            elif ev["type"] == EventType.RESULTS:
                self.started = True
                self.root = ev.get("root", self.root)
                meta = ev.get("last_scan") or {}
                self.level = meta.get("level", self.level)
                self.total = int(meta.get("total") or 0)
            elif ev["type"] == EventType.SUMMARY:
                self.finished = ev
                # The engine's own counts are authoritative (identical unless events were lost).
                self.summary = Summary.from_dict(dict(ev.get("summary") or {}))
                self.level = ev.get("level", self.level)
                self.eta_s = 0.0
            elif ev["type"] == EventType.CLUSTER:
                self.cluster = ev
            elif ev["type"] == EventType.ERROR:
                self.error = str(ev.get("message", "error"))
            elif ev["type"] == EventType.JOB_END:
                rc = ev.get("rc")
                self.job_status = str(ev.get("status") or (JobStatus.FINISHED if not rc else JobStatus.FAILED))
                if self.job_status in (JobStatus.FAILED, JobStatus.LOST) and not self.error:
                    self.error = (f"the scan job ended with exit code {rc}" if rc is not None
                                  else f"the scan job was {self.job_status} (its process died)")
        return new_rows
