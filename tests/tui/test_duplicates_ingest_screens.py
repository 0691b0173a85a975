"""Pilot tests: the Duplicates view (keep one copy, move the rest, undo) and the ingest view.

Real pieces: clips from the demo generator and real copies of them, a real
scan, `nexara dupes` / `quarantine` / `restore` / `ingest` run on a LocalHost and
over SSH to the loopback sshd, detached jobs, real files moved on disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.demo import make_damaged, write_clip
from core.scan import scan
from nexara_tui.app import NexaraApp
from nexara_tui.screens.duplicates import DuplicatesScreen
from nexara_tui.screens.ingest import IngestScreen
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.screens.quarantine import QuarantineScreen
from tests.dupes_fixtures import reencode
from tests.tui.conftest import wait_for

ORIGINAL = "train/violent/fight.mp4"
LEAKED = "test/violent/fight_reupload.mp4"
SMALL = "train/violent/fight_small.mp4"


def _dataset(root: Path) -> None:
    write_clip(root / ORIGINAL, "violent", seconds=3, seed=41)
    reencode(root / ORIGINAL, root / LEAKED, crf=36)
    reencode(root / ORIGINAL, root / SMALL, crf=30, scale=0.5)
    write_clip(root / "train/nonviolent/calm.mp4", "nonviolent", seconds=3, seed=42)
    list(scan(root, workers=2))


async def test_duplicates_view_keeps_one_copy_moves_the_others_and_undoes(tmp_path: Path, any_host):
    root = tmp_path / "ds"
    _dataset(root)
    app = NexaraApp(root=str(root), host=any_host)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineScreen), what="quarantine screen")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DuplicatesScreen), what="duplicates view")
        view: DuplicatesScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: view.loaded and view.busy is None, timeout=60, what="groups")
        assert len(view.groups) == 1, view.status_text
        g = view.groups[0]
        assert g["splits"] == ["train", "test"] and g["keep"] == LEAKED  # the non-leaking split
        assert {r.path for r in view.rows} == {ORIGINAL, LEAKED, SMALL}
        assert all(r.data["flags"] == "LEAK" for r in view.rows)
        assert any(f["code"] == "leakage" for f in view.findings)
        await pilot.press("A")
        assert app.state.dupe_approvals == {ORIGINAL, SMALL}
        # keep another copy instead: the selected one
        idx = view.file_list.model.index_of(ORIGINAL)
        view.file_list.move_cursor(idx)
        await pilot.press("K")
        assert app.state.dupe_approvals == {LEAKED, SMALL}
        view.file_list.move_cursor(view.file_list.model.index_of(LEAKED))
        await pilot.press("K")
        assert app.state.dupe_approvals == {ORIGINAL, SMALL}
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        assert "2" in app.screen.question and "corrupted_videos" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: not (root / ORIGINAL).exists() and view.busy is None and view.loaded,
                       timeout=90, what="move job and regroup")
        assert view.last_batch, view.status_text
        assert not (root / ORIGINAL).exists() and (root / "corrupted_videos" / ORIGINAL).exists()
        assert (root / LEAKED).exists() and view.groups == []  # nothing left to group
        await pilot.press("u")
        await wait_for(pilot, lambda: (root / ORIGINAL).exists() and view.busy is None and view.loaded,
                       timeout=90, what="undo job and regroup")
        assert (root / ORIGINAL).exists() and (root / SMALL).exists()
        assert len(view.groups) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineScreen), what="back")


async def test_ingest_view_plans_then_ingests_with_progress(tmp_path: Path):
    from core.host.local import LocalHost

    root = tmp_path / "ds"
    _dataset(root)
    inc = tmp_path / "new clips"
    write_clip(inc / "new_one.mp4", "violent", seconds=3, seed=51)
    shutil.copyfile(root / "train/nonviolent/calm.mp4", inc / "calm_again.mp4")
    make_damaged(inc / "broken.mp4", "truncated_faststart", seed=2)
    app = NexaraApp(root=str(root), host=LocalHost())
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, IngestScreen), what="ingest view")
        view: IngestScreen = app.screen  # type: ignore[assignment]
        view.query_one("#i-incoming").value = str(inc)
        view.query_one("#i-split").value = "train"
        view.query_one("#i-class").value = "violent"
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: view.busy is None and view.summary is not None, timeout=90,
                       what="plan")
        status = {r.path: r.verdict for r in view.items}
        assert status == {"new_one.mp4": "add", "calm_again.mp4": "duplicate", "broken.mp4": "corrupt"}
        assert view.summary and view.summary["dry_run"] and not (root / "train/violent/new_one.mp4").exists()
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: view.busy is None and view.summary is not None
                       and not view.summary["dry_run"], timeout=90, what="ingest job")
        assert view.summary and view.summary["added"] == 1, view.status_text
        assert view.summary["rejected_corrupt"] == 1 and view.summary["rejected_duplicate"] == 1
        assert view.phase  # progress was followed
        assert (root / "train/violent/new_one.mp4").exists() and not (inc / "new_one.mp4").exists()
        assert (inc / "broken.mp4").exists() and (inc / "calm_again.mp4").exists()
