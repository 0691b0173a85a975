"""Per-class metrics, the 95 % interval, and the per-epoch record a training job writes.

The epoch record is a wire format: the monitor (TUI and `nexara monitor`) parses
exactly these keys, so they are built in one place (`epoch_record`) and never
renamed. Overall accuracy hides the failure the seed is about (a model that
says "nonviolent" for everything scores 69 % on a 31/69 split), so every epoch
also reports recall per class and the gap between them.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.events import event


def recall_per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Recall of each class (index == label); 0.0 for a class with no examples."""
    out = {}
    for label, name in enumerate(classes):
        mask = y_true == label
        out[name] = float((y_pred[mask] == label).mean()) if mask.any() else 0.0
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = 2) -> list[list[int]]:
    """matrix[true][predicted]."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y_true.astype(int), y_pred.astype(int)), 1)
    return m.tolist()


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion (sane at small n and near 0 or 1)."""
    if total <= 0:
        return (0.0, 1.0)
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def gap(recalls: dict[str, float]) -> float:
    vals = list(recalls.values())
    return float(max(vals) - min(vals)) if vals else 0.0


@dataclass
class BestSoFar:
    """Best validation accuracy so far; rebuilt from epochs.jsonl when a run resumes."""

    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    since_improvement: int = 0

    def update(self, epoch: int, val_accuracy: float) -> None:
        if val_accuracy > self.best_val_accuracy:
            self.best_epoch, self.best_val_accuracy, self.since_improvement = epoch, val_accuracy, 0
        else:
            self.since_improvement += 1


def epoch_record(
    *, epoch: int, epochs: int, logs: dict[str, Any], recalls: dict[str, float], lr: float,
    seconds: float, best: BestSoFar, patience: int,
) -> dict[str, Any]:
    """The `epoch` event; its keys are the monitor's contract."""
    return event(
        "epoch", epoch=epoch, epochs=epochs,
        loss=_f(logs.get("loss")), accuracy=_f(logs.get("accuracy")),
        val_loss=_f(logs.get("val_loss")), val_accuracy=_f(logs.get("val_accuracy")),
        recall={k: round(v, 6) for k, v in recalls.items()}, gap=round(gap(recalls), 6),
        lr=float(lr), seconds=round(seconds, 3), best_epoch=best.best_epoch,
        best_val_accuracy=_f(best.best_val_accuracy), since_improvement=best.since_improvement,
        patience=patience,
    )


def _f(v: Any) -> float | str | None:
    """A metric for the record: rounded, with NaN/inf written as the strings "nan"/"inf"/"-inf".

    The event wire format is strict JSON (no NaN literal), and null means "no such
    metric": writing a diverged loss as null would hide it from the monitor's NaN
    alarm. The monitor reads these strings back as floats (`core.monitor.records._num`),
    the same convention its own `--json` output uses.
    """
    if v is None:
        return None
    v = float(v)
    return round(v, 6) if math.isfinite(v) else str(v)


def metric(v: Any) -> float | None:
    """A record's metric as a float for arithmetic (None if absent; NaN/inf from their strings)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def finite_metric(v: Any) -> float | None:
    """`metric`, with NaN/inf as None: for choosing a best epoch, where they never win."""
    f = metric(v)
    return f if f is not None and math.isfinite(f) else None


def read_epochs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a kill
        if isinstance(ev, dict) and ev.get("type") == "epoch":
            out.append(ev)
    return out


def epoch_recorder(
    *, val_x: np.ndarray, val_y: np.ndarray, classes: list[str], epochs: int, patience: int,
    run_dir: Path, sink: Callable[[dict[str, Any]], None], batch_size: int,
) -> Any:
    """A Keras callback that records one epoch event (to `sink` and RUN_DIR/epochs.jsonl).

    Place it after BackupAndRestore: when a record is out, the epoch's backup is on disk.
    On resume it drops records past the restored epoch and rebuilds best-so-far from the rest.
    """
    import keras

    log_path = Path(run_dir) / "epochs.jsonl"

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best = BestSoFar()
            self.t0 = 0.0

        def on_train_begin(self, logs: Any = None) -> None:
            start = int(getattr(self.model, "_initial_epoch", 0) or 0)
            kept = [r for r in read_epochs(log_path) if r["epoch"] <= start]
            tmp = log_path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            tmp.replace(log_path)
            for r in kept:
                acc = finite_metric(r.get("val_accuracy"))
                self.best.update(r["epoch"], acc if acc is not None else -1.0)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = dict(logs or {})
            probs = np.asarray(self.model.predict(val_x, batch_size=batch_size, verbose=0)).reshape(-1)
            recalls = recall_per_class(val_y, (probs >= 0.5).astype(int), classes)
            acc = finite_metric(logs.get("val_accuracy"))
            self.best.update(epoch + 1, acc if acc is not None else -1.0)
            lr = self.model.optimizer.learning_rate
            rec = epoch_record(
                epoch=epoch + 1, epochs=epochs, logs=logs, recalls=recalls,
                lr=float(np.asarray(lr)), seconds=time.perf_counter() - self.t0,
                best=self.best, patience=patience,
            )
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            sink(rec)

    return EpochRecorder()
