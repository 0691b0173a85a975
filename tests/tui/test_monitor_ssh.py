"""Pilot tests: the Monitor screen over SSH, against the real loopback sshd (tests/sshd.py).

The "remote" is this machine reached through sshd, so a test can grow a log on
the host while the screen, connected through `SSHHost`, reads it over SFTP —
as a file, and as the event log of a detached job running on the host.
"""

from __future__ import annotations

import pytest

from core.host.ssh import SSHHost
from nexara_tui.screens.monitor import MonitorScreen
from tests.sshd import ALIAS
from tests.test_ssh import NEXARA
from tests.tui.conftest import Recorder
from tests.tui.test_monitor_screen import MonitorApp, notifications, run_growing_log, wait_for


@pytest.fixture
def ssh_host(sshd, tmp_path):
    """An SSHHost to the loopback sshd whose remote nexara keeps its jobs in its own state dir."""
    remote_state = tmp_path / "remote-state"
    remote_state.mkdir()
    h = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(remote_state)},
                ssh_config=sshd.ssh_config)
    h.connect()
    h.remote_state = remote_state  # type: ignore[attr-defined]
    yield h
    h.close()


async def test_growing_log_over_ssh(ssh_host, tmp_path):
    """A log file on the host, read over SFTP at an offset while it grows."""
    path = tmp_path / "epochs.jsonl"
    screen = await run_growing_log(ssh_host, str(path), path)
    assert screen.source_kind == "file"


async def test_growing_job_over_ssh(ssh_host, tmp_path):
    """A job on the host whose event log grows: `nexara monitor FILE` turns each new epoch
    of FILE into an epoch event in the job's log, which the screen tails over SFTP."""
    log = tmp_path / "train.jsonl"
    log.write_text("")
    job_id = ssh_host.start_job(["monitor", str(log)])
    try:
        job = next(j for j in ssh_host.jobs() if j.id == job_id)
        # `job list` says where the job lives, so its log and stderr can be read directly.
        assert job.extra["dir"] == str(ssh_host.remote_state / "jobs" / job_id)
        screen = await run_growing_log(ssh_host, job_id, log)
        assert screen.source_label == f"job {job_id}"
        assert not screen.state.run.ended  # the job is still running, and followed
    finally:
        ssh_host.cancel_job(job_id)
    assert next(j for j in ssh_host.jobs() if j.id == job_id).status == "cancelled"


async def test_dead_job_over_ssh_shows_its_stderr(ssh_host, tmp_path):
    """A job that fails on the host: the alarm carries the last lines of its stderr.log (SFTP).

    The command dies in argument parsing (as with a client newer than the host's
    nexara), so its only account of what went wrong is on stderr, not in its events.
    """
    job_id = ssh_host.start_job(["scan", str(tmp_path), "--no-such-option"])
    for _off, ev in ssh_host.attach(job_id, 0, follow=True):  # its log, to the job_end line
        if ev["type"] == "job_end":
            break
    app = MonitorApp(ssh_host, job_id)
    rec = Recorder()
    async with app.run_test(size=(140, 45), message_hook=rec) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        await wait_for(pilot, lambda: any(a.code == "job_died" for a in screen.state.alarms))
        alarm = next(a for a in screen.state.alarms if a.code == "job_died")
        assert "exit code 2" in alarm.message
        assert "unrecognized arguments: --no-such-option" in alarm.message, alarm.message
        assert screen.state.run.status == "failed"
        assert any("job died" in m for m in notifications(rec))
