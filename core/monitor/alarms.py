"""Alarms: the failure signs worth waking up for, as pure functions over epoch records.

The user's last model learned "always predict non-violent" (violent recall
23 %) and nobody saw it until the end of a 10-hour run. These rules look for
that and its cousins as epochs arrive. Each rule reports one alarm per
*episode* (a streak of epochs in the bad state), at the epoch the episode
began or was confirmed, so the same problem is not announced every epoch and
an alarm's identity (`key`) is stable as more epochs arrive: a screen can
notify each alarm exactly once by remembering the keys it has shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.monitor.records import EpochRecord, RunInfo

WARNING = "warning"
ERROR = "error"


@dataclass(frozen=True)
class Thresholds:
    """Every alarm threshold in one place (the seed's deployment gate allows an 8 % gap)."""

    max_gap: float = 0.08  # per-class recall gap above this is an alarm
    collapse_low: float = 0.10  # a class's recall at or below this ...
    collapse_high: float = 0.90  # ... while another's is at or above this = "always predicts"
    overfit_epochs: int = 5  # K consecutive epochs of val_loss up while loss goes down
    stderr_lines: int = 20  # lines of a dead job's stderr to show


@dataclass(frozen=True)
class Alarm:
    code: str  # gap | collapse | overfit | nan | job_died
    severity: str  # warning | error
    epoch: int | None
    message: str
    run: int | None = None  # which run of a log holding several (set by RunState)

    @property
    def key(self) -> tuple[int | None, str, int | None]:
        """Identity for showing each alarm once: the run, the rule and the epoch it fired at."""
        return (self.run, self.code, self.epoch)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "severity": self.severity,
                                  "epoch": self.epoch, "message": self.message}
        if self.run is not None:
            out["run"] = self.run
        return out


def _pct(v: float) -> str:
    return f"{v * 100:.1f} %" if math.isfinite(v) else str(v)


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def gap_alarms(records: Sequence[EpochRecord], th: Thresholds = Thresholds()) -> list[Alarm]:
    """Per-class recall gap above `max_gap`: one alarm at the first epoch of each streak."""
    out: list[Alarm] = []
    in_streak = False
    for r in records:
        gap = r.gap
        bad = gap is not None and math.isfinite(gap) and gap > th.max_gap
        if bad and gap is not None and not in_streak:
            detail = ", ".join(f"{k} {_pct(v)}" for k, v in r.recall.items())
            out.append(Alarm("gap", WARNING, r.epoch,
                             f"per-class gap {_pct(gap)} above {_pct(th.max_gap)}"
                             + (f" ({detail})" if detail else "")))
        in_streak = bad
    return out


def collapse_alarms(records: Sequence[EpochRecord], th: Thresholds = Thresholds()) -> list[Alarm]:
    """One class's recall near 0 while another's is near 1: the model always predicts one class."""
    out: list[Alarm] = []
    current: str | None = None  # the class it always predicts, in the current streak
    for r in records:
        vals = {k: v for k, v in r.recall.items() if math.isfinite(v)}
        winner = None
        if len(vals) >= 2:
            low = min(vals, key=lambda k: vals[k])
            high = max(vals, key=lambda k: vals[k])
            if vals[low] <= th.collapse_low and vals[high] >= th.collapse_high:
                winner = high
                if winner != current:
                    out.append(Alarm(
                        "collapse", ERROR, r.epoch,
                        f"always predicts {high}: {low} recall {_pct(vals[low])}, "
                        f"{high} recall {_pct(vals[high])}"))
        current = winner
    return out


def overfit_alarms(records: Sequence[EpochRecord], th: Thresholds = Thresholds()) -> list[Alarm]:
    """val_loss rising while loss falls for `overfit_epochs` consecutive epochs."""
    out: list[Alarm] = []
    k = max(1, th.overfit_epochs)
    streak = 0
    for i, (prev, r) in enumerate(zip(records, records[1:], strict=False), start=1):
        ok = all(_finite(v) for v in (prev.loss, r.loss, prev.val_loss, r.val_loss))
        diverging = ok and r.val_loss > prev.val_loss and r.loss < prev.loss  # type: ignore[operator]
        streak = streak + 1 if diverging else 0
        if streak == k:
            start = records[i - k]  # the epoch before the first rise
            first = r.epoch - k + 1
            out.append(Alarm("overfit", WARNING, r.epoch,
                             f"overfitting since epoch {first}: val_loss up {k} epochs running "
                             f"(epoch {start.epoch} {start.val_loss:.4f} -> epoch {r.epoch} "
                             f"{r.val_loss:.4f}) while loss fell "
                             f"({start.loss:.4f} -> {r.loss:.4f})"))
    return out


def nan_alarms(records: Sequence[EpochRecord], th: Thresholds = Thresholds()) -> list[Alarm]:
    """A NaN or infinite loss: training has diverged and nothing after it is worth waiting for."""
    out: list[Alarm] = []
    in_streak = False
    for r in records:
        bad = [n for n in ("loss", "val_loss") if getattr(r, n) is not None
               and not math.isfinite(getattr(r, n))]
        if bad and not in_streak:
            what = " and ".join(f"{n} is {getattr(r, n)}" for n in bad)
            out.append(Alarm("nan", ERROR, r.epoch, f"{what} at epoch {r.epoch}"))
        in_streak = bool(bad)
    return out


def job_alarms(run: RunInfo, records: Sequence[EpochRecord], th: Thresholds = Thresholds()) -> list[Alarm]:
    """The job ended badly: non-zero exit, or lost (its process vanished without saying)."""
    if not run.ended:
        return []
    died = (run.rc is not None and run.rc != 0) or run.status in ("lost", "failed")
    if not died:
        return []
    last = records[-1].epoch if records else None
    how = f"exit code {run.rc}" if run.rc not in (None, 0) else (run.status or "died")
    msg = f"job died: {how}" + (f" after epoch {last}" if last is not None else " before any epoch")
    tail = run.stderr_tail[-th.stderr_lines:]
    if tail:
        msg += "\n" + "\n".join(tail)
    return [Alarm("job_died", ERROR, last, msg)]


def evaluate(records: Sequence[EpochRecord], run: RunInfo | None = None,
             th: Thresholds = Thresholds()) -> list[Alarm]:
    """Every alarm the records (and, if given, the run's end) raise, in epoch order."""
    records = list(records)
    collapses = collapse_alarms(records, th)
    collapsed_at = {a.epoch for a in collapses}
    # A collapse is the worst kind of gap: one alarm for it, not two.
    gaps = [a for a in gap_alarms(records, th) if a.epoch not in collapsed_at]
    out = nan_alarms(records, th) + collapses + gaps + overfit_alarms(records, th)
    out.sort(key=lambda a: (a.epoch if a.epoch is not None else 0))
    if run is not None:
        out += job_alarms(run, records, th)
    return out
