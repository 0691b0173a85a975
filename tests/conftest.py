"""Shared fixtures. Every test gets its own Nexara state directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    d = tmp_path_factory.mktemp("nexara-state")
    monkeypatch.setenv("NEXARA_STATE_DIR", str(d))
    return d
