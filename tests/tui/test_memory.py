"""Hours of use: switching screens hundreds of times must not grow the process without bound.

Issue 16 measured 59 → 182 MB over ~300 switches on the demo. The cause was the
footer: it recomposes on every switch, and each key it made was data-bound to
the footer's `compact` reactive, a watcher that kept the key alive after it was
removed (0.4 MB per switch). This switches 200 times after a warm-up and
asserts the resident size levels off.
"""

from __future__ import annotations

import gc

from nexara_tui.app import NexaraApp
from tests.tui import factory
from tests.tui.conftest import wait_for

WARMUP = 5  # rounds of 4 switches before the baseline: caches, first visits, lazy imports
ROUNDS = 50  # 200 switches measured


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def test_screen_switches_do_not_grow_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 300, seed=3)
    from core.host.local import LocalHost

    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        scan = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan.mode is None and scan.feed.finished is not None,
                       what="the stored results")
        for _ in range(WARMUP):
            for key in "2341":
                await pilot.press(key)
                await pilot.pause()
        gc.collect()
        before = rss_mb()
        samples = []
        for i in range(ROUNDS):
            for key in "2341":
                await pilot.press(key)
                await wait_for(pilot, lambda k=key: app.current_mode == {"1": "scan", "2": "decision",
                                                                         "3": "quarantine",
                                                                         "4": "monitor"}[k],
                               what=f"screen {key}")
            if i % 20 == 19:
                gc.collect()
                samples.append(rss_mb())
        growth = samples[-1] - before
        print(f"\nRSS {before:.1f} MB after warm-up, then {[round(s, 1) for s in samples]} MB "
              f"over {ROUNDS * 4} switches")
        # 0.4 MB per switch before the fix would be ~100 MB here; allocator noise is a few MB.
        assert growth < 12, f"RSS grew {growth:.1f} MB over {ROUNDS * 4} screen switches"
