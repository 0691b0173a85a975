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


def _wait_for_line(proc: subprocess.Popen, timeout: float = 30.0) -> bytes:
    import select

    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output in time"
    return proc.stdout.readline()


def test_job_list_survives_malformed_metadata(tmp_path):
    """A meta.json of the wrong shape is named in one line; the other jobs are listed; no traceback."""
    good = jobs.start_job([*HEARTBEAT, "--count", "1"])
    list(jobs.attach(good))
    bad = {"20000101-000000-aaaa": "[1,2]",
           "20000101-000000-bbbb": json.dumps({"id": "20000101-000000-bbbb", "argv": ["scan"], "status": "running",
                                               "started": 1.0, "pid": "abc"}),
           "20000101-000000-cccc": "{not json"}
    for name, text in bad.items():
        d = jobs.jobs_dir() / name
        d.mkdir()
        (d / "meta.json").write_text(text)
        (d / "events.jsonl").write_text("")
    for argv in (("job", "list"), ("job", "list", "--json")):
        r = _cli(*argv)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 3, lines
        for name in bad:
            assert sum(name in ln and "meta.json" in ln for ln in lines) == 1, (name, lines)
        assert any("'pid' must be int" in ln for ln in lines) and any("found list" in ln for ln in lines)
        assert good in r.stdout
    # Nor does cancelling or attaching to one send a signal to a pid that is not a number.
    r = _cli("job", "cancel", "20000101-000000-bbbb")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "'pid' must be int" in r.stderr


def test_attach_offsets_are_checked_with_a_reason():
    job_id = jobs.start_job([*HEARTBEAT, "--count", "2"])
    list(jobs.attach(job_id))
    size = (jobs.job_dir(job_id) / "events.jsonl").stat().st_size
    r = _cli("job", "attach", job_id, "--from", "-5")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    [line] = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "--from" in line and "-5" in line and ">= 0" in line, line
    r = _cli("job", "attach", job_id, "--from", str(size + 10))
    assert r.returncode == 2 and "past the end of its log" in r.stderr and str(size) in r.stderr
    r = _cli("job", "attach", job_id, "--from", "3")
    assert r.returncode == 2 and "inside a line" in r.stderr
    assert _cli("job", "attach", job_id, "--from", str(size), "--no-follow").returncode == 0


def test_a_client_chosen_id_starts_the_job_once():
    """`job start --id ID` sent again (a client whose link dropped) attaches to the one job."""
    job_id = jobs.new_job_id()
    argv = ["job", "start", "--id", job_id, "--json", "--", *HEARTBEAT, "--count", "3"]
    first = _cli(*argv)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout.splitlines()[0])["id"] == job_id
    again = subprocess.run([sys.executable, "-m", "core.cli", "job", "start", "--id", job_id, "--json",
                            "--attach", "--from", "0", "--", *HEARTBEAT, "--count", "3"],
                           capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    head, *log_lines = again.stdout.split(b"\n")
    assert json.loads(head)["id"] == job_id
    assert b"\n".join(log_lines) == (jobs.job_dir(job_id) / "events.jsonl").read_bytes()
    events = [json.loads(ln) for ln in log_lines if ln]
    assert [e["done"] for e in events if e["type"] == "progress"] == [1, 2, 3]  # one run, not two
    assert [j.id for j in jobs.list_jobs()].count(job_id) == 1
    other = _cli("job", "start", "--id", job_id, "--", *HEARTBEAT, "--count", "9")
    assert other.returncode == 2 and "another command" in other.stderr
    assert _cli("job", "start", "--id", "../x", "--", *HEARTBEAT).returncode == 2


def test_concurrent_starts_with_one_id_run_one_job():
    """Seeded: several starts of one id at once (a retry racing the original) give exactly one job."""
    import random
    import threading

    for seed in range(3):
        rng = random.Random(seed)
        job_id = jobs.new_job_id()
        argv = [*HEARTBEAT, "--count", "2"]
        got, errors = [], []

        def start(delay: float, jid: str = job_id, a: list = argv, got: list = got,
                  errors: list = errors) -> None:
            time.sleep(delay)
            try:
                got.append(jobs.start_job(a, job_id=jid, exist_ok=True))
            except Exception as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(rng.uniform(0, 0.01),)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and got == [job_id] * 6, f"seed {seed}: {errors}"
        events = [ev for _, ev in jobs.attach(job_id)]
        assert [e["done"] for e in events if e["type"] == "progress"] == [1, 2], f"seed {seed}"
        assert [e["type"] for e in events].count("job_end") == 1, f"seed {seed}"


def test_follow_stops_at_once_while_the_job_is_quiet():
    """Host.follow's stop flag ends a follower of a job that writes nothing for a minute."""
    import threading

    from core.host.local import LocalHost

    host = LocalHost()
    job_id = host.start_job(["job", "heartbeat", "--count", "2", "--interval", "60"])
    stop = threading.Event()
    it = host.follow(job_id, 0, stop=stop)
    first = next(it)
    assert first.event() is not None and first.event()["type"] == "progress"
    threading.Timer(0.2, stop.set).start()
    t0 = time.monotonic()
    assert list(it) == []
    assert time.monotonic() - t0 < 2.0
    host.cancel_job(job_id)


def test_a_remote_style_attach_exits_when_its_reader_goes_away():
    """`job attach --json` (what a remote client runs) exits once its stdout's reader has closed it,
    even while the job is quiet, instead of lingering until the job next writes."""
    job_id = jobs.start_job([*HEARTBEAT[:2], "--count", "2", "--interval", "60"])
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "job", "attach", job_id, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert b'"type":"progress"' in _wait_for_line(proc)
        proc.stdout.close()  # the client is gone (its SSH channel closed)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        jobs.cancel_job(job_id)
    assert proc.returncode is not None
