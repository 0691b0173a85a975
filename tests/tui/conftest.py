"""Helpers for Pilot tests: wait on conditions, never on fixed sleeps (harlequin's waiting.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Let the app run until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - widgets may not exist yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def _tables_fit(screen) -> bool:
    """Every DataTable's columns are as wide as their widest cell.

    DataTable measures new rows on idle, not when they are added; on a loaded
    machine a picture taken two frames after `add_row` still shows the header
    widths (the CI flake of test_scan_filter_matches_nothing). This is the real
    condition a snapshot needs, read from the table's public columns.
    """
    from rich.text import Text
    from textual.widgets import DataTable

    for table in screen.query(DataTable):
        for col in table.ordered_columns:
            if not col.auto_width:
                continue
            cells = [c if isinstance(c, Text) else Text(str(c)) for c in table.get_column(col.key)]
            need = max([c.cell_len for c in cells] + [col.label.cell_len])
            if col.content_width < need:
                return False
    return True


async def settled(pilot) -> None:
    """Wait until the screen's tables are measured, then let one frame render."""
    await wait_for(pilot, lambda: _tables_fit(pilot.app.screen), what="the tables to be measured")
    await pilot.pause()
    await pilot.pause()


@pytest.fixture
def tui_wait():
    return wait_for


@pytest.fixture(params=["local", "ssh"])
def any_host(request):
    """The same screen test through LocalHost and through SSHHost to the loopback sshd.

    Both hosts are this machine and share the test's state directory (the remote
    nexara gets the same NEXARA_STATE_DIR), so what the test prepares locally — a
    dataset and its scan store — is what the screen sees over SSH: only the path
    between screen and engine differs, which is what "works unchanged on a remote
    host" means.
    """
    import os

    from core.host.local import LocalHost

    if request.param == "local":
        yield LocalHost()
        return
    from core.host.ssh import SSHHost
    from tests.sshd import ALIAS
    from tests.test_ssh import NEXARA

    sshd = request.getfixturevalue("sshd")
    host = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": os.environ["NEXARA_STATE_DIR"]},
                   ssh_config=sshd.ssh_config)
    host.connect()
    try:
        yield host
    finally:
        host.close()


class Recorder:
    """A `run_test(message_hook=...)` that keeps every message the app dispatched.

    Notifications are read here, once the app has dispatched their `Notify`
    message, never from the app's private `_notifications`; screens' own
    messages (`ScreenLoaded`, `DatasetChanged`, `ScanFinished`) the same way.
    """

    def __init__(self) -> None:
        self.messages: list[object] = []

    def __call__(self, message: object) -> None:
        self.messages.append(message)

    def of(self, cls: type) -> list:
        return [m for m in self.messages if isinstance(m, cls)]

    @property
    def notifications(self) -> list[str]:
        from textual.notifications import Notify

        return [str(m.notification.message) for m in self.of(Notify)]
