"""LocalHost and open_host: the engine as a subprocess, files on the local disk; the config file."""

from __future__ import annotations

import time

import pytest

from core.config import load_config
from core.errors import NexaraError
from core.host import open_host
from core.host.local import LocalHost


def test_stream_yields_events_as_they_arrive():
    host = LocalHost()
    t0 = time.monotonic()
    arrivals = []
    for ev in host.stream(["job", "heartbeat", "--count", "3", "--interval", "0.4", "--json"]):
        arrivals.append((time.monotonic() - t0, ev))
    assert [ev["type"] for _, ev in arrivals] == ["progress"] * 3 + ["summary"]
    # The first event came long before the last: a stream, not a buffer.
    assert arrivals[-1][0] - arrivals[0][0] > 0.6


def test_stream_failure_is_a_one_line_error():
    with pytest.raises(NexaraError, match="exited with status 2"):
        list(LocalHost().stream(["job", "heartbeat", "--no-such-option"]))
    # An engine error arrives as an `error` event (the dispatcher raises it).
    evs = list(LocalHost().stream(["job", "heartbeat", "--count", "-1", "--json"]))
    assert evs[-1]["type"] == "error" and "must not be negative" in evs[-1]["message"]


def test_run_and_jobs_through_the_host():
    host = open_host("local")
    assert isinstance(host, LocalHost)
    res = host.run(["--version"])
    assert res.rc == 0 and res.stdout.startswith("nexara ")
    job_id = host.start_job(["job", "heartbeat", "--count", "2", "--interval", "0.05"])
    events = [ev for _, ev in host.attach(job_id)]
    assert events[-1]["type"] == "job_end" and events[-1]["status"] == "finished"
    assert host.jobs()[0].id == job_id


def test_file_methods(tmp_path):
    host = LocalHost()
    p = tmp_path / "a b'c.txt"
    assert host.stat_file(str(p)) is None
    host.write_file(str(p), b"hello world")
    assert host.read_file(str(p)) == b"hello world"
    assert host.read_file(str(p), 6, 3) == b"wor"
    assert host.stat_file(str(p))[0] == 11
    assert [f.name for f in tmp_path.iterdir()] == ["a b'c.txt"]  # no temp file left
    with pytest.raises(NexaraError, match="cannot read"):
        host.read_file(str(tmp_path / "missing"))


def test_config_hosts_section(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("NEXARA_CONFIG", str(cfg))
    assert load_config().hosts == {}  # no file: defaults
    cfg.write_text('[hosts.gpubox]\nremote_nexara = "/opt/nx/bin/nexara"\n'
                   'env = { NEXARA_STATE_DIR = "/workspace/.nx" }\n[tui]\ntheme = "dark"\n')
    c = load_config()
    assert c.hosts["gpubox"].remote_nexara == "/opt/nx/bin/nexara"
    assert c.hosts["gpubox"].env == {"NEXARA_STATE_DIR": "/workspace/.nx"}
    assert c.raw["tui"] == {"theme": "dark"}  # other sections are kept for their owners
    cfg.write_text("[hosts.gpubox]\nremote_nexra = 1\n")
    with pytest.raises(NexaraError, match=r"config.toml: \[hosts.gpubox\]: unknown key"):
        load_config()
    cfg.write_text("[hosts\n")
    with pytest.raises(NexaraError, match="invalid TOML"):
        load_config()
