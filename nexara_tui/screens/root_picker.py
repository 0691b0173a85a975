"""`o`: pick the dataset root — a folder on the current host (this machine or the GPU box).

Opened from every screen but the monitor (whose `o` opens a log). The path is
checked on the host itself (`Host.stat_file`, a local stat or one SFTP stat)
in a worker before the picker closes, so a typo is one plain line here, not an
error on the next scan. The app then tells every screen the root changed, as
the host picker does.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class RootPickerScreen(ModalScreen[str | None]):
    """Dismisses with the checked root (a path on the host), or None on escape."""

    DEFAULT_CSS = """
    RootPickerScreen { align: center middle; }
    RootPickerScreen > Vertical {
        width: 80%; max-width: 100; height: auto; border: round $accent; background: $surface;
        padding: 0 1;
    }
    RootPickerScreen #root-status { height: auto; }
    RootPickerScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="root.cancel", tooltip="Keep the current root")]

    def __init__(self, host: Any, host_name: str, current: str | None = None) -> None:
        super().__init__()
        self.host = host
        self.host_name = host_name
        self.current = current
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]Dataset root on {escape(self.host_name)}[/b] (a folder of "
                         "split/class/clip files; the scan store is found by this path)")
            yield Input(value=self.current or "", placeholder="/workspace/organized_dataset",
                        id="root-input")
            yield Static("", id="root-status")
            yield Static("enter: use this folder · escape: cancel · h: another host", classes="hint")

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_position = len(box.value)
        box.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#root-input")
    def _submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self._status("[yellow]type a folder on the host[/]")
            return
        if self.host is None:
            self._status("[yellow]not connected to a host yet (h picks one)[/]")
            return
        self._status(f"checking {escape(path)} on {escape(self.host_name)}…")
        self._check(path)

    def _status(self, text: str) -> None:
        self.query_one("#root-status", Static).update(text)

    @work(thread=True, exclusive=True, group="root-check", exit_on_error=False)
    def _check(self, path: str) -> None:
        import posixpath

        if self.host_name == "local":
            import os

            path = os.path.abspath(os.path.expanduser(path))
        else:
            path = posixpath.normpath(path)
        try:
            found = self.host.stat_file(path)
        except Exception as exc:  # noqa: BLE001 - a dropped link: shown, the picker stays
            self.app.call_from_thread(self._failed, f"{path}: {type(exc).__name__}: {exc}")
            return
        if found is None:
            self.app.call_from_thread(self._failed, f"{path}: no such folder on {self.host_name}")
            return
        self.app.call_from_thread(self.dismiss, path)

    def _failed(self, message: str) -> None:
        self.error = message
        self._status(f"[b red]{escape(message)}[/]")
