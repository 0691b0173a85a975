"""A virtual list of files that stays responsive at 100,000 rows.

Textual's DataTable builds every row; this widget renders only the lines on
screen through the Line API (toolong's approach): `virtual_size` tells the
scrollbars how tall the list is, `render_line(y)` draws one visible line from
the `FileModel`, and rendered strips are kept in an LRU cache keyed by the
model's generation, so scrolling redraws nothing it has already drawn.
Filtering and sorting belong to the model; the widget only keeps the cursor.

API (also used by the quarantine screen):
  set_rows(rows) / append_rows(rows) / set_filter(text) / set_sort(key, reverse)
  cursor_row (visible index), selected_row (FileRow | None), marked (set of paths
  drawn with a ✓ marker, e.g. the app's quarantine approvals), refresh_rows()
  messages: FileList.RowHighlighted(row, index), FileList.RowSelected(row, index)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nexara_tui.file_model import FileModel, FileRow
from nexara_tui.fit import fit as _fit

# Named ANSI colours: readable at 256 colours and in 16-colour terminals.
VERDICT_STYLES = {
    "ok": Style(color="green"),
    "warning": Style(color="yellow"),
    "damaged": Style(color="magenta", bold=True),
    "corrupt": Style(color="red", bold=True),
}


@dataclass(frozen=True)
class Column:
    """One column of the list. `width` 0 takes the room left (the path: never dropped).

    When the list is narrower than the preferred widths, columns shrink to
    `min_width` and then disappear, lowest `priority` first, so at 80 columns
    the file name is still there and the least telling column went first.
    """

    title: str
    width: int  # preferred cells; 0: the flexible column
    text: Callable[[FileRow], str]
    style: Callable[[FileRow], Style | None] | None = None
    elide: str = "right"  # "right", "left" or "middle" (paths: the file name stays)
    min_width: int = 0  # shrinks down to this (0: never below its preferred width)
    priority: int = 50  # dropped in ascending order when even the minimum widths do not fit


DROP_FIRST = 25  # columns below this priority are dropped before any other is shrunk
PATH_MIN = 24  # the flexible (path) column never gets less while another column could give way

DEFAULT_COLUMNS: tuple[Column, ...] = (
    Column("verdict", 8, lambda r: r.verdict, lambda r: VERDICT_STYLES.get(r.verdict), priority=90),
    Column("reason", 20, lambda r: r.reason_text, min_width=12, priority=70),
    Column("split/class", 20, lambda r: f"{r.split}/{r.cls}" if r.split or r.cls else "",
           min_width=12, priority=30),
    Column("path", 0, lambda r: r.path, elide="middle"),
)


def column_widths(columns: Sequence[Column], width: int) -> list[int]:
    """Cells per column at `width` (0: not shown); the flexible column gets the rest.

    Each shown column costs its cells plus one space; the list adds a 2-cell marker.
    """
    widths = [c.width for c in columns]
    n_flex = sum(1 for c in columns if not c.width)

    def needed() -> int:
        return 2 + sum(w + 1 for w in widths if w) + n_flex * (PATH_MIN + 1)

    fixed = sorted((i for i, c in enumerate(columns) if c.width), key=lambda i: columns[i].priority)
    for i in fixed:  # the merely nice-to-have go before anything is shrunk
        if needed() <= width or columns[i].priority >= DROP_FIRST:
            break
        widths[i] = 0
    for i in fixed:  # then shrink, least important first
        over = needed() - width
        if over <= 0:
            break
        c = columns[i]
        if c.min_width and c.min_width < c.width:
            widths[i] = max(c.min_width, c.width - over)
    for i in fixed:  # then drop, least important first
        if needed() <= width:
            break
        widths[i] = 0
    for i in reversed(fixed):  # room a dropped column freed goes back to the shrunk ones
        spare = width - needed()
        if spare <= 0:
            break
        if widths[i]:
            widths[i] = min(columns[i].width, widths[i] + spare)
    rest = max(1, width - 2 - sum(w + 1 for w in widths if w) - n_flex)
    return [w if c.width else rest for w, c in zip(widths, columns, strict=True)]


def _wrap(text: str, width: int) -> list[str]:
    """The empty-list message on as many lines as it needs (it says what to do next)."""
    import textwrap

    return textwrap.wrap(text, max(8, width), break_on_hyphens=False) or [""]


class FileList(ScrollView, can_focus=True):
    """Keyboard-driven virtual list over a `FileModel`; line 0 is a sticky column header."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up", tooltip="Previous file"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down", tooltip="Next file"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="list.page_up",
                tooltip="One screen up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="list.page_down",
                tooltip="One screen down"),
        Binding("home,g", "first", "First", show=False, id="list.first", tooltip="First file"),
        Binding("end,G", "last", "Last", show=False, id="list.last", tooltip="Last file"),
        Binding("enter", "select", "Details", id="list.select",
                tooltip="Show this file's verdict, reasons and FFmpeg messages"),
    ]

    COMPONENT_CLASSES = {"file-list--cursor", "file-list--header", "file-list--marker"}

    DEFAULT_CSS = """
    FileList {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
    }
    FileList > .file-list--cursor { background: $accent 40%; text-style: bold; }
    FileList:focus > .file-list--cursor { background: $accent; color: $text; }
    FileList > .file-list--header { text-style: bold underline; color: $text-muted; }
    FileList > .file-list--marker { color: $success; text-style: bold; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=False, init=False)

    class RowHighlighted(Message):
        def __init__(self, file_list: FileList, row: FileRow, index: int) -> None:
            super().__init__()
            self.file_list = file_list
            self.row = row
            self.index = index

        @property
        def control(self) -> FileList:
            return self.file_list

    class RowSelected(Message):
        def __init__(self, file_list: FileList, row: FileRow, index: int) -> None:
            super().__init__()
            self.file_list = file_list
            self.row = row
            self.index = index

        @property
        def control(self) -> FileList:
            return self.file_list

    def __init__(self, model: FileModel | None = None, *, columns: Sequence[Column] = DEFAULT_COLUMNS,
                 marked: set[str] | None = None, empty_text: str = "No files.",
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model or FileModel()
        self.columns = tuple(columns)
        # Shared, not copied: the caller (e.g. app.state.approvals) mutates it, then refresh_rows().
        self.marked: set[str] = marked if marked is not None else set()
        self.empty_text = empty_text
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._marks_gen = 0
        self._widths_for = -1
        self._widths_cache: list[int] = []

    # ---- data ---------------------------------------------------------------------------------
    def set_rows(self, rows: Iterable[FileRow]) -> None:
        self.model.set_rows(rows)
        self._changed(keep_cursor=False)

    def append_rows(self, rows: Sequence[FileRow]) -> None:
        if rows:
            self.model.append(rows)
            self._changed(keep_cursor=True)

    def set_filter(self, text: str) -> None:
        self.model.set_filter(text)
        self._changed(keep_cursor=False)

    def set_sort(self, key: str, reverse: bool = False) -> None:
        path = self.selected_row.path if self.selected_row else None
        self.model.set_sort(key, reverse)
        self._changed(keep_cursor=False)
        if path is not None:
            idx = self.model.index_of(path)
            if idx is not None:
                self.move_cursor(idx)

    def refresh_rows(self) -> None:
        """Redraw after `marked` (or row data) changed in place."""
        self._marks_gen += 1
        self._cache.clear()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.model)

    @property
    def selected_row(self) -> FileRow | None:
        if 0 <= self.cursor_row < len(self.model):
            return self.model.row_at(self.cursor_row)
        return None

    def visible_lines(self) -> list[FileRow]:
        """The rows currently on screen (for tests and for screen readers of state)."""
        top = int(self.scroll_offset.y)
        return self.model.visible_rows(top, top + max(0, self._body_height()))

    def _changed(self, keep_cursor: bool) -> None:
        self._cache.clear()
        n = len(self.model)
        self.virtual_size = Size(self._content_width(), n + 1)
        if not keep_cursor:
            self.set_reactive(FileList.cursor_row, 0)
            self.scroll_to(y=0, animate=False, immediate=True)
            if n:
                self.post_message(self.RowHighlighted(self, self.model.row_at(0), 0))
        elif self.cursor_row >= n:
            self.set_reactive(FileList.cursor_row, max(0, n - 1))
        self.refresh()

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 1)

    def _body_height(self) -> int:
        return self.scrollable_content_region.height - 1  # minus the header line

    @property
    def page_size(self) -> int:
        """Rows shown at once (the list's height minus its header line)."""
        return max(0, self._body_height())

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self._content_width(), len(self.model) + 1)

    # ---- cursor -------------------------------------------------------------------------------
    def move_cursor(self, index: int) -> None:
        n = len(self.model)
        if n == 0:
            return
        self.cursor_row = max(0, min(index, n - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        if 0 <= new < len(self.model):
            self.post_message(self.RowHighlighted(self, self.model.row_at(new), new))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_offset.y)
        body = max(1, self._body_height())
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self._body_height() - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self._body_height() - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.model) - 1)

    def action_select(self) -> None:
        row = self.selected_row
        if row is not None:
            self.post_message(self.RowSelected(self, row, self.cursor_row))

    # ---- rendering ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        index = int(self.scroll_offset.y) + y - 1
        n = len(self.model)
        if index >= n:
            lines = _wrap(self.empty_text, width) if n == 0 else []
            if 1 <= y <= len(lines):
                return Strip([Segment(_fit(lines[y - 1], width), self.rich_style + Style(italic=True))])
            return Strip.blank(width, self.rich_style)
        row = self.model.row_at(index)
        is_cursor = index == self.cursor_row
        is_marked = row.path in self.marked
        key = (self.model.generation, self._marks_gen, index, width, is_cursor, is_marked,
               self.has_focus)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._row_strip(row, width, is_cursor, is_marked)
            self._cache[key] = strip
        return strip

    def _header_strip(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("file-list--header")
        return Strip([Segment(self._layout_text([c.title for c in self.columns], width), style)])

    def _widths(self, width: int) -> list[int]:
        if self._widths_for != width:
            self._widths_for, self._widths_cache = width, column_widths(self.columns, width)
        return self._widths_cache

    def _layout_text(self, cells: list[str], width: int) -> str:
        parts = ["  "]
        for cell, w in zip(cells, self._widths(width), strict=False):
            if w:
                parts.append(_fit(cell, w) + " ")
        return _fit("".join(parts), width)

    def _row_strip(self, row: FileRow, width: int, is_cursor: bool, is_marked: bool) -> Strip:
        base = self.rich_style
        if is_cursor:
            base = base + self.get_component_rich_style("file-list--cursor")
        segs = [Segment("✓ " if is_marked else "  ",
                        base + self.get_component_rich_style("file-list--marker") if is_marked else base)]
        for col, w in zip(self.columns, self._widths(width), strict=False):
            if not w:
                continue
            st = col.style(row) if col.style else None
            segs.append(Segment(_fit(col.text(row), w, col.elide) + " ", base + st if st else base))
        return Strip(segs).adjust_cell_length(width, base)
