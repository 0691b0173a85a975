"""The split × class table: Total, Usable (= OK + Warning + Damaged), then each verdict.

Usable is what the trainer gets (the sampler decodes those clips); the four
verdict columns add up to Total, and only Usable and Corrupt carry a share, so
no row's percentages add to more than 100 %.

A handful of rows, so the built-in DataTable is right here. Updates follow
memray's pattern: rows are keyed by (split, class); an update only touches the
cells whose text changed, so a live scan repaints a few cells per batch.
"""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.text import Text

from core.summary import Counts, Summary
from nexara_tui.widgets.table import Table

COLUMNS = (("split", "split"), ("class", "class"), ("total", "Total"), ("valid", "Usable"),
           ("ok", "OK"), ("warning", "Warning"), ("damaged", "Damaged"), ("corrupt", "Corrupt"))
_STYLES = {"valid": "green", "ok": "green", "warning": "yellow", "damaged": "magenta",
           "corrupt": "bold red"}
LEGEND = "Usable = OK + Warning + Damaged (the trainer gets them); OK + Warning + Damaged + Corrupt = Total"


def _pct(n: int, total: int) -> str:
    return f"{n:,} ({100.0 * n / total:.1f}%)" if total else f"{n:,}"


def row_cells(split: str, cls: str, c: Counts) -> tuple[str, ...]:
    t = c.total
    return (split, cls, f"{t:,}", _pct(c.valid(), t), f"{c.ok:,}", f"{c.warning:,}",
            f"{c.damaged:,}", _pct(c.corrupt, t))


def summary_rows(summary: Summary) -> dict[str, tuple[str, ...]]:
    """Row key → cell texts, in display order, ending with OVERALL."""
    rows: dict[str, tuple[str, ...]] = {}
    for split, cls in summary.ordered_keys():
        rows[f"{split}\x00{cls}"] = row_cells(split, cls, summary.groups[(split, cls)])
    rows["__overall__"] = row_cells("OVERALL", "", summary.overall)
    return rows


class SummaryTable(Table):
    DEFAULT_CSS = """
    SummaryTable { height: auto; max-height: 12; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="none", zebra_stripes=True, show_cursor=False, **kwargs)
        self.can_focus = False
        self._shown: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.show_summary(Summary())

    def show_summary(self, summary: Summary) -> None:
        rows = summary_rows(summary)
        if list(rows) != list(self._shown):
            self.clear()
            for key, cells in rows.items():
                self.add_row(*self._styled(cells, key), key=key)
        else:
            for key, cells in rows.items():
                old = self._shown[key]
                for (col, _), new, prev in zip(COLUMNS, cells, old, strict=True):
                    if new != prev:
                        self.update_cell(key, col, self._style_cell(col, new, key))
        self._shown = rows

    def cell_text(self, row_key: str, column: str) -> str:
        """The plain text shown in a cell."""
        return self._shown[row_key][[k for k, _ in COLUMNS].index(column)]

    def shown(self) -> dict[str, dict[str, str]]:
        """Row key → column key → the text shown (the command palette and tests read it)."""
        keys = [k for k, _ in COLUMNS]
        return {row: dict(zip(keys, cells, strict=True)) for row, cells in self._shown.items()}

    def _styled(self, cells: tuple[str, ...], key: str) -> list[Text]:
        return [self._style_cell(col, text, key) for (col, _), text in zip(COLUMNS, cells, strict=True)]

    @staticmethod
    def _style_cell(col: str, text: str, key: str) -> Text:
        style = _STYLES.get(col, "")
        if key == "__overall__":
            style = f"bold {style}".strip()
        justify: JustifyMethod = "left" if col in ("split", "class") else "right"
        if text.startswith("0") and col in _STYLES:
            style = "dim"
        return Text(text, style=style, justify=justify)
