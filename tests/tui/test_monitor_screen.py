"""Pilot tests: the Monitor screen attached to a log that grows while it is open."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from textual.app import App

from core.host import Host
from core.host.local import LocalHost
from nexara_tui.screens.monitor import MonitorScreen
from nexara_tui.state import AppState
from nexara_tui.widgets.epoch_table import EpochTable
from tests.tui.conftest import Recorder


class MonitorApp(App):
    """The smallest app the screen's contract needs: `host`, `root`, `state`."""

    def __init__(self, host: Host, source: str | None) -> None:
        super().__init__()
        self.host = host
        self.root = None
        self.state = AppState()
        self.source = source

    def on_mount(self) -> None:
        screen = MonitorScreen(self.source)
        screen.POLL_S = 0.1
        self.push_screen(screen)


def epoch_line(i: int, violent: float, nonviolent: float) -> str:
    return json.dumps({
        "v": 1, "type": "epoch", "epoch": i, "epochs": 150, "loss": 1.0 / i, "accuracy": 0.6,
        "val_loss": 1.1 / i, "val_accuracy": 0.5 + i / 1000,
        "recall": {"violent": violent, "nonviolent": nonviolent}, "lr": 1e-3, "seconds": 2.0,
        "best_epoch": i, "since_improvement": 0, "patience": 30,
    }) + "\n"


class Writer(threading.Thread):
    """Appends epochs to the log while the screen is open, as a trainer would.

    After `pause_after` lines it waits for `resume` so a test can look at the
    screen mid-run without racing the writer.
    """

    def __init__(self, path: Path, lines: list[str], every: float, pause_after: int = 0) -> None:
        super().__init__(daemon=True)
        self.path, self.lines, self.every = path, lines, every
        self.pause_after = pause_after
        self.halt = threading.Event()
        self.resume = threading.Event()

    def run(self) -> None:
        for n, line in enumerate(self.lines):
            if n and n == self.pause_after:
                self.resume.wait(30)
            if self.halt.wait(self.every):
                return
            with self.path.open("a") as fh:
                fh.write(line)


async def wait_for(pilot, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def notifications(rec: Recorder) -> list[str]:
    return rec.notifications


async def run_growing_log(host: Host, source: str, write_path: Path) -> MonitorScreen:
    """Open `source` (a log file or a job id on `host`) while `write_path` grows; check the screen.

    Five healthy epochs appear first (no alarm), then three where violent recall
    collapses: the rows appear and the "always predicts" alarm is raised once.
    """
    write_path.write_text("")
    healthy = [epoch_line(i, 0.70, 0.74) for i in range(1, 6)]
    collapsed = [epoch_line(i, 0.04, 0.98) for i in range(6, 9)]
    app = MonitorApp(host, source)
    writer = Writer(write_path, healthy + collapsed, every=0.15, pause_after=len(healthy))
    rec = Recorder()
    async with app.run_test(size=(140, 45), message_hook=rec) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        table = screen.query_one(EpochTable)
        writer.start()
        try:
            await wait_for(pilot, lambda: table.row_count == 5)  # rows appear as the log grows
            assert not screen.state.alarms
            writer.resume.set()
            await wait_for(pilot, lambda: table.row_count == 8)
            await wait_for(pilot, lambda: any("always predicts nonviolent" in m
                                              for m in notifications(rec)))
        finally:
            writer.halt.set()
            writer.join(5)
        assert [str(k.value) for k in table.rows] == [str(i) for i in range(1, 9)]
        assert table.classes_shown == ["violent", "nonviolent"]
        assert table.best == 8
        assert str(table.get_cell("8", "epoch")).startswith("8 ★")
        assert not str(table.get_cell("7", "epoch")).endswith("★")
        # The alarm is raised once, and the status panel tells the same story.
        assert sum("always predicts" in m for m in notifications(rec)) == 1
        assert "epoch 8/150" in str(screen.status_text())
        assert "always predicts nonviolent" in str(screen.query_one("#mon-alarms").render())
    return screen


async def test_growing_log_fills_the_table_and_raises_an_alarm(tmp_path):
    path = tmp_path / "epochs.jsonl"
    await run_growing_log(LocalHost(), str(path), path)


async def test_table_follows_the_tail_unless_scrolled_up(tmp_path):
    path = tmp_path / "epochs.jsonl"
    path.write_text("".join(epoch_line(i, 0.7, 0.72) for i in range(1, 151)))
    app = MonitorApp(LocalHost(), str(path))
    async with app.run_test(size=(140, 45)) as pilot:
        table = app.screen.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 150)
        await wait_for(pilot, lambda: table.max_scroll_y > 0 and table.scroll_y == table.max_scroll_y)
        # The user scrolls up to read early epochs: new rows must not yank the view away.
        table.scroll_home(animate=False)
        await pilot.pause()
        with path.open("a") as fh:
            fh.write(epoch_line(151, 0.7, 0.72))
        await wait_for(pilot, lambda: table.row_count == 151)
        await pilot.pause(0.2)
        assert table.scroll_y == 0
        # f (follow) jumps to the newest epoch and resumes following.
        await pilot.press("f")
        with path.open("a") as fh:
            fh.write(epoch_line(152, 0.7, 0.72))
        await wait_for(pilot, lambda: table.row_count == 152)
        await wait_for(pilot, lambda: table.scroll_y == table.max_scroll_y)


async def test_pick_a_job_from_the_host(tmp_path):
    """The picker lists the host's jobs; choosing one attaches to its event log."""
    from textual.widgets import OptionList

    from tests.test_monitor_cli import wait_job

    log = tmp_path / "epochs.jsonl"
    log.write_text("".join(epoch_line(i, 0.7, 0.72) for i in range(1, 5)))
    host = LocalHost()
    job_id = host.start_job(["monitor", str(log), "--once"])  # its log: four epoch events
    wait_job(host, job_id)
    app = MonitorApp(host, None)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        jobs = screen.query_one("#mon-jobs", OptionList)
        await wait_for(pilot, lambda: jobs.option_count >= 1 and jobs.get_option_at_index(0).id)
        assert jobs.get_option_at_index(0).id == job_id
        await pilot.press("j")
        jobs.highlighted = 0
        await pilot.press("enter")
        table = screen.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 4)
        await wait_for(pilot, lambda: screen.state.run.ended)
        assert screen.state.run.status == "finished"
        assert f"job {job_id}" in str(screen.status_text())


async def test_in_the_app_key_4_opens_the_newest_training_job(tmp_path):
    """In the real app, the Monitor screen opens the newest training job by itself.

    This one dies at once (no such dataset): the screen says so, with its stderr.
    """
    from nexara_tui.app import NexaraApp

    host = LocalHost()
    job_id = host.start_job(["train", str(tmp_path / "no-such-dataset"), "--foreground"])
    app = NexaraApp(host=host)
    rec = Recorder()
    async with app.run_test(size=(140, 45), message_hook=rec) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.source_label != "", timeout=20)
        assert job_id in screen.source_label
        await wait_for(pilot, lambda: any(a.code == "job_died" for a in screen.state.alarms), timeout=60)
        alarm = next(a for a in screen.state.alarms if a.code == "job_died")
        assert "no-such-dataset" in alarm.message
        assert any("job died" in m for m in notifications(rec))
