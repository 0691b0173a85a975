"""Shared fixtures. Every test gets its own Nexara state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.demo import GroundTruth


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    d = tmp_path_factory.mktemp("nexara-state")
    monkeypatch.setenv("NEXARA_STATE_DIR", str(d))
    return d


@dataclass(frozen=True)
class DemoDataset:
    """A small demo dataset built once per test session; treat it as read-only.

    `root` is ROOT/{train,val,test}/{violent,nonviolent}/ with every damage kind
    at least once; `ground_truth` says what a correct scanner must answer for
    each file. A test that moves or changes files must copy it first
    (`shutil.copytree(demo_dataset.root, tmp_path / "ds")`).
    """

    root: Path
    ground_truth: GroundTruth


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory) -> DemoDataset:
    from core.demo import make_demo

    root = tmp_path_factory.mktemp("demo") / "organized_dataset"
    gt = make_demo(root, clips_per_class=2, seed=7)
    return DemoDataset(root, gt)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1 (see tests/sshd.py), stopped at the end of the session."""
    from tests.sshd import start_sshd

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()
