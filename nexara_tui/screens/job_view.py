"""What the Duplicates, Ingest and Re-download views share: one `nexara` run at a time on
the host, a status line, and refusals instead of a second run started over the first.

Each view runs its command in a thread worker (a detached job where it changes
files, so a dropped link loses nothing) and draws on the UI thread; this base
holds only the bookkeeping all three repeated, not their drawing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, ClassVar, cast

from rich.markup import escape
from textual.screen import Screen
from textual.widgets import Static

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp


class JobView(Screen):
    STATUS_ID: ClassVar[str]  # the Static that shows what the view is doing

    def __init__(self) -> None:
        super().__init__()
        self.busy: str | None = None  # "moving", "downloading", …: what runs now
        self.status_text = ""

    @property
    def nexara(self) -> NexaraApp:
        """The app, typed: its host, root and shared state."""
        return cast("NexaraApp", self.app)

    def refuse_busy(self) -> bool:
        """True (and says so) while a run is going: one at a time per view."""
        if self.busy:
            self.notify(f"already {self.busy}", severity="warning")
        return bool(self.busy)

    def set_status(self, text: str) -> None:
        self.status_text = text
        with contextlib.suppress(Exception):  # the view may be closing
            self.query_one(f"#{self.STATUS_ID}", Static).update(text)

    def run_failed(self, what: str, message: str) -> None:
        self.busy = None
        self.set_status(f"[red]{what} failed:[/] {escape(message)}")
        self.notify(message or f"{what} failed", severity="error", timeout=10)
