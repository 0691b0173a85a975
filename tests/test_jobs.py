"""Detached jobs on this machine: real detached processes, real logs, no mocks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import jobs
from core.errors import NexaraError

HEARTBEAT = ["job", "heartbeat", "--interval", "0.05"]


def _wait(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_job_runs_detached_and_ends_with_job_end():
    t0 = time.monotonic()
    job_id = jobs.start_job([*HEARTBEAT, "--count", "4"])
    assert time.monotonic() - t0 < 3, "start_job must return at once"
    events = [ev for _, ev in jobs.attach(job_id)]
    assert [ev["done"] for ev in events if ev["type"] == "progress"] == [1, 2, 3, 4]
    assert events[-1]["type"] == "job_end" and events[-1]["rc"] == 0
    assert events[-1]["status"] == "finished"
    meta = json.loads((jobs.job_dir(job_id) / "meta.json").read_text())
    assert meta["argv"][-1] == "--json" and meta["status"] == "finished" and meta["rc"] == 0
    # Its own session: not in our process group, so our Ctrl-C / hangup cannot reach it.
    assert meta["pgid"] != os.getpgrp()
    info = jobs.list_jobs()[0]
    assert info.id == job_id and info.status == "finished" and info.log_size > 0


def test_resume_from_offset_yields_each_event_exactly_once():
    job_id = jobs.start_job([*HEARTBEAT, "--count", "12"])
    seen: list[dict] = []
    offset = 0
    # Read a few events at a time, dropping the reader each time, as a flaky link would.
    while not seen or seen[-1]["type"] != "job_end":
        it = jobs.attach(job_id, offset=offset)
        for _ in range(3):
            try:
                offset, ev = next(it)
            except StopIteration:
                break
            seen.append(ev)
        it.close()
    done = [ev["done"] for ev in seen if ev["type"] == "progress"]
    assert done == list(range(1, 13))
    assert [ev["type"] for ev in seen].count("job_end") == 1
    assert offset == (jobs.job_dir(job_id) / "events.jsonl").stat().st_size


def test_torn_last_line_is_held_back_until_complete():
    job_id = jobs.start_job([*HEARTBEAT, "--count", "1"])
    list(jobs.attach(job_id))
    log = jobs.job_dir(job_id) / "events.jsonl"
    size = log.stat().st_size
    with open(log, "ab") as fh:
        fh.write(b'{"v":1,"type":"log","message":"half')
    assert list(jobs.attach(job_id, offset=size, follow=False)) == []
    with open(log, "ab") as fh:
        fh.write(b' done"}\n')
    [(off, ev)] = list(jobs.attach(job_id, offset=size, follow=False))
    assert ev["message"] == "half done" and off == log.stat().st_size


def test_cancel_stops_the_process_group():
    job_id = jobs.start_job([*HEARTBEAT, "--count", "400"])
    _wait(lambda: (jobs.job_dir(job_id) / "events.jsonl").stat().st_size > 0)
    child = json.loads((jobs.job_dir(job_id) / "meta.json").read_text()).get("child_pid")
    info = jobs.cancel_job(job_id)
    assert info.status == "cancelled"
    events = [ev for _, ev in jobs.attach(job_id)]
    assert events[-1]["type"] == "job_end" and events[-1]["status"] == "cancelled"
    assert len([e for e in events if e["type"] == "progress"]) < 400
    if child:
        _wait(lambda: not jobs._pid_alive(child) and (
            not os.path.exists(f"/proc/{child}") or
            Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"), 10)


def test_killed_wrapper_is_reported_lost_to_a_follower():
    job_id = jobs.start_job([*HEARTBEAT, "--count", "400"])
    _wait(lambda: (jobs.job_dir(job_id) / "events.jsonl").stat().st_size > 0)
    meta = json.loads((jobs.job_dir(job_id) / "meta.json").read_text())
    os.killpg(meta["pgid"], signal.SIGKILL)  # wrapper and command die without a word
    events = [ev for _, ev in jobs.attach(job_id, poll=0.05)]
    assert events[-1]["type"] == "job_end" and events[-1]["status"] == "lost"
    # Every later reader sees the same end, once.
    again = [ev for _, ev in jobs.attach(job_id)]
    assert [e["type"] for e in again].count("job_end") == 1
    assert jobs.list_jobs()[0].status == "lost"


def test_unknown_job_is_a_clear_error():
    with pytest.raises(NexaraError, match="no such job"):
        jobs.job_dir("20990101-000000-dead")
    with pytest.raises(NexaraError, match="not a job id"):
        jobs.job_dir("../etc")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_start_list_attach_raw_json_bytes():
    out = _cli("job", "start", "--json", "--", *HEARTBEAT, "--count", "3")
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["id"]
    att = subprocess.run([sys.executable, "-m", "core.cli", "job", "attach", job_id, "--json"],
                         capture_output=True, timeout=60)
    log = (jobs.job_dir(job_id) / "events.jsonl").read_bytes()
    assert att.stdout == log  # byte for byte, so a remote client can count offsets
    first_line = log.split(b"\n")[0]
    tail = subprocess.run([sys.executable, "-m", "core.cli", "job", "attach", job_id,
                           "--from", str(len(first_line) + 1), "--json", "--no-follow"],
                          capture_output=True, timeout=60)
    assert tail.stdout == log[len(first_line) + 1:]
    human = _cli("job", "attach", job_id)
    assert "progress 3/3" in human.stdout and "job ended: finished" in human.stdout
    listed = [json.loads(ln) for ln in _cli("job", "list", "--json").stdout.splitlines()]
    assert listed[0]["id"] == job_id and listed[0]["status"] == "finished"
    bad = _cli("job", "start", "--")
    assert bad.returncode == 2 and "no command given" in bad.stderr
