"""Pilot test: a scan started from the scan screen on a real Dask LocalCluster (`--cluster local:2`).

The screen drives the same detached scan job as always, with `--cluster`;
what it shows must be the same numbers as a local scan of the same dataset,
plus one line naming the cluster, its workers and Dask's dashboard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.screens.scan import ScanScreen
from tests.tui.conftest import wait_for


async def test_scan_on_local_cluster_shows_cluster_and_same_numbers(demo_dataset, tmp_path):
    root = str(demo_dataset.root)
    env = dict(os.environ, NEXARA_STATE_DIR=str(tmp_path / "local-state"))
    out = subprocess.run([sys.executable, "-m", "core.cli", "scan", root, "--json"],
                         capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    local = next(e for e in map(json.loads, out.splitlines()) if e["type"] == "summary")

    app = NexaraApp(root=root, host=LocalHost(), scan_on_start=True, cluster="local:2")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScanScreen)
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen._mode is None,
                       timeout=240, what="the cluster scan to finish")
        assert screen.feed.error is None
        assert app.state.last_summary == local["summary"]
        line = screen.query_one("#scan-cluster")
        assert line.display
        text = str(line.render())
        assert text.startswith("Dask LocalCluster tcp://127.0.0.1:"), text
        assert "2 workers (2 threads)" in text
        assert "dashboard http://127.0.0.1:" in text and "files/s" in text
        info = screen.feed.cluster
        assert info is not None
        assert sum(w["files"] for w in info["workers"]) == screen.feed.to_check
        assert "--cluster" in screen.app.host.jobs()[0].argv
        # Stored results do not say where they were checked: the line goes away.
        await pilot.press("r")
        await wait_for(pilot, lambda: screen._mode is None and "stored results" in screen.status_text,
                       timeout=60, what="the stored results")
        assert not line.display and screen.feed.cluster is None
        assert app.state.last_summary == local["summary"]
