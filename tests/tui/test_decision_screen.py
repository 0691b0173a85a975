"""Pilot test: the Decision screen shows what `nexara decide --json` reports, follows a new
scan, and writes the training config on the host.

Real pieces: the demo dataset scanned by the real `nexara scan`, a LocalHost (and an SSHHost to the loopback sshd) running
`nexara decide` as a subprocess, a real TOML file loaded by the training config loader.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from core.host.local import LocalHost
from core.training.config import load_config
from nexara_tui.app import NexaraApp
from nexara_tui.messages import ScreenLoaded
from nexara_tui.screens.decision import DecisionScreen, PathPromptScreen
from nexara_tui.screens.prompts import ConfirmScreen
from tests.tui.conftest import wait_for


def decide_json(root: Path, *extra: str) -> dict:
    """What the real CLI reports (a subprocess: the running app owns this process's stdout)."""
    evs = list(LocalHost().stream(["decide", str(root), "--json", *extra]))
    return next(e for e in evs if e["type"] == "decision")["decision"]


def scan(root: Path) -> None:
    res = LocalHost().run(["scan", str(root), "--json", "--workers", "2"], timeout=120)
    assert res.rc == 0, res.stderr


def assert_screen_matches(screen: DecisionScreen, d: dict) -> None:
    assert screen.decision is not None
    assert screen.decision.total == d["total"] and screen.decision.lost == d["lost"]
    active = [b.id for b in screen.query(".band.-active")]
    assert active == [f"band-{d['band']}"]
    assert screen.table.row_count == len(d["rows"])
    for r in d["rows"]:
        cells = screen.row_cells(f"{r['split']}/{r['class']}")
        assert cells[1] == f"{r['valid']:,}" and cells[2] == f"{r['lost']:,}"
        assert cells[3] == f"{r['rate'] * 100:.1f} %"
        if r["weight_applied"] is not None:
            assert cells[4] == f"{r['weight_applied']:.2f}"
            assert cells[6] == f"{r['multiplier']}×"
            assert cells[7] == f"{r['effective']:,}" and cells[8] == f"{r['redownload']:,}"


async def test_decision_screen_shows_decide_numbers(demo_dataset, tmp_path, any_host):
    root = tmp_path / "organized_dataset"
    shutil.copytree(demo_dataset.root, root)
    await asyncio.to_thread(scan, root)
    expected = await asyncio.to_thread(decide_json, root)

    app = NexaraApp(root=str(root), host=any_host)
    loaded: list[ScreenLoaded] = []
    async with app.run_test(size=(140, 50), message_hook=lambda m: loaded.append(m)
                            if isinstance(m, ScreenLoaded) and m.screen == "decision" else None) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="decision screen")
        screen: DecisionScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: screen.decision is not None, what="first decision")
        assert_screen_matches(screen, expected)
        assert "lost" in screen.status_text

        # Damaged counted as lost: the same numbers as the CLI with the flag.
        loads = len(loaded)
        await pilot.press("d")
        await wait_for(pilot, lambda: len(loaded) > loads and screen.decision.damaged_is_lost,
                       what="reload with damaged lost")
        assert_screen_matches(screen, await asyncio.to_thread(decide_json, root, "--count-damaged-as-lost"))
        loads = len(loaded)
        await pilot.press("d")
        await wait_for(pilot, lambda: len(loaded) > loads and not screen.decision.damaged_is_lost,
                       what="reload with damaged kept")

        # A new scan (one clip gone from disk) → ScanFinished → the matrix follows.
        gone = next((root / "train" / "violent").glob("*.mp4"))
        gone.unlink()
        await asyncio.to_thread(scan, root)
        after = await asyncio.to_thread(decide_json, root)
        assert after["total"] == expected["total"] - 1
        loads = len(loaded)
        app.broadcast_scan_finished({"groups": []}, root=str(root))
        await wait_for(pilot, lambda: len(loaded) > loads and screen.decision.total == after["total"],
                       what="refresh after scan")
        assert_screen_matches(screen, after)

        # w: write the training config on the host, default path next to the dataset.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPromptScreen), what="path prompt")
        prompt = app.screen
        assert prompt.default == str(tmp_path / "train.toml")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.last_written is not None, timeout=60, what="config written")
        cfg = load_config(tmp_path / "train.toml")
        assert cfg.class_weights == after["class_weights"]
        assert cfg.class_multipliers == after["class_multipliers"]

        # Again: the file exists, so the screen asks before replacing it.
        screen.last_written = None
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPromptScreen), what="path prompt 2")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60,
                       what="replace confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.last_written is not None, timeout=60, what="replaced")


async def test_decision_screen_without_scan_says_scan_first(tmp_path):
    app = NexaraApp(root=str(tmp_path), host=LocalHost())
    loaded: list[ScreenLoaded] = []
    async with app.run_test(size=(120, 40), message_hook=lambda m: loaded.append(m)
                            if isinstance(m, ScreenLoaded) else None) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="decision screen")
        screen: DecisionScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: any(m.screen == "decision" for m in loaded), what="load attempt")
        assert next(m for m in loaded if m.screen == "decision").error
        assert screen.decision is None
        assert "no scan yet" in screen.status_text and "nexara scan" in screen.status_text
        await pilot.press("w")  # nothing to write: says so, no prompt
        assert not isinstance(app.screen, PathPromptScreen)
