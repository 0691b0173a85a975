"""Turning a scan's event stream into what the scan screen shows: plain Python.

The scan screen's reader thread only queues raw events; every 0.25 s the UI
thread hands the queued batch to `ScanFeed.apply`, which folds it into running
counts and a list of new problem rows. One batch → one redraw, however many
files arrived (toolong's pattern), and this logic is testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.records import FileResult
from core.summary import Summary
from nexara_tui.file_model import FileRow

PROBLEM_VERDICTS = frozenset({"warning", "damaged", "corrupt"})


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
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finished: dict[str, Any] | None = None  # the `summary` event
    error: str | None = None
    job_status: str | None = None
    started: bool = False
    cluster: dict[str, Any] | None = None  # the last `cluster` event (core.cluster.ClusterInfo)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def apply(self, events: Iterable[dict[str, Any]]) -> list[FileRow]:
        """Fold events in; return the new problem-file rows (warning/damaged/corrupt)."""
        new_rows: list[FileRow] = []
        for ev in events:
            t = ev.get("type")
            if t == "file":
                res = ev.get("result") or {}
                try:
                    self.summary.add(FileResult.from_dict(res))
                except (KeyError, ValueError, TypeError):
                    continue  # a record from a newer engine we cannot read: skip, never crash
                self.done += 1
                if res.get("verdict") in PROBLEM_VERDICTS:
                    new_rows.append(FileRow.from_result(res))
            elif t == "progress":
                self.total = int(ev.get("total") or self.total)
                self.rate = ev.get("rate")
                self.eta_s = ev.get("eta_s")
            elif t in ("start", "results"):
                self.started = True
                self.root = ev.get("root", self.root)
                self.level = ev.get("level", self.level)
                if t == "start":
                    self.total = int(ev.get("total") or 0)
                    self.cached = int(ev.get("cached") or 0)
                    self.to_check = int(ev.get("to_check") or 0)
                    self.skipped = list(ev.get("skipped") or [])
                    self.notes = list(ev.get("notes") or [])
                else:
                    meta = ev.get("last_scan") or {}
                    self.level = meta.get("level", self.level)
                    self.total = int(meta.get("total") or 0)
            elif t == "summary":
                self.finished = ev
                # The engine's own counts are authoritative (identical unless events were lost).
                self.summary = Summary.from_dict(ev.get("summary") or {})
                self.level = ev.get("level", self.level)
                self.eta_s = 0.0
            elif t == "cluster":
                self.cluster = ev
            elif t == "error":
                self.error = str(ev.get("message", "error"))
            elif t == "job_end":
                self.job_status = str(ev.get("status") or ("finished" if not ev.get("rc") else "failed"))
                if self.job_status in ("failed", "lost") and not self.error:
                    rc = ev.get("rc")
                    self.error = (f"the scan job ended with exit code {rc}" if rc is not None
                                  else f"the scan job was {self.job_status} (its process died)")
        return new_rows
