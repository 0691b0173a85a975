"""How epoch records are shown as text: shared by the CLI's rich table and the TUI's DataTable.

One formatting for both faces, so a number reads the same in `nexara monitor`
and on the Monitor screen (percentages with one decimal, losses with four).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.monitor.records import EpochRecord


def fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "–"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}f}"


def fmt_pct(v: float | None) -> str:
    if v is None:
        return "–"
    if not math.isfinite(v):
        return str(v)
    return f"{v * 100:.1f}%"


def fmt_lr(v: float | None) -> str:
    return "–" if v is None else f"{v:.2e}"


def row_cells(r: EpochRecord, classes: list[str], best: int | None,
              extras: Sequence[str] = ()) -> list[str]:
    """One table row as strings (shared by the CLI and the TUI's epoch table)."""
    cells = [f"{r.epoch}{' ★' if r.epoch == best else ''}", fmt(r.loss), fmt_pct(r.accuracy),
             fmt(r.val_loss), fmt_pct(r.val_accuracy)]
    cells += [fmt_pct(r.recall.get(c)) for c in classes]
    cells += [fmt_pct(r.gap) if classes else "–", fmt_lr(r.lr),
              "–" if r.seconds is None else f"{r.seconds:.1f}"]
    cells += [fmt(r.extras.get(name)) for name in extras]
    return cells


def columns(classes: list[str], extras: Sequence[str] = ()) -> list[str]:
    return (["epoch", "loss", "acc", "val_loss", "val_acc"] + [f"{c} rec" for c in classes]
            + ["gap", "lr", "s"] + list(extras))


def extras_of(records: Sequence[EpochRecord], limit: int = 12) -> list[str]:
    """Extra columns: the metrics without a column of their own (a TensorBoard tag, a CSV
    column we do not know), in the order they first appear, at most `limit` of them."""
    seen: dict[str, None] = {}
    for r in records:
        for k in r.extras:
            seen.setdefault(k, None)
        if len(seen) >= limit:
            break
    return list(seen)[:limit]


def classes_of(state: Any, records: Sequence[EpochRecord] | None = None) -> list[str]:
    """Recall columns: the run's classes, else whatever classes the records report
    (`records`: those of one run; the newest run's by default)."""
    if state.run.classes:
        return list(state.run.classes)
    seen: list[str] = []
    for r in (state.records if records is None else records)[:5]:
        for c in r.recall:
            if c not in seen:
                seen.append(c)
    return seen
