"""The live epoch table: one row per epoch, the best one marked, following the tail.

Rows are only ever appended (`add_row` with the epoch as key) and the best
marker moves with two `update_cell` calls, so a 150-epoch run updated every
second never rebuilds the table. It follows the tail — new rows scroll into
view — unless the user has scrolled up to read an earlier epoch; scrolling
back to the bottom (End) resumes following.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable

from core.monitor.format import columns, row_cells
from core.monitor.records import EpochRecord


class EpochTable(DataTable):
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
            self.add_column(name, key=name)

    @property
    def at_tail(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    def _cells(self, rec: EpochRecord, best: bool) -> list[Text]:
        cells = row_cells(rec, self.classes_shown, rec.epoch if best else None)
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
