"""Pick the machine Nexara drives: this one, or an alias from ~/.ssh/config.

Aliases come from Paramiko's own `SSHConfig` parser (never hand-parsed), minus
wildcard patterns (`Host *`, `Host *.internal`) which are not hosts one can
pick. Opening runs in a worker (handshakes take seconds) through the app's
`open_host_blocking`, which asks for host-key acceptance and passphrases in
modals; failures are shown here in one plain line and the picker stays open.
The dataset root is a path on the chosen host, so it can be changed here too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp


def ssh_aliases(config_path: str | os.PathLike[str] | None = None) -> list[str]:
    """Host aliases defined in the SSH config, sorted, without wildcard patterns."""
    if config_path:
        path = Path(config_path)
    else:  # the same file the SSH layer reads (NEXARA_SSH_CONFIG, else ~/.ssh/config)
        env = os.environ.get("NEXARA_SSH_CONFIG")
        path = Path(env).expanduser() if env else Path.home() / ".ssh" / "config"
    if not path.is_file():
        return []
    import paramiko

    try:
        cfg = paramiko.SSHConfig.from_path(str(path))
    except Exception:  # noqa: BLE001 - a broken config must not break the picker
        return []
    names = {h for h in cfg.get_hostnames() if not any(c in h for c in "*?!")}
    return sorted(names)


def typed_host_error(text: str) -> str | None:
    """None when `text` reads as an alias or `[user@]host[:port]`, else what is wrong (one line)."""
    import re

    if not text:
        return "type a host: an alias from ~/.ssh/config or user@host[:port]"
    m = re.fullmatch(r"(?:([^@\s:]+)@)?(\[[0-9a-fA-F:]+\]|[^@\s:\[\]]+)(?::(\d+))?", text)
    if m is None:
        return f"{text}: not a host (expected an alias or user@host[:port])"
    if m.group(3) is not None and not 0 < int(m.group(3)) < 65536:
        return f"{text}: port {m.group(3)} is out of range (1–65535)"
    return None


class HostPickerScreen(ModalScreen[tuple[Any, str, str | None] | None]):
    """Dismisses with (host, name, root or None) once connected, or None on escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Keep the current host"),
        Binding("j", "cursor_down", "Down", show=False, id="picker.down", tooltip="Next host"),
        Binding("k", "cursor_up", "Up", show=False, id="picker.up", tooltip="Previous host"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="picker.next",
                tooltip="Move between the host list and the root field"),
    ]
    DEFAULT_CSS = """
    HostPickerScreen { align: center middle; }
    HostPickerScreen > Vertical {
        width: 80; height: auto; max-height: 90%; border: round $accent; background: $surface;
        padding: 0 1;
    }
    HostPickerScreen OptionList { height: auto; max-height: 16; }
    HostPickerScreen #picker-status { height: auto; margin-top: 1; }
    HostPickerScreen .hint { color: $text-muted; }
    """

    def __init__(self, current: str = "local", root: str | None = None,
                 config_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.current = current
        self.root = root
        self.config_path = config_path
        self.hosts: list[str] = []
        self.busy = False
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        self.hosts = ["local", *[h for h in ssh_aliases(self.config_path) if h != "local"]]
        options = [Option(self._label(h), id=h) for h in self.hosts]
        with Vertical():
            yield Static("[b]Pick a host[/b]  (local, or an alias from ~/.ssh/config)")
            yield OptionList(*options, id="hosts")
            yield Static("…or type one, as for --host: an alias or user@host[:port]:", classes="hint")
            yield Input(placeholder="user@gpu-box:2222", id="host-typed")
            yield Static("Dataset root on that host (empty: keep the current one):", classes="hint")
            yield Input(value=self.root or "", placeholder="/workspace/organized_dataset", id="root")
            yield Static("", id="picker-status")
            yield Static("enter: connect · tab: next field · escape: cancel", classes="hint")

    def _label(self, h: str) -> str:
        return f"{h}  (current)" if h == self.current else h

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.current in self.hosts:
            ol.highlighted = self.hosts.index(self.current)
        ol.focus()

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#hosts")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(str(event.option.id))

    @on(Input.Submitted, "#root")
    def _root_submitted(self) -> None:
        typed = self.query_one("#host-typed", Input).value.strip()
        if typed:
            self._typed(typed)
            return
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.choose(self.hosts[ol.highlighted])

    @on(Input.Submitted, "#host-typed")
    def _host_submitted(self, event: Input.Submitted) -> None:
        self._typed(event.value.strip())

    def _typed(self, text: str) -> None:
        """`user@host[:port]` or an alias, checked for shape before connecting."""
        err = typed_host_error(text)
        if err:
            self.error = err
            self._status(f"[b red]{err}[/]")
            return
        self.choose(text)

    def choose(self, name: str) -> None:
        if self.busy:
            return
        self.busy = True
        self.error = None
        self._status(f"connecting to [b]{name}[/b]…")
        self._connect(name)

    def _status(self, text: str) -> None:
        self.query_one("#picker-status", Static).update(text)

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _connect(self, name: str) -> None:
        try:
            host = cast("NexaraApp", self.app).open_host_blocking(name)
        except Exception as exc:  # noqa: BLE001 - shown plainly; the picker stays open
            from nexara_tui.connect import describe_error

            self.app.call_from_thread(self._failed, name, describe_error(exc))
            return
        self.app.call_from_thread(self._connected, host, name)

    def _failed(self, name: str, message: str) -> None:
        from rich.markup import escape

        self.busy = False
        self.error = message
        self._status(f"[b red]could not connect to {escape(name)}:[/] {escape(message)}")

    def _connected(self, host: Any, name: str) -> None:
        self.busy = False
        root = self.query_one("#root", Input).value.strip()
        self.dismiss((host, name, root or None))
