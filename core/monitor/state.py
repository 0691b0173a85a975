"""The monitor's model of one run: epochs so far, how the run stands, alarms already raised.

The CLI table and the TUI screen both feed it batches of parsed items and draw
what changed, so "best epoch", "ETA", "epochs since improvement" and "which
alarms are new" are computed once, here, without Textual or rich.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.monitor.alarms import Alarm, Thresholds, evaluate
from core.monitor.records import EpochRecord, RunEvent, RunInfo, best_epoch


@dataclass
class Change:
    """What one batch changed: rows to append, or (rarely) a full rebuild, and new alarms."""

    new_records: list[EpochRecord] = field(default_factory=list)
    rebuilt: bool = False  # earlier rows changed (a restarted run): redraw everything
    new_alarms: list[Alarm] = field(default_factory=list)
    run_changed: bool = False

    def __bool__(self) -> bool:
        return bool(self.new_records or self.rebuilt or self.new_alarms or self.run_changed)


class RunState:
    def __init__(self, source: str = "", fmt: str = "", thresholds: Thresholds | None = None) -> None:
        self.records: list[EpochRecord] = []
        self.run = RunInfo(source=source, format=fmt)
        self.thresholds = thresholds or Thresholds()
        self.alarms: list[Alarm] = []
        self._alarm_keys: set[tuple[str, int | None]] = set()
        self.first_seen: float | None = None

    # -- feeding -------------------------------------------------------------
    def apply(self, items: Iterable[EpochRecord | RunEvent]) -> Change:
        ch = Change()
        for item in items:
            if isinstance(item, EpochRecord):
                self._add_record(item, ch)
            else:
                self._apply_event(item, ch)
        if ch:
            for alarm in evaluate(self.records, self.run, self.thresholds):
                if alarm.key not in self._alarm_keys:
                    self._alarm_keys.add(alarm.key)
                    self.alarms.append(alarm)
                    ch.new_alarms.append(alarm)
        return ch

    def _add_record(self, rec: EpochRecord, ch: Change) -> None:
        if self.first_seen is None:
            self.first_seen = time.time()
        if rec.epochs is None and self.run.epochs is not None:
            rec.epochs = self.run.epochs
        if rec.epochs is not None:
            self.run.epochs = rec.epochs
        if self.records and rec.epoch <= self.records[-1].epoch:
            # The same file now holds a restarted or resumed run: keep what precedes it.
            self.records = [r for r in self.records if r.epoch < rec.epoch]
            ch.rebuilt = True
            ch.new_records = []
        self.records.append(rec)
        if not ch.rebuilt:
            ch.new_records.append(rec)

    def _apply_event(self, ev: RunEvent, ch: Change) -> None:
        d = ev.data
        ch.run_changed = True
        if ev.kind == "reset":
            self.records = []
            self._alarm_keys.clear()
            self.alarms = []
            self.run = RunInfo(source=self.run.source, format=self.run.format)
            ch.rebuilt = True
        elif ev.kind == "train_start":
            self.run.epochs = _int(d.get("epochs")) or self.run.epochs
            classes = d.get("classes")
            if isinstance(classes, list):
                self.run.classes = [str(c) for c in classes]
            self.run.run_dir = d.get("run_dir") or self.run.run_dir
            given = d.get("config")
            cfg = given if isinstance(given, dict) else {}
            self.run.patience = _int(cfg.get("early_stopping_patience", d.get("patience")))
            self.run.started = _float(d.get("t")) or self.run.started
        elif ev.kind == "train_end":
            self.run.best_epoch = _int(d.get("best_epoch"))
            self.run.model_path = d.get("model_path")
            self.run.stopped_early = bool(d.get("stopped_early")) if "stopped_early" in d else None
        elif ev.kind in ("job_end", "ended"):
            self.run.ended = True
            self.run.rc = _int(d.get("rc"))
            status = d.get("status")
            if not status and self.run.rc is not None:
                status = "finished" if self.run.rc == 0 else "failed"
            self.run.status = status
            tail = d.get("stderr_tail")
            if isinstance(tail, list):  # after any `error` event's message already kept
                self.run.stderr_tail = [*self.run.stderr_tail, *(str(x) for x in tail)]
        elif ev.kind == "error":
            msg = d.get("message")
            if msg:
                self.run.stderr_tail = [*self.run.stderr_tail, str(msg)]

    # -- derived -------------------------------------------------------------
    @property
    def best_epoch(self) -> int | None:
        return self.run.best_epoch or best_epoch(self.records)

    @property
    def last(self) -> EpochRecord | None:
        return self.records[-1] if self.records else None

    def elapsed(self, now: float | None = None) -> float | None:
        """Training time so far: the epochs' own seconds when every epoch has them."""
        if self.records and all(r.seconds is not None for r in self.records):
            return float(sum(r.seconds for r in self.records))  # type: ignore[misc]
        start = self.run.started or self.first_seen
        return (now or time.time()) - start if start else None

    def eta(self) -> float | None:
        """Remaining seconds at the recent pace (mean of the last 10 epochs' seconds)."""
        last = self.last
        if last is None or self.run.epochs is None or self.run.ended:
            return None
        recent = [r.seconds for r in self.records[-10:] if r.seconds is not None]
        if not recent:
            return None
        return max(0, self.run.epochs - last.epoch) * (sum(recent) / len(recent))

    def since_improvement(self) -> int | None:
        last = self.last
        if last is None:
            return None
        if last.since_improvement is not None:
            return last.since_improvement
        best = self.best_epoch
        return None if best is None else last.epoch - best

    def patience(self) -> int | None:
        last = self.last
        if last is not None and last.patience is not None:
            return last.patience
        return self.run.patience

    def status_line(self) -> str:
        """One line for a status bar or the CLI footer."""
        parts = []
        last = self.last
        if last is not None:
            parts.append(f"epoch {last.epoch}/{self.run.epochs or '?'}")
        best = self.best_epoch
        if best is not None:
            parts.append(f"best {best}")
        since, pat = self.since_improvement(), self.patience()
        if since is not None:
            parts.append(f"{since} since improvement" + (f" (patience {pat})" if pat is not None else ""))
        el = self.elapsed()
        if el is not None:
            parts.append(f"elapsed {fmt_duration(el)}")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {fmt_duration(eta)}")
        if self.run.ended:
            parts.append(f"ended: {self.run.status or 'finished'}"
                         + (f" rc={self.run.rc}" if self.run.rc not in (None, 0) else ""))
        return " · ".join(parts) if parts else "waiting for the first epoch…"


def fmt_duration(sec: float) -> str:
    if not math.isfinite(sec):
        return "?"
    sec = int(round(sec))
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None
