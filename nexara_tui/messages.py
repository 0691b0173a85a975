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


class DatasetChanged(Message):
    """Files left the dataset (a quarantine move) or came back (an undo), as the journal says.

    Broadcast by the quarantine screen the moment its job ends, with the rows
    it moved or restored and the store's counts after the change, so the scan
    screen's list and summary follow in milliseconds instead of re-reading
    every stored result. `summary` is `Summary.to_dict()` of what is left in
    the dataset; `quarantined` the files now in ROOT/corrupted_videos/ (None:
    unknown, e.g. an undo of a batch moved before this session).
    """

    def __init__(self, root: str | None, removed: list[Any], restored: list[Any],
                 summary: dict[str, Any] | None, quarantined: int | None) -> None:
        super().__init__()
        self.root = root
        self.removed = removed  # FileRow of each file moved out
        self.restored = restored  # FileRow of each file moved back
        self.summary = summary
        self.quarantined = quarantined


class ScreenLoaded(Message):
    """A screen finished loading its data from the host (with `error` when it could not).

    Posted by the quarantine and decision screens after each load, so a caller
    (a test's message hook, a benchmark) waits on the load itself, not on a
    counter or a sleep.
    """

    def __init__(self, screen: str, error: str | None = None, rows: int = 0) -> None:
        super().__init__()
        self.screen = screen
        self.error = error
        self.rows = rows


class ScanProgress(Message):
    """The scan screen drew a batch of a running scan: `done` of `total` files.

    One per redraw (at most four a second, however many files arrived), so the
    app can show the share in every header ("scan running 45 %").
    """

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total
