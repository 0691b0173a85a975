"""After a load the app hides its long-lived objects from the garbage collector (issue 16).

Full collections walked every row of a 50,000-file store, 160–200 ms each, dozens of
times in a few hundred screen switches. The app collects once after a load and
freezes the survivors (`NexaraApp.settle_heap`); leaving the app unfreezes them, so
a longer-lived process (this test run) is left as it was.
"""

from __future__ import annotations

import gc

from nexara_tui.app import NexaraApp
from tests.tui import factory
from tests.tui.conftest import wait_for


async def test_a_load_freezes_the_survivors_and_leaving_unfreezes(tmp_path, monkeypatch):
    from core.host.local import LocalHost

    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 2000, seed=9)
    gc.unfreeze()
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        scan = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan.mode is None and scan.feed.finished is not None,
                       what="the stored results")
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0, what="the heap settled")
        await pilot.press("3")  # the quarantine list loads: settled again
        q = app.mode_screen("quarantine")
        await wait_for(pilot, lambda: not q.loading and q.rows, what="the quarantine list")
        await wait_for(pilot, lambda: not app._heap_settle_pending and gc.get_freeze_count() > 0,
                       what="the second settle")
    assert gc.get_freeze_count() == 0
