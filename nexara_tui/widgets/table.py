"""The DataTable every screen uses: one that repaints when its column widths change.

Textual's DataTable measures new rows on idle (`_on_idle` → `_update_dimensions`),
but its row-render cache is keyed by an update counter that measuring does not
bump. A row painted between `add_row` and the next idle — which a loaded
machine makes likely — keeps the header-only widths: the Scan screen showed
"nonvi" and "88 (90" in its first rows while the rows below were whole
(textual 8.2; the CI flake of `test_scan_filter_matches_nothing`). Upstream
fixed the same symptom once (Textualize/textual#1026); this closes the window
that is left: when measuring changed a width, invalidate the caches and repaint.
"""

from __future__ import annotations

from textual import events
from textual.widgets import DataTable


class Table(DataTable):
    def _widths(self) -> list[int]:
        return [col.get_render_width(self) for col in self.ordered_columns]

    async def _on_idle(self, event: events.Idle) -> None:
        before = self._widths()
        await super()._on_idle(event)
        if self._widths() != before:
            # Private, on purpose: the only ways to drop DataTable's row caches
            # (`_clear_caches`, a bumped `_update_count`); pinned textual in [dev].
            self._clear_caches()
            self._update_count += 1
            self.refresh()
