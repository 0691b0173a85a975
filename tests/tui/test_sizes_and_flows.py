"""Issue 16, item by item: layout at 80×24 and 120×40, and the flows users tripped over.

Each test drives the real app (LocalHost, real `nexara` subprocesses, a real
scan store built by tests/tui/factory.py) and waits on real conditions.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.fit import cut_words, elide_middle, fit
from nexara_tui.screens.decision import DecisionScreen
from nexara_tui.screens.help import HelpScreen
from nexara_tui.screens.host_picker import HostPickerScreen, typed_host_error
from nexara_tui.screens.monitor import MonitorScreen
from nexara_tui.screens.quarantine import QuarantineScreen, last_batch_in_quarantine
from nexara_tui.screens.root_picker import RootPickerScreen
from nexara_tui.widgets.epoch_table import EpochTable, short_lr
from nexara_tui.widgets.file_list import column_widths
from tests.tui import factory
from tests.tui.conftest import Recorder, wait_for


@pytest.fixture
def ds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 300, seed=11, long_names=True)
    return "ds"


async def loaded(pilot, app) -> None:
    scan = app.mode_screen("scan")
    await wait_for(pilot, lambda: scan.mode is None and scan.feed.finished is not None,
                   what="the stored results")


def test_paths_are_elided_in_the_middle_and_prose_at_words():
    p = "train/violent/violent_recorded_at_the_north_entrance_camera_000007.mp4"
    for w in (12, 24, 40, 60):
        out = elide_middle(p, w)
        assert len(out) <= w and out.endswith("0007.mp4") and out.startswith("tra"), out
        assert len(fit(p, w, "middle")) == w
    assert cut_words("top reasons: truncated 412, moov_missing 97", 30) == "top reasons: truncated 412…"


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_the_path_column_never_goes_and_gives_way_last(width):
    from nexara_tui.screens.quarantine import COLUMNS

    widths = dict(zip([c.title for c in COLUMNS], column_widths(COLUMNS, width), strict=True))
    assert widths["path"] >= 24
    assert sum(w + 1 for w in widths.values() if w) + 2 <= width + 1
    if widths["frames"]:
        assert all(widths[t] for t in ("verdict", "reason", "size")), widths
    assert widths["verdict"] and widths["size"]  # what tells two rows apart stays


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_quarantine_rows_show_the_file_name(ds, size):
    app = NexaraApp(root=ds, host=LocalHost())
    async with app.run_test(size=size) as pilot:
        await loaded(pilot, app)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, QuarantineScreen)
        await wait_for(pilot, lambda: not screen.loading and screen.rows, what="the flagged files")
        await pilot.pause()
        fl = screen.file_list
        for y in range(1, fl.page_size + 1):
            row = fl.model.row_at(int(fl.scroll_offset.y) + y - 1)
            line = fl.render_line(y).text
            assert row.path[-10:] in line, (row.path, line)  # "…000123.mp4": which file it is


async def test_undo_with_nothing_to_undo_says_so(ds):
    app = NexaraApp(root=ds, host=LocalHost())
    rec = Recorder()
    async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
        await pilot.press("3")
        await pilot.press("u")
        await wait_for(pilot, lambda: any("nothing to undo" in n for n in rec.notifications),
                       what="the nothing-to-undo notice")
        assert not isinstance(app.screen, type(None)) and app.screen.busy is None


def test_last_batch_replays_moves_and_restores():
    evs = [{"type": "journal_batch", "batch": "b1", "op": "move",
            "files": [{"rel": "a", "state": "done", "size": 10}, {"rel": "b", "state": "done", "size": 5}]},
           {"type": "journal_batch", "batch": "b2", "op": "move",
            "files": [{"rel": "c", "state": "done", "size": 7}]},
           {"type": "journal_batch", "batch": "r1", "op": "restore",
            "files": [{"rel": "c", "state": "done", "size": 7}]}]
    plan = last_batch_in_quarantine(evs)
    assert plan is not None and (plan.batch, plan.files, plan.bytes) == ("b1", 2, 15)
    assert last_batch_in_quarantine(evs + [{"type": "journal_batch", "batch": "r2", "op": "restore",
                                            "files": [{"rel": "a", "state": "done"},
                                                      {"rel": "b", "state": "done"}]}]) is None


async def test_mixed_level_store_says_what_it_holds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 90, seed=2, levels=("quick", "standard", "standard"))
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        status = app.mode_screen("scan").status_text
        assert status == "stored results, mixed levels: 30 at quick, 60 at standard", status


async def test_filter_that_matches_nothing_names_the_known_verdicts(ds):
    app = NexaraApp(root=ds, host=LocalHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"verdict:bogus", "enter")
        fl = app.screen.query_one("#problems")
        await wait_for(pilot, lambda: fl.model.filter_text == "verdict:bogus", what="the filter")
        assert "No problem file matches `verdict:bogus`" in fl.empty_text
        assert "Known verdicts: warning, damaged, corrupt" in fl.empty_text


async def test_o_opens_a_root_picker_checked_on_the_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 40, seed=1)
    app = NexaraApp(root=None, host=LocalHost())
    async with app.run_test(size=(80, 24)) as pilot:
        assert "press o" in str(app.screen.query_one("NexaraHeader").render())
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RootPickerScreen), what="the root picker")
        picker = app.screen
        await pilot.press(*"nope", "enter")
        await wait_for(pilot, lambda: picker.error, what="the no-such-folder line")
        assert "no such folder on local" in picker.error
        picker.query_one("Input").value = ""
        await pilot.press(*str(tmp_path / "ds"), "enter")
        await wait_for(pilot, lambda: app.state.root == str(tmp_path / "ds"), what="the new root")
        await loaded(pilot, app)  # every screen follows: the scan screen loads its results
        assert app.mode_screen("scan").feed.summary.overall.total == 40


def test_typed_hosts_are_checked_for_shape():
    assert typed_host_error("gpubox") is None
    assert typed_host_error("me@10.0.0.5:2222") is None
    assert typed_host_error("me@[::1]:22") is None
    assert "out of range" in typed_host_error("me@box:70000")
    assert "not a host" in typed_host_error("me@@box")


async def test_host_picker_takes_a_typed_user_at_host_port(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    app = NexaraApp(root=str(tmp_path), host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HostPickerScreen), what="the picker")
        picker = app.screen
        picker.query_one("#host-typed").focus()
        await pilot.press(*f"nobody@127.0.0.1:{port}", "enter")
        await wait_for(pilot, lambda: picker.error is not None, timeout=30, what="the connection error")
        status = str(picker.query_one("#picker-status").render())
        assert f"could not connect to nobody@127.0.0.1:{port}" in status


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_help_lists_every_key_and_scrolls(ds, size):
    app = NexaraApp(root=ds, host=LocalHost())
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        box = app.screen.query_one("#help-scroll")
        await pilot.pause()
        assert box.max_scroll_y > 0  # more keys than fit: it must scroll
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: box.scroll_y > 0, what="the help to scroll")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="the help to close")


async def test_decide_scrolls_the_page_and_says_what_is_below(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 400, seed=5, skew={"violent": 0.45, "nonviolent": 0.05})
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen)
                       and app.screen.decision is not None, what="the decision")
        screen = app.screen
        more = screen.query_one("#d-more")
        await wait_for(pilot, lambda: not more.has_class("-hidden") and "more lines" in str(more.render()),
                       what="the below-the-fold hint")
        assert "findings" in str(more.render())
        assert not screen.table.has_focus and screen.body.has_focus
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: screen.body.scroll_y > 0, what="the page to scroll")
        await pilot.press("end")
        await wait_for(pilot, lambda: more.has_class("-hidden"), what="the hint gone at the bottom")


def epochs_file(tmp_path):
    return factory.write_epochs(tmp_path / "epochs.jsonl")


async def test_monitor_at_80_columns_folds_the_job_panel_and_formats_lr(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    epochs_file(tmp_path)
    monkeypatch.setattr(MonitorScreen, "GPU_POLL_S", 0)
    app = NexaraApp(root=None, host=LocalHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor")
        screen = app.screen
        assert not screen.query_one("#mon-side").display  # folded at 80 columns
        table = screen.query_one(EpochTable)
        assert table.has_focus  # letters typed now are screen keys, never a path
        await pilot.press("o")
        assert screen.query_one("#mon-side").display  # o brings the log box with its panel
        await pilot.press(*"epochs.jsonl", "enter")
        await wait_for(pilot, lambda: table.row_count == factory.EPOCHS, what="the epochs")
        assert table.has_focus
        assert str(table.get_cell("1", "lr")) == "3.0e-3" and str(table.get_cell("20", "lr")) == "3.0e-4"
        await pilot.press("b")
        assert not screen.query_one("#mon-side").display
        assert table.region.right <= 80 and table.virtual_size.width <= table.size.width + 1
        assert table.region.height >= 6  # the table keeps rows at 24 lines, curves on
        overfit = next(a for a in screen.state.alarms if a.code == "overfit")
        assert "since epoch 14" in overfit.message and "epoch 13" in overfit.message
        assert f"epoch {overfit.epoch}" in overfit.message


def test_short_lr_and_epoch_ticks():
    from nexara_tui.widgets.curves import epoch_ticks

    assert [short_lr(v) for v in (3e-3, 1e-4, 0.1, None)] == ["3.0e-3", "1.0e-4", "1.0e-1", "–"]
    assert epoch_ticks([1, 2, 3]) == [1, 2, 3]
    ticks = epoch_ticks(list(range(1, 151)))
    assert all(isinstance(t, int) for t in ticks) and len(ticks) <= 6 and ticks[-1] <= 150


async def test_monitor_highlights_and_shows_a_job_started_from_the_cli(tmp_path, monkeypatch):
    monkeypatch.setattr(MonitorScreen, "GPU_POLL_S", 0)
    log = tmp_path / "train.jsonl"
    log.write_text("")
    host = LocalHost()
    app = NexaraApp(root=None, host=host)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor")
        screen = app.screen
        jobs = screen.query_one("#mon-jobs")
        await wait_for(pilot, lambda: jobs.option_count >= 1, what="the job list")
        job_id = host.start_job(["monitor", str(log)])  # from "the CLI", while the screen is open
        try:
            await wait_for(pilot, lambda: any(jobs.get_option_at_index(i).id == job_id
                                              for i in range(jobs.option_count)),
                           timeout=MonitorScreen.JOBS_POLL_S + 10, what="the new job in the list")
            await pilot.press("j")
            assert jobs.highlighted is not None and jobs.has_focus
            assert jobs.get_option_at_index(jobs.highlighted).id == job_id
        finally:
            host.cancel_job(job_id)


def test_scan_into_a_pipe_prints_progress_lines(demo_dataset, tmp_path):
    env = dict(os.environ, NEXARA_STATE_DIR=str(tmp_path / "state"))
    p = subprocess.run([sys.executable, "-m", "core.cli", "scan", str(demo_dataset.root)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("scanning: ")]
    assert lines and " files" in lines[0], p.stderr


def test_results_never_split_a_path_at_80_columns(tmp_path):
    env = dict(os.environ, COLUMNS="80")  # the store is in this test's own state dir
    store = factory.build_store(tmp_path / "ds", 200, seed=4, long_names=True)
    p = subprocess.run([sys.executable, "-m", "core.cli", "results", str(store.root)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    names = [ln for ln in out if ln.endswith(".mp4")]
    assert len(names) == store.problems
    assert all(ln.startswith(("train/", "val/", "test/")) for ln in names), names[:3]
