"""The picture of every screen in its telling states, at 120×40, 80×24 and (where room
matters) 200×50: a layout regression fails here instead of reaching a user.

Built with `tests/tui/factory.py` on real data (files on disk, a real scan store,
real `nexara` subprocesses through a LocalHost, a real encoded clip for the
preview); what varies between runs is fixed there (the root is the relative
`ds`, seeds are fixed, no clock on screen, the GPU is not polled). Each
`run_before` waits on the screen's real state, never on time.

Update after an intended change: `pytest tests/tui/test_snapshots.py --snapshot-update`,
then look at the report (snapshot_report.html) before committing the SVGs.
"""

from __future__ import annotations

import pytest

from nexara_tui.screens.decision import DecisionScreen
from nexara_tui.screens.help import HelpScreen
from nexara_tui.screens.monitor import MonitorScreen
from nexara_tui.screens.quarantine import QuarantineScreen
from nexara_tui.screens.scan import ScanScreen
from nexara_tui.widgets.frame_preview import FramePreview
from tests.tui import factory
from tests.tui.conftest import settled, wait_for

SIZES = [(120, 40), (80, 24)]
WIDE = [(120, 40), (80, 24), (200, 50)]


def _id(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


@pytest.fixture
def snap(snap_compare):
    """`snap_compare` whose `run_before` ends once the tables are measured (see `settled`)."""
    def compare(app, *, terminal_size, run_before=None):
        async def then_settle(pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await settled(pilot)
        return snap_compare(app, terminal_size=terminal_size, run_before=then_settle)
    return compare


@pytest.fixture
def ds(tmp_path, monkeypatch):
    """ROOT `ds` in the test's working directory: 300 files, 14 % problems, long names."""
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    store = factory.build_store(tmp_path / "ds", 300, seed=11, long_names=True, real_clips=1)
    REAL.clear()
    REAL.extend(store.real)
    return "ds"


REAL: list[str] = []


async def _scan_loaded(pilot) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, ScanScreen)
    await wait_for(pilot, lambda: screen.mode is None and screen.feed.finished is not None
                   and "scanned" in str(screen.query_one("#progress-label").render()),
                   what="the stored results")
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", WIDE, ids=_id)
def test_scan_finished_with_problems(snap, ds, size):
    assert snap(factory.scan_app(ds), terminal_size=size, run_before=_scan_loaded)


@pytest.mark.parametrize("size", SIZES, ids=_id)
def test_scan_filter_matches_nothing(snap, ds, size):
    async def run_before(pilot) -> None:
        await _scan_loaded(pilot)
        screen = pilot.app.screen
        await pilot.press("slash", *"verdict:bogus", "enter")
        await wait_for(pilot, lambda: "bogus" in screen.query_one("#problems").empty_text,
                       what="the no-match message")
        await pilot.pause()

    assert snap(factory.scan_app(ds), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=_id)
def test_help_scrolls(snap, ds, size):
    async def run_before(pilot) -> None:
        await _scan_loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="the help")
        await pilot.press("pagedown")
        await pilot.pause()

    assert snap(factory.scan_app(ds), terminal_size=size, run_before=run_before)


@pytest.fixture
def ds_finding(tmp_path, monkeypatch):
    """A dataset whose violent class lost far more than the rest: the decision has findings."""
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 400, seed=5, skew={"violent": 0.45, "nonviolent": 0.05})
    return "ds"


async def _decision_loaded(pilot) -> None:
    await _scan_loaded(pilot)  # its ScanFinished must not start a second refresh mid-picture
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DecisionScreen)
                   and pilot.app.screen.decision is not None
                   and "refreshing" not in pilot.app.screen.status_text, what="the decision")
    await pilot.pause()


@pytest.mark.parametrize("size", WIDE, ids=_id)
def test_decision_with_a_finding(snap, ds_finding, size):
    assert snap(factory.scan_app(ds_finding), terminal_size=size, run_before=_decision_loaded)


@pytest.mark.parametrize("size", SIZES, ids=_id)
def test_decision_scrolled_to_the_findings(snap, ds_finding, size):
    async def run_before(pilot) -> None:
        await _decision_loaded(pilot)
        await pilot.press("end")
        await pilot.pause()

    assert snap(factory.scan_app(ds_finding), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", WIDE, ids=_id)
def test_quarantine_with_a_preview(snap, ds, size):
    async def run_before(pilot) -> None:
        await _scan_loaded(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        assert isinstance(screen, QuarantineScreen)
        await wait_for(pilot, lambda: not screen.loading and screen.rows, what="the flagged files")
        if size[0] < 100:
            await pilot.press("v")  # the side panel is folded away at 80 columns
        # The real clip: select it, wait for its decoded frames.
        idx = screen.file_list.model.index_of(REAL[0])
        assert idx is not None
        screen.file_list.move_cursor(idx)
        preview = screen.query_one(FramePreview)
        await wait_for(pilot, lambda: any(not f.get("missing") for f in preview.frames), timeout=60,
                       what="the frame preview")
        screen.approvals.add(REAL[0])  # approved: the ✓ and the counts show
        screen.file_list.refresh_rows()
        screen.on_screen_resume()
        await pilot.pause()

    assert snap(factory.scan_app(ds), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", WIDE, ids=_id)
def test_monitor_with_an_alarm(snap, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.write_epochs(tmp_path / "epochs.jsonl")
    monkeypatch.setattr(MonitorScreen, "GPU_POLL_S", 0)

    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor")
        screen = app.screen
        await wait_for(pilot, lambda: screen.gpu_reason and screen.query_one("#mon-jobs").option_count,
                       what="the job list and GPU line")
        await pilot.press("o", *"epochs.jsonl", "enter")
        await wait_for(pilot, lambda: len(screen.state.records) == factory.EPOCHS
                       and screen.state.alarms, what="every epoch and the alarms")
        await pilot.pause()
        app.clear_notifications()  # toasts come and go with time; the alarm panel stays
        await pilot.pause()

    assert snap(factory.scan_app(None), terminal_size=size, run_before=run_before)
