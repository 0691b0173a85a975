"""Pilot tests: the scan screen drives a real detached scan job on a real demo dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.messages import ScanFinished
from nexara_tui.screens.file_detail import FileDetailScreen
from nexara_tui.screens.scan import ScanScreen
from nexara_tui.widgets.file_list import FileList
from nexara_tui.widgets.header import NexaraHeader
from nexara_tui.widgets.summary_table import SummaryTable
from tests.tui.conftest import wait_for


@pytest.fixture(scope="module")
def cli_scan(demo_dataset, tmp_path_factory) -> dict:
    """What `nexara scan ROOT --json` reports, from its own state dir (a fresh scan)."""
    env = dict(os.environ, NEXARA_STATE_DIR=str(tmp_path_factory.mktemp("cli-state")))
    out = subprocess.run([sys.executable, "-m", "core.cli", "scan", str(demo_dataset.root), "--json"],
                         capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    files = [e["result"] for e in events if e["type"] == "file"]
    summary = next(e for e in events if e["type"] == "summary")
    return {"summary": summary["summary"], "files": files}


def scan_screen(app: NexaraApp) -> ScanScreen:
    screen = app.screen
    assert isinstance(screen, ScanScreen)
    return screen


def table_totals(screen: ScanScreen) -> dict[str, dict[str, str]]:
    return screen.query_one(SummaryTable).shown()


def expected_cells(summary: dict) -> dict[str, str]:
    o = summary["overall"]
    return {"total": f"{o['total']:,}", "corrupt": f"{o['corrupt']:,}"}


async def test_scan_fills_in_and_matches_cli(demo_dataset, cli_scan):
    root = str(demo_dataset.root)
    finished: list[ScanFinished] = []
    app = NexaraApp(root=root, host=LocalHost(), scan_on_start=True, level="standard")
    async with app.run_test(size=(120, 40),
                            message_hook=lambda m: finished.append(m)
                            if isinstance(m, ScanFinished) else None) as pilot:
        screen = scan_screen(app)
        t0 = time.monotonic()
        await wait_for(pilot, lambda: app.state.scan_running, timeout=20, what="the scan job to start")
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       timeout=240, what="the scan to finish")
        print(f"\nTUI scan of {screen.feed.done} files: {time.monotonic() - t0:.1f} s")
        # ScanFinished is posted to the app and reaches the hook a moment later.
        await wait_for(pilot, lambda: finished, timeout=10, what="ScanFinished")
        assert finished[0].summary == cli_scan["summary"]
        assert app.state.last_summary == cli_scan["summary"]
        assert not app.state.scan_running
        assert screen.job_id  # it ran as a detached job
        # the table shows the CLI's numbers, per group and overall
        cells = table_totals(screen)
        overall = cells["__overall__"]
        assert overall["total"] == expected_cells(cli_scan["summary"])["total"]
        assert overall["corrupt"].startswith(expected_cells(cli_scan["summary"])["corrupt"] + " (")
        for g in cli_scan["summary"]["groups"]:
            row = cells[f"{g['split']}\x00{g['class']}"]
            assert row["total"] == f"{g['total']:,}"
            assert row["damaged"] == f"{g['damaged']:,}"
            assert row["valid"].split()[0] == f"{g['ok'] + g['warning'] + g['damaged']:,}"
        # every problem file is listed once
        fl = screen.query_one(FileList)
        problems = sorted(f["path"] for f in cli_scan["files"] if f["verdict"] != "ok")
        assert sorted(r.path for r in fl.model.rows) == problems
        # the progress line ends with what was scanned
        label = str(screen.query_one("#progress-label").render())
        n = cli_scan["summary"]["overall"]["total"]
        assert label == f"{n:,} scanned"
        # the header names the host and the root
        header = str(screen.query_one(NexaraHeader).render())
        assert "local" in header and root in header and "connected" in header


async def test_filter_and_detail(demo_dataset, cli_scan):
    root = str(demo_dataset.root)
    app = NexaraApp(root=root, host=LocalHost(), scan_on_start=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = scan_screen(app)
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       timeout=240, what="the scan to finish")
        fl = screen.query_one(FileList)
        corrupt = sorted(f["path"] for f in cli_scan["files"] if f["verdict"] == "corrupt")
        await pilot.press("slash")
        await pilot.press(*"verdict:corrupt")
        await wait_for(pilot, lambda: fl.model.filter_text == "verdict:corrupt", what="the filter")
        assert sorted(r.path for r in fl.model.visible_rows()) == corrupt
        # typing into the filter does not trigger screen keys (s, l, r…)
        assert app.state.level == "standard" and screen.mode is None
        await pilot.press("enter")  # back to the list
        assert fl.has_focus
        truncated = [f for f in cli_scan["files"] if "truncated" in f["reasons"]
                     and f["verdict"] == "corrupt"]
        screen.query_one("#filter").value = "v:corrupt reason:truncated"
        await wait_for(pilot, lambda: fl.row_count == len(truncated), what="the reason filter")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FileDetailScreen), what="the detail modal")
        text = str(app.screen.query_one("#detail-text").render())
        assert fl.selected_row.path.split("/")[-1] in text and "truncated" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), what="the modal to close")
        await pilot.press("l")
        assert app.state.level == "full"
        await pilot.press("l", "l")
        assert app.state.level == "standard"


async def test_stored_results_shown_on_open(demo_dataset, cli_scan):
    root = str(demo_dataset.root)
    app = NexaraApp(root=root, host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = scan_screen(app)
        await wait_for(pilot, lambda: screen.mode is None and screen.status_text
                       and "loading" not in screen.status_text, what="the results load")
        assert "no stored results" in screen.status_text and "press s" in screen.status_text
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       timeout=240, what="the scan to finish")
    # a new app on the same root shows the stored results without scanning
    app2 = NexaraApp(root=root, host=LocalHost())
    async with app2.run_test(size=(120, 40)) as pilot:
        screen = scan_screen(app2)
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       what="stored results")
        assert "stored results" in screen.status_text
        assert screen.job_id is None
        assert app2.state.last_summary == cli_scan["summary"]
        fl = screen.query_one(FileList)
        assert fl.model.total == sum(1 for f in cli_scan["files"] if f["verdict"] != "ok")


async def test_dropped_link_reattaches_without_loss_or_repeat(demo_dataset, cli_scan, sshd, tmp_path):
    """A real SSH link dies mid-scan (sshd's sessions killed, as a lost Wi-Fi link would):
    the host's connection brings it back, the follow resumes at the byte offset it reached,
    and the header says reconnecting, then connected. No file lost, none shown twice."""
    from core.host.ssh import SSHHost
    from nexara_tui.messages import HostStateChanged
    from tests.sshd import ALIAS
    from tests.test_ssh import NEXARA

    remote_state = tmp_path / "remote-state"
    root = str(demo_dataset.root)
    host = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(remote_state)},
                   ssh_config=sshd.ssh_config)
    # A real scan, slowed per file, so the link can be cut while it runs.
    job_id = host.start_job(["scan", root, "--workers", "1", "--checker",
                             "tests.helpers_checkers:slow_real_checker"], env={"NEXARA_TEST_SLOW_S": "0.3"})
    states: list[str] = []
    app = NexaraApp(root=root, host=host)
    try:
        async with app.run_test(size=(120, 40),
                                message_hook=lambda m: states.append(m.state)
                                if isinstance(m, HostStateChanged) and not m.from_app else None) as pilot:
            screen = scan_screen(app)
            await wait_for(pilot, lambda: screen.job_id == job_id and screen.feed.done >= 3, timeout=120,
                           what="the first results over SSH")
            assert screen.feed.done < cli_scan["summary"]["overall"]["total"], "the scan ended too soon"
            assert sshd.kill_sessions() >= 1
            await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                           timeout=240, what="the scan to finish after the drop")
            assert "reconnecting" in states and states[-1] == "connected", states
            await wait_for(pilot, lambda: app.state.link_state == "connected", what="the header's state")
            fl = screen.query_one(FileList)
            problems = sorted(f["path"] for f in cli_scan["files"] if f["verdict"] != "ok")
            assert sorted(r.path for r in fl.model.rows) == problems  # none lost, none twice
            assert screen.feed.done == cli_scan["summary"]["overall"]["total"]
            assert app.state.last_summary == cli_scan["summary"]
    finally:
        host.close()


async def test_reopening_attaches_to_the_running_scan_and_x_cancels_it(demo_dataset):
    """Close the TUI mid-scan and open it again: it follows the same job; x cancels it."""
    root = str(demo_dataset.root)
    host = LocalHost()
    job_id = host.start_job(
        ["scan", root, "--workers", "1", "--checker", "tests.helpers_checkers:slow_real_checker"],
        env={"NEXARA_TEST_SLOW_S": "1.0"},
    )
    app = NexaraApp(root=root, host=host)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = scan_screen(app)
        await wait_for(pilot, lambda: screen.job_id == job_id and screen.mode == "scan",
                       timeout=30, what="attaching to the running job")
        assert app.state.scan_running
        await wait_for(pilot, lambda: screen.feed.done >= 1, timeout=60, what="a first result")
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.mode is None, timeout=60, what="the job to end")
        assert screen.feed.job_status == "cancelled"
        assert "cancelled" in screen.status_text
        assert not app.state.scan_running
    assert next(j for j in host.jobs() if j.id == job_id).status == "cancelled"


async def test_22000_file_scan_log_is_drawn_in_batches(tmp_path):
    """A finished scan job's log of 22,000 files (the user's dataset size) replays into the screen.

    The log is written in the engine's own event format into a real job directory and read
    through LocalHost.attach, so the whole path (attach → queue → 0.25 s batches) is exercised.
    """
    from core import jobs
    from core.events import dumps, event
    from core.paths import jobs_dir
    from core.records import FileResult
    from core.summary import Summary

    n = 22_000
    verdicts = ("ok", "ok", "ok", "warning", "damaged", "corrupt")
    summary = Summary()
    job_id = jobs.new_job_id()
    d = jobs_dir() / job_id
    d.mkdir(parents=True)
    root = str(tmp_path)
    with open(d / "events.jsonl", "w") as fh:
        fh.write(dumps(event("start", root=root, level="standard", total=n, cached=0, to_check=n,
                             skipped=[], notes=[])) + "\n")
        for i in range(n):
            r = {"path": f"train/{'violent' if i % 2 else 'nonviolent'}/c{i:05d}.mp4", "split": "train",
                 "class": "violent" if i % 2 else "nonviolent", "verdict": verdicts[i % 6],
                 "reasons": [] if i % 6 < 3 else ["truncated"], "messages": [], "size": i}
            summary.add(FileResult.from_dict(r))
            fh.write(dumps(event("file", result=r, cached=False)) + "\n")
            if i % 500 == 0:
                fh.write(dumps(event("progress", done=i, total=n, rate=100.0, eta_s=1.0)) + "\n")
        fh.write(dumps(event("summary", summary=summary.to_dict(), seconds=1.0, checked=n, cached=0,
                             skipped=0)) + "\n")
        fh.write(dumps(event("job_end", rc=0, status="finished")) + "\n")
    (d / "meta.json").write_text(json.dumps({
        "id": job_id, "argv": ["scan", root, "--json"], "cwd": root, "status": "finished",
        "started": time.time(), "ended": time.time(), "rc": 0, "pid": None, "pgid": None}))

    from nexara_tui.messages import ScanProgress
    from tests.tui.conftest import Recorder

    app = NexaraApp(root=root, host=LocalHost())
    rec = Recorder()
    async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
        screen = scan_screen(app)
        await wait_for(pilot, lambda: screen.mode is None and screen.status_text
                       and "loading" not in screen.status_text, what="the initial results load")
        t0 = time.monotonic()
        screen.follow_job(job_id)
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       timeout=120, what="22,000 events")
        took = time.monotonic() - t0
        fl = screen.query_one(FileList)
        redraws = len(rec.of(ScanProgress))
        print(f"\n22,000-file scan log drawn in {took:.2f} s with {redraws} redraws")
        assert screen.feed.done == n
        problems = sum(1 for i in range(n) if verdicts[i % 6] != "ok")
        assert fl.model.total == len({r.path for r in fl.model.rows}) == problems
        assert app.state.last_summary == summary.to_dict()
        assert 0 < redraws < n / 100  # batched: never one redraw per file


async def test_remote_host_via_picker_accepts_key_and_scans(demo_dataset, cli_scan, sshd, tmp_path,
                                                            monkeypatch):
    """Against a real sshd: pick the alias, accept its unknown host key, scan over SSH."""
    from core.host.ssh import SSHHost
    from nexara_tui.screens.host_picker import HostPickerScreen
    from nexara_tui.screens.prompts import ConfirmScreen
    from tests.sshd import ALIAS

    known = tmp_path / "known_hosts"  # empty: the server's key is unknown here
    cfg = tmp_path / "ssh_config"
    cfg.write_text(sshd.ssh_config.read_text().replace(str(sshd.known_hosts), str(known)))
    remote_state = tmp_path / "remote-state"
    nexara = os.path.join(os.path.dirname(sys.executable), "nexara")
    conf = tmp_path / "config.toml"
    conf.write_text(f'[hosts.{ALIAS}]\nremote_nexara = "{nexara}"\n'
                    f'env = {{ NEXARA_STATE_DIR = "{remote_state}" }}\n')
    monkeypatch.setenv("NEXARA_SSH_CONFIG", str(cfg))
    monkeypatch.setenv("NEXARA_CONFIG", str(conf))

    app = NexaraApp(root=str(demo_dataset.root), host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = scan_screen(app)
        await wait_for(pilot, lambda: screen.mode is None and "loading" not in screen.status_text,
                       what="the local results load")
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HostPickerScreen), what="the picker")
        assert ALIAS in app.screen.hosts
        app.screen.query_one("OptionList").highlighted = app.screen.hosts.index(ALIAS)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30,
                       what="the host key question")
        question = str(app.screen.query_one("#question").render())
        assert "SHA256:" in question and not known.exists()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.host, SSHHost), timeout=30, what="connected")
        assert known.read_text().strip()  # accepted → saved
        await wait_for(pilot, lambda: f"{ALIAS} ● connected" in str(
            app.screen.query_one(NexaraHeader).render()), what="header shows the remote host")
        # the same screen, unchanged, now drives the remote host
        await wait_for(pilot, lambda: screen.mode is None and "loading" not in screen.status_text,
                       timeout=60, what="the remote results load")
        assert "no stored results" in screen.status_text
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.feed.finished is not None and screen.mode is None,
                       timeout=240, what="the remote scan")
        assert app.state.last_summary == cli_scan["summary"]
        assert list(remote_state.glob("jobs/*/events.jsonl"))  # a detached job on the remote
