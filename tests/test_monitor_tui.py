"""The Monitor screen on logs that hold several runs: an appended CSVLogger file, a TensorBoard
folder of two fits. The table and curves show the newest run; `[` and `]` switch runs."""

from __future__ import annotations

import shutil

import pytest

from core.host.local import LocalHost
from nexara_tui.screens.monitor import MonitorScreen
from nexara_tui.widgets.epoch_table import EpochTable
from tests.keras_logs import keras_runs
from tests.tui.test_monitor_screen import MonitorApp, wait_for


@pytest.fixture(scope="session")
def runs():
    return keras_runs()


def epochs_shown(table: EpochTable) -> list[str]:
    return [str(k.value) for k in table.rows]


@pytest.mark.parametrize("which", ["csv", "tensorboard"])
async def test_runs_of_one_log_newest_first_and_switchable(runs, tmp_path, which):
    src = getattr(runs, which)
    dest = tmp_path / src.name
    (shutil.copytree if src.is_dir() else shutil.copy)(src, dest)
    history = runs.csv_history if which == "csv" else runs.tensorboard_history
    app = MonitorApp(LocalHost(), str(dest))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        table = screen.query_one(EpochTable)
        await wait_for(pilot, lambda: len(screen.state.runs) == 2 and table.row_count == 2)
        # The newest run (the second fit, 2 epochs) is the one shown.
        assert epochs_shown(table) == ["1", "2"]
        assert screen.shown_run.index == 2
        line = str(screen.query_one("#mon-runs").render())
        assert line.index("run 2 (epochs 1–2), newest") < line.index("run 1 (epochs 1–3)"), line
        want = history[1]["val_loss"][1]
        assert str(table.get_cell("2", "val_loss")) == f"{want:.4f}"
        await pilot.press("left_square_bracket")  # the older run
        await wait_for(pilot, lambda: table.row_count == 3)
        assert screen.shown_run.index == 1 and epochs_shown(table) == ["1", "2", "3"]
        assert str(table.get_cell("3", "val_loss")) == f"{history[0]['val_loss'][2]:.4f}"
        assert "▶ run 1" in str(screen.query_one("#mon-runs").render())
        await pilot.press("left_square_bracket")  # there is none older: it stays
        assert screen.shown_run.index == 1
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: table.row_count == 2)
        assert screen.shown_run.index == 2 and screen.run_view is None  # following the newest
        assert screen.query_one("#mon-runs").display


async def test_a_single_run_has_no_runs_line(runs, tmp_path):
    path = tmp_path / "one.csv"
    lines = runs.csv.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))  # the header and the first fit's three rows
    app = MonitorApp(LocalHost(), str(path))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        table = screen.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert not screen.query_one("#mon-runs").display
        # A second fit appends to the same file while the screen follows it.
        with path.open("a") as fh:
            fh.write("".join(lines[4:]))
        await wait_for(pilot, lambda: len(screen.state.runs) == 2 and table.row_count == 2)
        assert screen.query_one("#mon-runs").display
        assert screen.shown_run.index == 2
