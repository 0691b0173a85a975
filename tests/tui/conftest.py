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


@pytest.fixture
def tui_wait():
    return wait_for
