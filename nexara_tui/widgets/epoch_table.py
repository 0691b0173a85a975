"""The live epoch table: one row per epoch, the best one marked, following the tail.

Rows are only ever appended (`add_row` with the epoch as key) and the best
marker moves with two `update_cell` calls, so a 150-epoch run updated every
second never rebuilds the table. It follows the tail — new rows scroll into
view — unless the user has scrolled up to read an earlier epoch; scrolling
back to the bottom (End) resumes following.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.text import Text

from core.monitor.format import columns, row_cells
from core.monitor.records import EpochRecord
from nexara_tui.widgets.table import Table

# Short headers: ten columns of numbers fit 80 cells without the job list.
_LABELS = {"val_loss": "v_loss", "val_acc": "v_acc", "s": "sec"}


def short_lr(v: float | None) -> str:
    """3.00e-03 → "3.0e-3": six cells, always scientific (a learning rate is never "3")."""
    if v is None:
        return "–"
    if v == 0 or not math.isfinite(v):
        return str(v)
    mant, exp = f"{v:.1e}".split("e")
    return f"{mant}e{int(exp)}"


def label(name: str) -> str:
    """Column header: "violent rec" → "violent", the val_ columns shortened."""
    return _LABELS.get(name, name.removesuffix(" rec"))


class EpochTable(Table):
    """Columns: epoch, loss, acc, v_loss, v_acc, one recall column per class (headed by the
    class name), gap, lr (always scientific), sec (the epoch's wall time)."""

    DEFAULT_CSS = """
    EpochTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.classes_shown: list[str] = []
        self.best: int | None = None
        self._records: dict[int, EpochRecord] = {}

    def reset(self, classes: Sequence[str]) -> None:
        self.clear(columns=True)
        self.classes_shown = list(classes)
        self.best = None
        self._records = {}
        for name in columns(self.classes_shown):
            self.add_column(label(name), key=name)

    @property
    def at_tail(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    def _cells(self, rec: EpochRecord, best: bool) -> list[Text]:
        cells = row_cells(rec, self.classes_shown, rec.epoch if best else None)
        cells[-2] = short_lr(rec.lr)
        style = "bold green" if best else ""
        return [Text(c, style=style, justify="right") for c in cells]

    def append(self, records: Iterable[EpochRecord], best: int | None) -> None:
        follow = self.at_tail
        for rec in records:
            self._records[rec.epoch] = rec
            self.add_row(*self._cells(rec, rec.epoch == best), key=str(rec.epoch))
        self.set_best(best)
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)

    def set_best(self, best: int | None) -> None:
        """Move the ★ from the previous best row to the new one (two cell updates per row)."""
        if best == self.best:
            return
        for epoch, is_best in ((self.best, False), (best, True)):
            rec = self._records.get(epoch) if epoch is not None else None
            if rec is None:
                continue
            for name, cell in zip(columns(self.classes_shown), self._cells(rec, is_best), strict=True):
                self.update_cell(str(epoch), name, cell)
        self.best = best
