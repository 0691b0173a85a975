"""The monitor's model of one run: epochs so far, how the run stands, alarms already raised.

The CLI table and the TUI screen both feed it batches of parsed items and draw
what changed, so "best epoch", "ETA", "epochs since improvement" and "which
alarms are new" are computed once, here, without Textual or rich.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from core.monitor.alarms import Alarm, Thresholds, evaluate
from core.monitor.records import EpochRecord, RunEvent, RunInfo, best_epoch


@dataclass
class Change:
    """What one batch changed: rows to append, rows replaced, (rarely) a full rebuild, new alarms.

    Every record carries its `run`; `new_records` may start a new run (`new_run`).
    """

    new_records: list[EpochRecord] = field(default_factory=list)
    revised: list[EpochRecord] = field(default_factory=list)  # same run and epoch, newer figures
    rebuilt: bool = False  # earlier rows changed (a resumed run, a reset): redraw everything
    new_run: bool = False
    new_alarms: list[Alarm] = field(default_factory=list)
    run_changed: bool = False
    notices: list[str] = field(default_factory=list)  # what the source could not read, once each

    def __bool__(self) -> bool:
        return bool(self.new_records or self.revised or self.rebuilt or self.new_alarms
                    or self.run_changed or self.notices)


@dataclass
class Run:
    """One `fit()` of a log that holds several (an appended CSVLogger file, a reused log folder)."""

    index: int  # 1 = the oldest in the log
    records: list[EpochRecord] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)

    @property
    def best_epoch(self) -> int | None:
        return best_epoch(self.records)

    def label(self) -> str:
        if not self.records:
            return f"run {self.index}"
        first, last = self.records[0].epoch, self.records[-1].epoch
        return f"run {self.index} (epochs {first}–{last})" if last != first else \
            f"run {self.index} (epoch {first})"


class RunState:
    """The runs of one log; `records`, `best_epoch`, `eta`… speak of the newest run.

    A record whose epoch is not after the newest run's last one starts a new run
    when it goes back to (or before) that run's first epoch — a second `fit()`
    appending to the same CSVLogger file starts at epoch 1 again — and otherwise
    replaces the epochs it repeats (a run resumed from its last checkpoint).
    Sources that know their runs (TensorBoard) say so in `EpochRecord.run`.
    """

    def __init__(self, source: str = "", fmt: str = "", thresholds: Thresholds | None = None) -> None:
        self.runs: list[Run] = []
        self.run = RunInfo(source=source, format=fmt)
        self.thresholds = thresholds or Thresholds()
        self.alarms: list[Alarm] = []  # every run's, in the order they were raised
        self._alarm_keys: set[tuple[int | None, str, int | None]] = set()
        self.first_seen: float | None = None
        self.notices: list[str] = []

    @property
    def records(self) -> list[EpochRecord]:
        """The newest run's epochs."""
        return self.runs[-1].records if self.runs else []

    @property
    def current(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    # -- feeding -------------------------------------------------------------
    def apply(self, items: Iterable[EpochRecord | RunEvent]) -> Change:
        ch = Change()
        touched: set[int] = set()
        for item in items:
            if isinstance(item, EpochRecord):
                touched.add(self._add_record(item, ch))
            else:
                self._apply_event(item, ch)
                if self.runs:
                    touched.add(self.runs[-1].index)
        if ch:
            if not self.runs:  # a job that died before its first epoch
                self._raise(evaluate([], self.run, self.thresholds), None, ch)
            for run in self.runs:
                if run.index in touched:
                    last = run is self.runs[-1]
                    self._raise(evaluate(run.records, self.run if last else None, self.thresholds),
                                run, ch)
        return ch

    def _raise(self, alarms: list[Alarm], run: Run | None, ch: Change) -> None:
        for alarm in alarms:
            if run is not None:
                alarm = replace(alarm, run=run.index)
            if alarm.key not in self._alarm_keys:
                self._alarm_keys.add(alarm.key)
                if run is not None:
                    run.alarms.append(alarm)
                self.alarms.append(alarm)
                ch.new_alarms.append(alarm)

    def _get_run(self, index: int, ch: Change) -> Run:
        while len(self.runs) < index:
            self.runs.append(Run(len(self.runs) + 1))
            ch.new_run = ch.new_run or len(self.runs) > 1
        return self.runs[index - 1]

    def _add_record(self, rec: EpochRecord, ch: Change) -> int:
        if self.first_seen is None:
            self.first_seen = time.time()
        if rec.run is not None and rec.run >= 1:
            run = self._get_run(rec.run, ch)
        else:
            run = self.current or self._get_run(1, ch)
            if run.records and rec.epoch <= run.records[-1].epoch:
                if rec.epoch <= run.records[0].epoch:
                    run = self._get_run(run.index + 1, ch)  # a new fit() in the same log
                else:
                    # The run resumed from a checkpoint: keep what precedes the repeated epochs.
                    run.records = [r for r in run.records if r.epoch < rec.epoch]
                    ch.rebuilt = True
                    ch.new_records = []
        rec.run = run.index
        if rec.epochs is None:  # planned epochs: the run's own say, or the trainer's for one run
            rec.epochs = run.records[-1].epochs if run.records else (
                self.run.epochs if len(self.runs) == 1 else None)
        if run is self.runs[-1] and (rec.epochs is not None or len(self.runs) > 1):
            self.run.epochs = rec.epochs
        recs = run.records
        if recs and rec.epoch <= recs[-1].epoch:
            # A source that numbers its runs re-sent an epoch (more of its figures arrived).
            i = bisect.bisect_left([r.epoch for r in recs], rec.epoch)
            if i < len(recs) and recs[i].epoch == rec.epoch:
                recs[i] = rec
                if not ch.rebuilt:
                    ch.new_records = [r for r in ch.new_records
                                      if not (r.run == rec.run and r.epoch == rec.epoch)]
                    ch.revised = [r for r in ch.revised
                                  if not (r.run == rec.run and r.epoch == rec.epoch)]
                    ch.revised.append(rec)
            else:
                recs.insert(i, rec)
                ch.rebuilt = True
            return run.index
        recs.append(rec)
        if not ch.rebuilt:
            ch.new_records.append(rec)
        return run.index

    def _apply_event(self, ev: RunEvent, ch: Change) -> None:
        d = ev.data
        if ev.kind == "notice":
            msg = str(d.get("message", ""))
            if msg and msg not in self.notices:
                self.notices.append(msg)
                ch.notices.append(msg)
            return
        ch.run_changed = True
        if ev.kind == "reset":
            self.runs = []
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
            message = d.get("message")
            if message:
                self.run.stderr_tail = [*self.run.stderr_tail, str(message)]

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
        if len(self.runs) > 1:
            parts.append(f"run {len(self.runs)} of {len(self.runs)}")
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
