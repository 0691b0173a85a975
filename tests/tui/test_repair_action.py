"""Pilot test: Repair from the quarantine screen — candidates with frames of the repaired clip,
apply through a real detached job, undo with u. Through LocalHost and SSHHost (loopback sshd)."""

from __future__ import annotations

from pathlib import Path

from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.messages import ScreenLoaded
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.screens.quarantine import QuarantineScreen
from nexara_tui.screens.repair import RepairScreen
from nexara_tui.widgets.frame_preview import FramePreview
from tests.helpers_repair import add_references, damaged, tree
from tests.tui.conftest import Recorder, wait_for

REPAIRABLE = {"train/violent/a.mp4", "train/violent/b.mp4"}


async def test_repair_view_shows_candidates_with_frames_applies_and_undoes(tmp_path: Path, any_host):
    root = tmp_path / "ds"
    add_references(root)
    damaged(root, "train/violent/a.mp4", "audio_damage")
    damaged(root, "train/violent/b.mp4", "truncated_tail", seconds=3)
    damaged(root, "train/violent/c.mp4", "html_page")
    assert LocalHost().run(["scan", str(root), "--json", "--workers", "1"], timeout=120).rc == 0
    before = tree(root)
    app = NexaraApp(root=str(root), host=any_host)
    rec = Recorder()

    def loads() -> int:
        return sum(1 for m in rec.of(ScreenLoaded) if m.screen == "quarantine")

    async with app.run_test(size=(150, 45), message_hook=rec) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineScreen), what="quarantine screen")
        q: QuarantineScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: loads() >= 1 and len(q.rows) == 3, what="flagged files")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RepairScreen), what="repair view")
        rs: RepairScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: rs.loaded, timeout=120, what="repair dry run")
        assert {c["rel"] for c in rs.candidates if c["status"] == "repairable"} == REPAIRABLE
        assert rs.repairable_count == 2 and "2" in rs.status_text
        assert tree(root) == before  # a dry run: nothing changed yet
        # The side panel shows frames sampled across the repaired candidate itself.
        preview = rs.query_one(FramePreview)
        assert preview.frames and all(not f.get("missing") for f in preview.frames)
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm dialog")
        assert "2" in app.screen.question
        n = loads()
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is q and loads() > n, timeout=120,
                       what="repair job and reload")
        assert q.last_batch
        assert {r.path for r in q.rows} == {"train/violent/c.mp4"}  # the repaired clips are ok now
        for rel in REPAIRABLE:
            assert (root / "corrupted_videos" / rel).exists()
        n = loads()
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="undo confirm")
        assert "2" in app.screen.question  # the count it puts back, asked first
        await pilot.press("y")
        await wait_for(pilot, lambda: loads() > n and q.busy is None and len(q.rows) == 3, timeout=120,
                       what="undo, and the three flagged originals listed again")
    assert tree(root) == before
