"""Messages the app and its screens exchange.

Screens never call each other: the scan screen tells the app a scan finished,
the app broadcasts `ScanFinished` to every screen it has created (the decision
screen refreshes its matrix on it), and host changes travel as
`HostStateChanged` so every header shows the same thing.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from core.events import LinkState


class ScanFinished(Message):
    """A scan (or a `results` load) completed; `summary` is `core.summary.Summary.to_dict()`."""

    def __init__(self, summary: dict[str, Any], root: str | None = None, level: str | None = None,
                 loaded: bool = False) -> None:
        super().__init__()
        self.summary = summary
        self.root = root
        self.level = level
        self.loaded = loaded  # True when read from stored results rather than a fresh scan


class HostStateChanged(Message):
    """The connected host or its link state changed.

    `state` is the host's `LinkState` (the SSH connection reports DISCONNECTED when a
    link is given up on; the app reports ERROR when a host could not be opened).
    """

    def __init__(self, host_name: str, state: LinkState, detail: str = "", from_app: bool = False) -> None:
        super().__init__()
        self.host_name = host_name
        self.state = state
        self.detail = detail
        self.from_app = from_app  # the app's copy for a screen; the app ignores these when they bubble
