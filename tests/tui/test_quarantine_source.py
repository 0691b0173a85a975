"""Pilot test (issue 19): the quarantine screen names where a lost clip came from."""

from __future__ import annotations

import json
from pathlib import Path

from core.demo import make_damaged, write_clip
from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.screens.quarantine import QuarantineScreen
from tests.tui.conftest import wait_for

URL = "https://example.org/watch/fight-123"


async def test_the_side_panel_shows_the_source_of_a_lost_clip(tmp_path: Path):
    root = tmp_path / "ds"
    folder = root / "train" / "violent"
    write_clip(folder / "ok.mp4", "violent", seed=1)
    make_damaged(folder / "lost.mp4", "truncated_moov_end", seed=2)
    (folder / "lost.info.json").write_text(json.dumps({"id": "fight-123", "webpage_url": URL}))
    make_damaged(folder / "orphan.mp4", "zero_byte", seed=3)
    assert LocalHost().run(["scan", str(root), "--json", "--workers", "1"], timeout=120).rc == 0
    app = NexaraApp(root=str(root), host=LocalHost())
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineScreen), what="quarantine screen")
        q: QuarantineScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: len(q.rows) == 2, what="the two lost clips")
        panel = q.query_one("#q-messages")
        for _ in range(len(q.rows)):
            row = q.file_list.selected_row
            assert row is not None
            await wait_for(pilot, lambda r=row: r.path in str(panel.render()), what="the side panel")
            text = str(panel.render())
            if row.path.endswith("lost.mp4"):
                assert f"source: {URL}" in text
            else:
                assert "source:" not in text  # no source known: nothing invented
            await pilot.press("down")
