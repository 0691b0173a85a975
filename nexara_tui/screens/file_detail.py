"""Why one file got its verdict: reasons explained, counts, and the raw FFmpeg messages.

A modal, so the list underneath keeps its cursor and filter; escape closes it.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from core.reasons import REASONS
from nexara_tui.file_model import FileRow


def describe(row: FileRow) -> str:
    """Rich markup describing a file result; a function so tests can read it."""
    d = row.data
    lines = [f"[b]{escape(repr(row.path)[1:-1])}[/b]",
             f"{escape(row.split)}/{escape(row.cls)} · verdict [b]{escape(row.verdict)}[/b]"]
    facts = []
    for key, label in (("frames_decoded", "frames decoded"), ("frames_corrupt", "frames corrupt"),
                       ("frames_expected", "frames expected"), ("packets_failed", "packets failed"),
                       ("duration_s", "declared duration s"), ("decoded_s", "decoded up to s"),
                       ("codec", "codec"), ("container", "container"), ("size", "bytes"),
                       ("level", "level")):
        if d.get(key) not in (None, ""):
            facts.append(f"{label}: {escape(str(d[key]))}")
    if facts:
        lines.append(" · ".join(facts))
    lines.append("")
    lines.append("[b]Reasons[/b]")
    for code in row.reasons or ("(none)",):
        r = REASONS.get(code)
        lines.append(f"  [b]{escape(code)}[/b] ({r.severity.value}): {escape(r.summary)}" if r
                     else f"  {escape(code)}")
    msgs = d.get("messages") or []
    lines.append("")
    lines.append(f"[b]FFmpeg messages[/b] ({len(msgs)})")
    lines.extend(f"  {escape(str(m))}" for m in msgs[:200])
    if not msgs:
        lines.append("  (none)")
    return "\n".join(lines)


class FileDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close", id="detail.close", tooltip="Back to the list"),
        Binding("down,j", "scroll_down", "Down", show=False, id="detail.down", tooltip="Scroll down"),
        Binding("up,k", "scroll_up", "Up", show=False, id="detail.up", tooltip="Scroll up"),
    ]
    DEFAULT_CSS = """
    FileDetailScreen { align: center middle; }
    FileDetailScreen > VerticalScroll {
        width: 90%; height: 80%; border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, row: FileRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(describe(self.row), id="detail-text")

    def action_scroll_down(self) -> None:
        self.query_one(VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one(VerticalScroll).scroll_up(animate=False)
