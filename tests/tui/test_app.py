"""Pilot tests for the app shell: screens by key, header everywhere, palette, host picker."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from core.host.local import LocalHost
from nexara_tui.app import SCREENS, NexaraApp
from nexara_tui.screens.host_picker import HostPickerScreen, ssh_aliases
from nexara_tui.screens.scan import ScanScreen
from nexara_tui.widgets.header import NexaraHeader
from tests.tui.conftest import wait_for


def header_text(app: NexaraApp) -> str:
    return str(app.screen.query_one(NexaraHeader).render())


async def test_number_keys_switch_screens_and_header_everywhere(tmp_path):
    root = str(tmp_path)
    app = NexaraApp(root=root, host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, ScanScreen)
        seen = {}
        for key, mode in zip("2341", ("decision", "quarantine", "monitor", "scan"), strict=True):
            await pilot.press(key)
            await wait_for(pilot, lambda m=mode: app.current_mode == m, what=f"mode {mode}")
            await wait_for(pilot, lambda: app.screen.query(NexaraHeader), what="a header")
            await pilot.pause()
            seen[mode] = header_text(app)
        assert set(seen) == set(SCREENS)
        for mode, text in seen.items():
            assert "host local" in text and root in text, (mode, text)
        # screens keep their state: the same scan screen instance comes back
        assert app.screen is app.mode_screen("scan")
        # every app binding has an id and a tooltip
        assert all(b.id and b.tooltip for b in NexaraApp.BINDINGS)
        assert all(b.id and b.tooltip for b in ScanScreen.BINDINGS)


async def test_command_palette_runs_screen_actions(tmp_path):
    app = NexaraApp(root=str(tmp_path), host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Level")
        await wait_for(pilot, lambda: "Level" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt),
                       what="a Level command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.state.level == "full", what="the level to cycle")


async def test_host_state_shown_in_header(tmp_path):
    """The Host's own link-state reports (SSHHost's on_state) reach every header."""
    captured: dict = {}

    def opener(name: str, **kwargs):
        captured.update(kwargs)
        return LocalHost()  # a real host; the name is what the header shows

    app = NexaraApp(root=str(tmp_path), host_name="gpubox", host_opener=opener)
    async with app.run_test(size=(200, 40)) as pilot:  # room for the link's detail too
        await wait_for(pilot, lambda: app.host is not None, what="the host to open")
        await wait_for(pilot, lambda: "gpubox ● connected" in header_text(app), what="connected")
        assert callable(captured.get("on_state")) and callable(captured.get("passphrase_callback"))
        t = threading.Thread(target=captured["on_state"], args=("reconnecting", "link lost"))
        t.start()
        t.join()
        await wait_for(pilot, lambda: "reconnecting" in header_text(app), what="reconnecting")
        assert "link lost" in header_text(app)
        captured["on_state"]("connected", "")
        await wait_for(pilot, lambda: "● connected" in header_text(app), what="connected again")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_host_picker_lists_aliases_and_reports_errors(tmp_path, monkeypatch):
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    port = _closed_port()
    (ssh / "config").write_text(
        f"Host gpubox\n  HostName 127.0.0.1\n  Port {port}\n  User nobody\n"
        "Host a-box b-box\n  HostName 127.0.0.1\n"
        "Host *.internal\n  User x\n"
        "Host *\n  ServerAliveInterval 10\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ssh_aliases() == ["a-box", "b-box", "gpubox"]

    app = NexaraApp(root=str(tmp_path), host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HostPickerScreen), what="the picker")
        picker = app.screen
        assert picker.hosts == ["local", "a-box", "b-box", "gpubox"]
        await pilot.press("j", "j", "j")  # down to gpubox (vim keys)
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.error is not None, timeout=30, what="the connection error")
        # shown plainly, in one line, and the picker stays open on the current host
        assert "\n" not in picker.error and "cannot connect" in picker.error
        assert isinstance(app.screen, HostPickerScreen) and app.state.host_name == "local"
        status = str(picker.query_one("#picker-status").render())
        assert "could not connect to gpubox" in status
        # local works and closes the picker
        await pilot.press("k", "k", "k")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), what="the picker to close")
        assert app.state.host_name == "local" and isinstance(app.host, LocalHost)


def test_cli_tui_bad_root_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope"
    p = subprocess.run([sys.executable, "-m", "core.cli", "tui", str(missing)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip() == f"nexara: {missing}: no such directory"
    p = subprocess.run([sys.executable, "-m", "core.cli", "tui", "--scan"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--scan needs ROOT" in p.stderr


async def test_keys_remapped_from_config(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keys]\n"scan.level" = "v"\n')
    monkeypatch.setenv("NEXARA_CONFIG", str(cfg))
    app = NexaraApp(root=str(tmp_path), host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        assert app.state.level == "full"
        await pilot.press("l")  # the old key no longer does it
        assert app.state.level == "full"


@pytest.mark.parametrize("width", [120, 80])
async def test_tabs_in_header_and_help_quit_fit_the_footer(tmp_path, monkeypatch, width):
    """Every screen shows the four tabs (current one reversed), and a footer that keeps
    ? Help and q Quit whole at 120 and at 80 columns (other keys give way, none is cut)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds").mkdir()
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(width, 40)) as pilot:
        for key, mode, label in (("1", "scan", "1 Scan"), ("2", "decision", "2 Decide"),
                                 ("3", "quarantine", "3 Quarantine"), ("4", "monitor", "4 Monitor")):
            await pilot.press(key)
            await wait_for(pilot, lambda m=mode: app.current_mode == m, what=f"mode {mode}")
            await pilot.pause()
            rendered = app.screen.query_one(NexaraHeader).render()
            text = str(rendered)
            start = text.index(f" {label} ")
            styles = [s.style for s in rendered.spans if s.start <= start < s.end]
            assert any(getattr(s, "reverse", False) for s in styles), (mode, styles)
            assert rendered.cell_length <= width, text
            if width >= 120:
                for other in ("1 Scan", "2 Decide", "3 Quarantine", "4 Monitor"):
                    assert other in text
            keys = list(app.screen.query("FooterKey"))
            for wanted in ("q", "question_mark"):
                found = [k for k in keys if k.key == wanted]
                assert found, (mode, wanted, [k.key for k in keys])
                region = found[0].region
                assert region.width > 0 and region.right <= width, (mode, wanted, region)
            assert all(k.region.right <= width for k in keys), (mode, [(k.key, k.region) for k in keys])
