"""Pilot test: approve by reason, move through a real detached job, see counts drop, undo.

Real pieces throughout: a LocalHost, and an SSHHost to the loopback sshd, running
`nexara results`, `nexara preview` and a detached `nexara quarantine … --files-from`
job; real files moved on disk.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.messages import DatasetChanged, ScreenLoaded
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.screens.quarantine import QuarantineScreen
from nexara_tui.widgets.frame_preview import FramePreview
from tests.helpers_crash import make_dataset
from tests.tui import factory
from tests.tui.conftest import wait_for

TRUNCATED = {"train/violent/clip_000.mp4", "train/nonviolent/clip_003.mp4"}


async def test_approve_by_reason_move_undo(tmp_path: Path, any_host):
    root = tmp_path / "ds"
    make_dataset(root, n=6, real_videos=1)  # clip_000 and clip_003 carry "truncated"
    app = NexaraApp(root=str(root), host=any_host)
    loads: list[ScreenLoaded] = []
    changes: list[DatasetChanged] = []

    def hook(m) -> None:
        if isinstance(m, ScreenLoaded) and m.screen == "quarantine":
            loads.append(m)
        elif isinstance(m, DatasetChanged):
            changes.append(m)

    async with app.run_test(size=(150, 45), message_hook=hook) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, QuarantineScreen), what="quarantine screen")
        screen: QuarantineScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: loads and len(screen.rows) == 6, what="results")
        assert screen.counts()["corrupt"] == 6
        # Grouped by reason: "truncated" sorts last; G jumps there.
        await pilot.press("G")
        assert screen.file_list.selected_row.reasons == ("truncated",)
        await pilot.press("a")
        assert set(app.state.approvals) == TRUNCATED
        assert screen.counts()["approved"] == 2
        # Approvals survive leaving the screen.
        await pilot.press("1")
        await pilot.press("3")
        assert set(app.state.approvals) == TRUNCATED
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm dialog")
        assert "2" in app.screen.question and "corrupted_videos" in app.screen.question
        n_loads = len(loads)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(loads) > n_loads and screen.busy is None, timeout=60,
                       what="move job and reload")
        assert screen.last_batch, screen.status_text
        # The approved list went to the host as a temp file, and is gone once the job ended.
        assert screen.last_upload and screen.last_upload.startswith("/tmp/nexara-approved-")
        assert not Path(screen.last_upload).exists()
        assert len(screen.rows) == 4 and screen.counts()["corrupt"] == 4
        assert screen.counts()["quarantined"] == 2
        # The scan screen's summary follows at once: the two files left the dataset.
        assert changes and {r.path for r in changes[-1].removed} == TRUNCATED
        scan_screen = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan_screen.feed.summary.to_dict()["overall"]["total"] == 4,
                       what="scan summary without the moved files")
        assert "6 scanned · 2 quarantined · 4 in the dataset" in str(
            scan_screen.query_one("#progress-label").render())
        assert not app.state.approvals
        for rel in TRUNCATED:
            assert not (root / rel).exists() and (root / "corrupted_videos" / rel).exists()
        # Undo the batch: asked first, with what it puts back.
        n_loads = len(loads)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="undo question")
        assert "Put back [b]2[/] file(s)" in app.screen.question, app.screen.question
        assert screen.last_batch in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: len(loads) > n_loads and screen.busy is None, timeout=60,
                       what="undo job and reload")
        assert len(screen.rows) == 6 and screen.counts()["corrupt"] == 6, screen.status_text
        # The real condition: the scan screen is not reading and shows the store with them back.
        await wait_for(pilot, lambda: scan_screen.mode is None
                       and scan_screen.feed.summary.to_dict()["overall"]["total"] == 6,
                       what="scan summary with the restored files")
        for rel in TRUNCATED:
            assert (root / rel).exists() and not (root / "corrupted_videos" / rel).exists()
        # The side panel previews the selected clip: the real video shows frames.
        idx = screen.file_list.model.index_of("train/violent/clip_000.mp4")
        screen.file_list.move_cursor(idx)
        preview = screen.query_one(FramePreview)
        await wait_for(pilot, lambda: any(not f.get("missing") for f in preview.frames), timeout=60,
                       what="frame preview")


def test_half_block_rendering_and_marked_gaps():
    import base64

    from rich.console import Console

    from nexara_tui.widgets.frame_preview import UPPER_HALF, FramesRenderable

    w, h = 10, 2  # top row red, bottom row blue
    rgb = bytes([255, 0, 0] * w + [0, 0, 255] * w)
    frames = [{"t": 0.0, "w": w, "h": h, "rgb": base64.b64encode(rgb).decode()},
              {"t": 1.5, "missing": True}]
    console = Console(width=30, color_system="truecolor", record=True)
    segs = list(console.render(FramesRenderable(frames)))
    pixels = [s for s in segs if s.text.startswith(UPPER_HALF)]
    assert pixels and pixels[0].style.color.triplet == (255, 0, 0)
    assert pixels[0].style.bgcolor.triplet == (0, 0, 255)
    console.print(FramesRenderable(frames))
    text = console.export_text()
    assert "t=1.5s ✗" in text and "no frame" in text  # the gap is drawn and labelled


class GatedResults(LocalHost):
    """A LocalHost whose first `results` read is taken from the store at once but handed over
    only when the test opens the gate: a read that began before a change and ends after it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.reads = 0

    def stream(self, argv):
        if argv and argv[0] == "results":
            self.reads += 1
            if self.reads == 1:
                events = list(super().stream(argv))  # the store as it is now
                self.gate.wait(60)
                yield from events
                return
        yield from super().stream(argv)


async def test_scan_screen_follows_a_change_announced_while_it_reads(tmp_path, monkeypatch):
    """The flake in `test_approve_by_reason_move_undo`: the scan screen dropped a store change
    announced while its own read of the store was still running, then showed what that read
    had begun with. It must start over instead."""
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    store = factory.build_store(tmp_path / "ds", 60, seed=9, problem_share=0.3)
    host = GatedResults()
    app = NexaraApp(root=str(store.root), host=host)
    async with app.run_test(size=(120, 40)) as pilot:
        scan = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan.mode == "results" and host.reads == 1,
                       what="the first read, held at the gate")
        # The store changes under it (a quarantine from the CLI) and the app announces it.
        res = await asyncio.to_thread(host.run, ["quarantine", str(store.root), "--yes",
                                                 "--verdict", "corrupt", "--json"], 120)
        assert res.rc == 0, res.stderr
        after = next(e for e in host.stream(["results", str(store.root), "--json"])
                     if e["type"] == "summary")["summary"]
        assert after["overall"]["total"] < store.total
        app.broadcast_scan_finished(after, root=str(store.root), loaded=True)
        await pilot.pause()
        host.gate.set()  # the old read ends now, with the old numbers
        await wait_for(pilot, lambda: scan.mode is None
                       and scan.feed.summary.to_dict()["overall"] == after["overall"],
                       what="the scan screen on the store as it is now")
