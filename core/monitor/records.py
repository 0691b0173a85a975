"""What the monitor knows about a training run: one record per epoch, plus run state.

Every source (our trainer's JSON-lines events, a Keras `CSVLogger` file, Keras
console output) is turned into the same `EpochRecord` with canonical names
(1-based epoch, `loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`,
`seconds`, per-class `recall`), so the table, the curves, the alarms and
`--json` never care where a number came from. Metrics a source has beyond those
are kept in `extras` rather than dropped: a user's own script may log things we
have no column for, and they still show up in `--json`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Canonical scalar fields, in the order the table and --json show them.
METRIC_FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
# Our trainer's progress fields (present only in our own records).
PROGRESS_FIELDS = ("best_epoch", "best_val_accuracy", "since_improvement", "patience")


_RESERVED = {"epoch", "epochs", "run", "recall", "gap", "type", "v", "t", *METRIC_FIELDS,
             *PROGRESS_FIELDS}


def _num(v: Any) -> float | None:
    """A float from a JSON/CSV value, keeping NaN/inf (they are what alarms look for)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if not s or s.upper() == "NA":
            return None
        try:
            return float(s)
        except ValueError:
            return None
    return None


def _int(v: Any) -> int | None:
    f = _num(v)
    return None if f is None or not math.isfinite(f) else int(f)


def _json_num(v: float) -> float | str:
    """JSON has no NaN/inf: write them as strings so the record stays loss-free and valid."""
    return v if math.isfinite(v) else str(v)


@dataclass
class EpochRecord:
    """The end-of-epoch numbers of one epoch, whatever wrote them."""

    epoch: int  # 1-based
    epochs: int | None = None  # planned total, when the source says
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    lr: float | None = None
    seconds: float | None = None
    recall: dict[str, float] = field(default_factory=dict)  # class -> validation recall
    gap_value: float | None = None  # as the source reported it
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    since_improvement: int | None = None
    patience: int | None = None
    extras: dict[str, float] = field(default_factory=dict)
    # Which run of the log this epoch belongs to (1 = the oldest): a CSVLogger file appended
    # over two `fit()` calls, or one TensorBoard folder reused, holds several. Set by the
    # source when it knows (TensorBoard, our own --json output), else by `RunState`.
    run: int | None = None

    @property
    def gap(self) -> float | None:
        """Per-class recall gap: the source's value, else max - min of the recalls."""
        if self.gap_value is not None:
            return self.gap_value
        vals = [v for v in self.recall.values() if math.isfinite(v)]
        if len(vals) >= 2:
            return max(vals) - min(vals)
        return None

    def to_json(self) -> dict[str, Any]:
        """The record as `--json` prints it: only the keys the source had."""
        out: dict[str, Any] = {"epoch": self.epoch}
        if self.epochs is not None:
            out["epochs"] = self.epochs
        for name in METRIC_FIELDS:
            v = getattr(self, name)
            if v is not None:
                out[name] = _json_num(v)
        if self.recall:
            out["recall"] = {k: _json_num(v) for k, v in self.recall.items()}
        if self.gap is not None:
            out["gap"] = _json_num(self.gap)
        for name in PROGRESS_FIELDS:
            v = getattr(self, name)
            if v is not None:
                out[name] = _json_num(v) if isinstance(v, float) else v
        for k, v in self.extras.items():
            # A Keras metric named like one of our keys (its `recall` is the positive
            # class's training recall, a number, not our per-class dict) keeps a suffix.
            key = k if k not in _RESERVED else f"{k}_metric"
            out.setdefault(key, _json_num(v))
        return out

    @classmethod
    def from_event(cls, ev: dict[str, Any]) -> EpochRecord:
        """From our trainer's `epoch` event (or a line of RUN_DIR/epochs.jsonl)."""
        recall_raw = ev.get("recall") or {}
        recall = {}
        if isinstance(recall_raw, dict):
            for k, v in recall_raw.items():
                f = _num(v)
                if f is not None:
                    recall[str(k)] = f
        known = {"v", "type", "t", "epoch", "epochs", "run", "recall", "gap", *METRIC_FIELDS,
                 *PROGRESS_FIELDS}
        extras = {}
        for k, v in ev.items():
            if k not in known:
                f = _num(v)
                if f is not None:
                    extras[k] = f
        epoch = _int(ev.get("epoch"))
        return cls(
            epoch=epoch if epoch is not None else 0,
            epochs=_int(ev.get("epochs")),
            loss=_num(ev.get("loss")),
            accuracy=_num(ev.get("accuracy")),
            val_loss=_num(ev.get("val_loss")),
            val_accuracy=_num(ev.get("val_accuracy")),
            lr=_num(ev.get("lr")),
            seconds=_num(ev.get("seconds")),
            recall=recall,
            gap_value=_num(ev.get("gap")),
            best_epoch=_int(ev.get("best_epoch")),
            best_val_accuracy=_num(ev.get("best_val_accuracy")),
            since_improvement=_int(ev.get("since_improvement")),
            patience=_int(ev.get("patience")),
            extras=extras,
            run=_int(ev.get("run")),
        )


# Keras metric names -> our canonical names (Keras 2 used `acc`/`lr`, Keras 3 `learning_rate`).
_ALIASES = {
    "acc": "accuracy",
    "val_acc": "val_accuracy",
    "binary_accuracy": "accuracy",
    "val_binary_accuracy": "val_accuracy",
    "learning_rate": "lr",
    "lr": "lr",
}


def from_metrics(epoch: int, metrics: dict[str, float], epochs: int | None = None,
                 seconds: float | None = None) -> EpochRecord:
    """A record from Keras-named metrics (CSVLogger columns or console `name: value` pairs).

    `val_recall_<class>` / `val_<class>_recall` become per-class recall, since
    that is how a Keras script would log what our trainer reports natively.
    """
    rec = EpochRecord(epoch=epoch, epochs=epochs, seconds=seconds)
    for raw_name, value in metrics.items():
        name = _ALIASES.get(raw_name, raw_name)
        if name in METRIC_FIELDS and name != "seconds" and getattr(rec, name) is None:
            setattr(rec, name, value)
            continue
        cls_name = None
        if raw_name.startswith("val_recall_"):
            cls_name = raw_name[len("val_recall_"):]
        elif raw_name.startswith("val_") and raw_name.endswith("_recall") and len(raw_name) > 11:
            cls_name = raw_name[4:-len("_recall")]
        if cls_name:
            rec.recall[cls_name] = value
        else:
            rec.extras[raw_name] = value
    return rec


@dataclass
class RunInfo:
    """Everything but the epochs: what the run is, and how (or whether) it ended."""

    source: str = ""  # job id or file path
    format: str = ""  # "events" | "jsonl" | "csv" | "console" | "tensorboard"
    epochs: int | None = None  # planned total
    classes: list[str] = field(default_factory=list)
    run_dir: str | None = None
    patience: int | None = None
    started: float | None = None  # unix time of train_start (ours) or of the first record seen
    ended: bool = False
    status: str | None = None  # job status at the end: finished / failed / lost / cancelled
    rc: int | None = None
    model_path: str | None = None
    best_epoch: int | None = None
    stopped_early: bool | None = None
    stderr_tail: list[str] = field(default_factory=list)


@dataclass
class RunEvent:
    """A non-epoch happening from a source: `train_start`, `train_end`, `job_end`, `reset`."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def best_epoch(records: list[EpochRecord]) -> int | None:
    """The best epoch: the trainer's own say if it gave one, else max val_accuracy, else min val_loss.

    Ties go to the earliest epoch, as Keras' EarlyStopping/ModelCheckpoint would.
    """
    if not records:
        return None
    last = records[-1]
    if last.best_epoch is not None:
        return last.best_epoch
    scored = [(r.val_accuracy, -r.epoch, r.epoch) for r in records
              if r.val_accuracy is not None and math.isfinite(r.val_accuracy)]
    if scored:
        return max(scored)[2]
    scored = [(-r.val_loss, -r.epoch, r.epoch) for r in records
              if r.val_loss is not None and math.isfinite(r.val_loss)]
    if scored:
        return max(scored)[2]
    return None
