"""SSHHost against a real OpenSSH server on 127.0.0.1 (tests/sshd.py): no mocks, no test server.

The "remote" is this same machine, reached through sshd, so the remote side
runs this checkout's nexara (`.venv/bin/nexara`) with its own state directory.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import NexaraError
from core.host.ssh import HostKeyChanged, SSHHost, UnknownHostKey, resolve_target
from tests.helpers_crash import run_in_pty
from tests.sshd import ALIAS, keygen

ROOT = Path(__file__).resolve().parents[1]
NEXARA = str(ROOT / ".venv" / "bin" / "nexara")
WEIRD = "a b'c$(touch PWNED)\nz;`touch PWNED2`.mp4"


@pytest.fixture
def remote_state(tmp_path):
    d = tmp_path / "remote-state"
    d.mkdir()
    return d


@pytest.fixture
def host(sshd, remote_state):
    states: list[str] = []
    h = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(remote_state)},
                ssh_config=sshd.ssh_config, on_state=lambda s, m: states.append(s))
    h.states = states  # type: ignore[attr-defined]
    yield h
    h.close()


@pytest.fixture
def cli_env(sshd, remote_state, tmp_path):
    """Environment for a `nexara … --host nexara-test` subprocess: ssh config + Nexara config."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[hosts.{ALIAS}]\nremote_nexara = "{NEXARA}"\n'
                   f'env = {{ NEXARA_STATE_DIR = "{remote_state}" }}\n')
    return {**os.environ, "NEXARA_SSH_CONFIG": str(sshd.ssh_config), "NEXARA_CONFIG": str(cfg)}


def _files(report: Path) -> dict[str, dict]:
    skip = {"seconds", "decoded_s"}  # timings differ run to run
    return {f["path"]: {k: v for k, v in f.items() if k not in skip}
            for f in json.loads(report.read_text())["files"]}


def test_remote_scan_gives_the_same_report_as_local(demo_dataset, cli_env, tmp_path, remote_state):
    remote_rep, local_rep = tmp_path / "remote.json", tmp_path / "local.json"
    r = subprocess.run([NEXARA, "scan", str(demo_dataset.root), "--host", ALIAS,
                        "--report", str(remote_rep)], env=cli_env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode in (0, 1), r.stderr
    assert list(remote_state.glob("jobs/*/events.jsonl")), "the remote scan ran as a detached job"
    loc = subprocess.run([NEXARA, "scan", str(demo_dataset.root), "--report", str(local_rep)],
                         capture_output=True, text=True, timeout=180)
    assert loc.returncode == r.returncode, loc.stderr
    assert _files(remote_rep) == _files(local_rep)
    assert len(_files(local_rep)) == len(demo_dataset.ground_truth.files)  # every demo file (39 since issue 10 added shapes)
    assert json.loads(remote_rep.read_text())["summary"] == json.loads(local_rep.read_text())["summary"]


def test_job_survives_a_killed_connection_and_reattaches_exactly_once(host, sshd, demo_dataset):
    job_id = host.start_job(["scan", str(demo_dataset.root), "--workers", "1", "--level", "full"])
    seen, offsets, dropped = [], [], 0
    for off, ev in host.attach(job_id):
        seen.append(ev)
        offsets.append(off)
        if ev["type"] == "file" and not dropped:
            dropped = sshd.kill_sessions()  # the sshd serving us dies, like a lost link
    assert dropped >= 1
    assert "reconnecting" in host.states and host.states[-1] == "connected"
    paths = [ev["result"]["path"] if "result" in ev else ev.get("path") for ev in seen
             if ev["type"] == "file"]
    assert len(paths) == len(set(paths)) == len(demo_dataset.ground_truth.files)
    assert [ev["type"] for ev in seen].count("job_end") == 1 and seen[-1]["status"] == "finished"
    assert offsets == sorted(set(offsets))  # strictly increasing: nothing repeated
    # What we received is exactly the job's log, byte for byte.
    log = host.read_file(f"{host.env['NEXARA_STATE_DIR']}/jobs/{job_id}/events.jsonl")
    assert offsets[-1] == len(log)
    assert [json.loads(ln) for ln in log.splitlines() if ln.startswith(b"{")] == seen


def test_reattach_after_transport_close(host):
    job_id = host.start_job(["job", "heartbeat", "--count", "25", "--interval", "0.04"])
    seen = []
    for _, ev in host.attach(job_id):
        seen.append(ev)
        if len(seen) == 3:
            host.connection.transport().close()  # drop the transport under the running attach
    assert [ev["done"] for ev in seen if ev["type"] == "progress"] == list(range(1, 26))
    assert seen[-1]["type"] == "job_end"
    assert [j.id for j in host.jobs()] == [job_id]


def test_unknown_host_key_is_refused_until_accepted(sshd, tmp_path):
    kh = tmp_path / "known_hosts"
    h = SSHHost(ALIAS, remote_nexara=NEXARA, ssh_config=sshd.ssh_config, known_hosts=kh)
    with pytest.raises(UnknownHostKey) as info:
        h.connect()
    expected = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f",
                               str(sshd.host_key.with_suffix(".pub"))],
                              capture_output=True, text=True).stdout.split()[1]
    assert info.value.fingerprint == expected and info.value.host_id == sshd.host_id
    assert not kh.exists()  # nothing saved silently
    with pytest.raises(UnknownHostKey):
        h.connect()  # still refused
    with pytest.raises(NexaraError, match="not SHA256:wrong"):
        h.accept_host_key("SHA256:wrong")
    h.accept_host_key(expected)
    assert kh.read_text() == sshd.known_hosts_line()
    h.connect()
    assert h.state == "connected" and h.run(["--version"]).stdout.startswith("nexara")
    h.close()


def test_changed_host_key_is_refused(sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    kind, b64 = other.with_suffix(".pub").read_text().split()[:2]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{sshd.host_id} {kind} {b64}\n")
    h = SSHHost(ALIAS, ssh_config=sshd.ssh_config, known_hosts=kh)
    with pytest.raises(HostKeyChanged, match="CHANGED") as info:
        h.connect()
    assert info.value.expected_fingerprint != info.value.fingerprint
    assert kh.read_text() == f"{sshd.host_id} {kind} {b64}\n"  # untouched
    assert h.state == "disconnected"


def test_shell_metacharacters_pass_intact_and_never_run(host, demo_dataset, tmp_path):
    gt = demo_dataset.ground_truth.files
    bad = next(rel for rel, truth in gt.items() if truth.expected_verdicts == ["corrupt"])
    root = tmp_path / "ds $(touch PWNED0) 'q'"
    (root / "train" / "violent").mkdir(parents=True)
    shutil.copy(demo_dataset.root / bad, root / "train" / "violent" / WEIRD)
    events = list(host.stream(["scan", str(root), "--workers", "1"]))
    files = [ev for ev in events if ev["type"] == "file"]
    assert [_path(ev) for ev in files] == [f"train/violent/{WEIRD}"]
    assert events[0]["type"] == "job"
    moved = list(host.stream(["quarantine", str(root), "--yes"]))
    assert any(ev["type"] == "moved" for ev in moved), moved
    assert (root / "corrupted_videos" / "train" / "violent" / WEIRD).is_file()
    assert not (root / "train" / "violent" / WEIRD).exists()
    # Back, then out again the way the TUI moves approved files: a NUL-separated
    # list uploaded over SFTP (a newline in the name cannot ride a line-per-path list).
    list(host.stream(["restore", str(root), "--all"]))
    assert (root / "train" / "violent" / WEIRD).is_file()
    from core.host import temp_list_on

    with temp_list_on(host, [f"train/violent/{WEIRD}"], "nexara-test") as lst:
        moved = list(host.stream(["quarantine", str(root), "--files-from", lst, "--yes"]))
    assert [ev["rel"] for ev in moved if ev["type"] == "moved"] == [f"train/violent/{WEIRD}"]
    assert (root / "corrupted_videos" / "train" / "violent" / WEIRD).is_file()
    assert not Path(lst).exists()
    for d in (Path.home(), tmp_path, root, Path.cwd(), Path("/")):
        assert not list(d.glob("PWNED*")), f"a name was executed in {d}"
    # Files over SFTP take the same names.
    host.write_file(str(tmp_path / WEIRD), b"x")
    assert host.stat_file(str(tmp_path / WEIRD))[0] == 1


def test_encrypted_key_asks_for_its_passphrase(sshd, tmp_path):
    key = keygen(tmp_path / "id_locked", passphrase="s3cret pass")
    with open(sshd.dir / "authorized_keys", "a") as fh:
        fh.write(key.with_suffix(".pub").read_text())
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host 127.0.0.1\n    IdentityFile {key}\n")
    asked: list[str] = []

    def passphrase(path: str) -> str:
        asked.append(path)
        return "s3cret pass"

    h = SSHHost(f"{sshd.user}@127.0.0.1:{sshd.port}", remote_nexara=NEXARA, ssh_config=cfg,
                known_hosts=sshd.known_hosts, passphrase_callback=passphrase)
    assert h.run(["--version"]).rc == 0
    assert asked == [str(key)]
    h.close()


def test_proxyjump_alias(sshd, tmp_path):
    cfg = tmp_path / "ssh_config"
    cfg.write_text(sshd.ssh_config.read_text() +
                   f"Host via-jump\n    HostName 127.0.0.1\n    Port {sshd.port}\n"
                   f"    IdentityFile {sshd.client_key}\n    ProxyJump {ALIAS}\n"
                   f"    UserKnownHostsFile {sshd.known_hosts}\n")
    t = resolve_target("via-jump", cfg)
    assert (t.hostname, t.port, t.proxy_jump) == ("127.0.0.1", sshd.port, [ALIAS])
    h = SSHHost("via-jump", remote_nexara=NEXARA, ssh_config=cfg)
    assert h.run(["--version"]).rc == 0
    assert h.connection.jump is not None and h.connection.jump.state == "connected"
    h.close()


def test_remote_check_and_install_into_a_fresh_venv(sshd, cli_env, tmp_path):
    check = subprocess.run([NEXARA, "remote", "check", ALIAS, "--json"], env=cli_env,
                           capture_output=True, text=True, timeout=120)
    report = json.loads(check.stdout)
    assert check.returncode == 0, check.stderr
    assert report["installed"] and report["version_match"] and report["remote"]["pyav"]
    venv = tmp_path / "fresh venv"
    base_python = subprocess.run([sys.executable, "-c", "import sys; print(sys._base_executable)"],
                                 capture_output=True, text=True).stdout.strip()
    inst = subprocess.run([NEXARA, "remote", "install", ALIAS, "--venv", str(venv), "--python",
                           base_python, "--no-deps"], env=cli_env, capture_output=True, text=True,
                          timeout=300)
    assert inst.returncode == 0, inst.stderr
    assert "installed nexara 0.1.0" in inst.stdout
    # --no-deps keeps the test fast and offline; let the fresh venv see our dependencies
    # (not our source: .pth files inside that folder, like the editable hook, are not run).
    site = next(venv.glob("lib/python*/site-packages"))
    deps = next((ROOT / ".venv").glob("lib/python*/site-packages"))
    (site / "zz_test_deps.pth").write_text(f"{deps}\n")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import core; print(core.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(site)), where  # the installed wheel, not this checkout
    check2 = subprocess.run([NEXARA, "remote", "check", ALIAS, "--json", "--remote-nexara",
                             str(venv / "bin" / "nexara")], env=cli_env, capture_output=True,
                            text=True, timeout=120)
    r2 = json.loads(check2.stdout)
    assert r2["version_match"] and r2["remote"]["executable"].startswith(str(venv))


def _path(ev: dict) -> str:
    return ev["result"]["path"] if "result" in ev else ev["path"]


def _run_in_pty(argv: list[str], env: dict[str, str], answer: str, timeout: float = 120) -> tuple[int, str]:
    """Run argv with a terminal on stdin/stdout; type `answer` at the [y/N] prompt."""
    rc, out = run_in_pty(argv, env, answer, timeout)
    return rc, out.decode("utf-8", "replace")


def test_quarantine_over_host_asks_here_and_moves_there(host, cli_env, demo_dataset, tmp_path):
    """Without --yes at a terminal: the plan comes from the host, the question is asked
    locally, and only a yes moves the planned files there; the uploaded list is deleted."""
    root = tmp_path / "ds"
    shutil.copytree(demo_dataset.root, root)
    list(host.stream(["scan", str(root), "--workers", "1"]))
    corrupt = sorted(rel for rel, truth in demo_dataset.ground_truth.files.items()
                     if truth.expected_verdicts == ["corrupt"])
    assert corrupt
    before = set(Path("/tmp").glob("nexara-approved-*"))
    argv = [NEXARA, "quarantine", str(root), "--host", ALIAS]

    rc, out = _run_in_pty(argv, cli_env, "n")
    assert rc == 0, out
    assert "would move" in out and "nothing moved" in out, out
    assert all((root / rel).exists() for rel in corrupt)

    rc, out = _run_in_pty(argv, cli_env, "y")
    assert rc == 0, out
    assert "move batch" in out and "undo with: nexara restore" in out, out
    assert out.count("would move") == 1, out  # the plan is shown once, before the question
    for rel in corrupt:
        assert not (root / rel).exists() and (root / "corrupted_videos" / rel).exists(), rel
    assert set(Path("/tmp").glob("nexara-approved-*")) <= before, "the uploaded list was left behind"


def test_unconfigured_nexara_is_found_in_the_same_remote_command(sshd, tmp_path):
    """No remote_nexara: PATH, then the `remote install` venv, looked up inside each command.

    On the test machine neither holds a nexara (the venv under test is not on the
    remote PATH), so the command fails with the one line that says what to do.
    """
    from core.host.ssh import DEFAULT_VENV

    default = Path.home() / DEFAULT_VENV / "bin" / "nexara"
    assert not default.exists(), f"{default} exists: this test needs a host without an installed nexara"
    h = SSHHost(ALIAS, ssh_config=sshd.ssh_config)
    try:
        with pytest.raises(NexaraError, match=r"not installed on nexara-test .*remote install"):
            list(h.stream(["results", str(tmp_path), "--json"]))
        # With a nexara on the host's PATH the same host object runs it, no probe needed.
        bindir = tmp_path / "bin"
        bindir.mkdir()
        (bindir / "nexara").symlink_to(NEXARA)
        h.env = {}
        cmd = h.command_line(["--version"])
        rc, out, err = h.exec_capture(f"PATH={shlex.quote(str(bindir))}:$PATH; {cmd}", timeout=60)
        assert rc == 0, err
        assert out.decode().startswith("nexara ")
    finally:
        h.close()


def test_cert_authority_and_revoked_lines_do_not_break_known_hosts(sshd, tmp_path):
    """OpenSSH accepts known_hosts markers; one such line used to fail every connection
    with "Incorrect padding". @cert-authority is skipped, @revoked is honoured."""
    from core.host.ssh import HostKeyRevoked

    ca = keygen(tmp_path / "ca_key")
    other = keygen(tmp_path / "old_host_key")
    kh = tmp_path / "known_hosts"
    kh.write_text(
        f"@cert-authority *.example.com {ca.with_suffix('.pub').read_text().split(' ', 2)[0]} "
        f"{ca.with_suffix('.pub').read_text().split()[1]}\n"
        f"@revoked * {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n"
        "# a comment, a blank line, and a line whose key is not base64\n\n"
        "badhost ssh-ed25519 !!!not-base64!!!\n"
        + sshd.known_hosts_line())
    h = SSHHost(ALIAS, remote_nexara=NEXARA, ssh_config=sshd.ssh_config, known_hosts=kh)
    try:
        assert h.run(["--version"]).stdout.startswith("nexara")
    finally:
        h.close()
    # The server's own key marked @revoked: refused, even though it is also listed as trusted.
    kind, b64 = sshd.host_key.with_suffix(".pub").read_text().split()[:2]
    kh.write_text(sshd.known_hosts_line() + f"@revoked {sshd.host_id} {kind} {b64}\n")
    h = SSHHost(ALIAS, remote_nexara=NEXARA, ssh_config=sshd.ssh_config, known_hosts=kh)
    with pytest.raises(HostKeyRevoked, match="@revoked"):
        h.connect()
    assert h.state == "disconnected"
    h.close()


def _no_sessions(sshd) -> int:
    """Wait until the connections of earlier tests have gone from the server (they close async)."""
    import time

    deadline = time.monotonic() + 20
    while sshd.session_pids():
        assert time.monotonic() < deadline, "sessions of earlier tests did not end"
        time.sleep(0.05)
    return 0


def _hops_config(sshd, tmp_path, extra: str) -> Path:
    cfg = tmp_path / "ssh_config"
    hop = (f"    HostName 127.0.0.1\n    Port {sshd.port}\n    IdentityFile {sshd.client_key}\n"
           f"    UserKnownHostsFile {sshd.known_hosts}\n")
    cfg.write_text(sshd.ssh_config.read_text() + f"Host hop-a\n{hop}Host hop-b\n{hop}"
                   f"Host chained\n{hop}{extra}")
    return cfg


def test_proxyjump_chain_goes_through_every_hop(sshd, tmp_path):
    """`ProxyJump a,b`: a, then b through a, then the target through b — three SSH connections
    at the server (the loopback sshd serves as every hop), not two with b silently skipped."""
    cfg = _hops_config(sshd, tmp_path, "    ProxyJump hop-a,hop-b\n")
    before = _no_sessions(sshd)
    h = SSHHost("chained", remote_nexara=NEXARA, ssh_config=cfg)
    try:
        assert h.run(["--version"]).rc == 0
        assert len(sshd.session_pids()) - before == 3
        hop_b = h.connection.jump
        assert hop_b is not None and hop_b.name == "hop-b" and hop_b.jumps == ["hop-a"]
        assert hop_b.jump is not None and hop_b.jump.name == "hop-a"
    finally:
        h.close()


def test_proxycommand_carries_the_connection(sshd, tmp_path):
    """ProxyCommand is honoured (it used to be ignored, connecting directly): here OpenSSH's
    own `ssh -W` through the loopback sshd, so the server sees two connections."""
    cfg = _hops_config(sshd, tmp_path, "")
    cfg.write_text(cfg.read_text() + f"    ProxyCommand ssh -F {cfg} -o BatchMode=yes -W %h:%p hop-a\n")
    before = _no_sessions(sshd)
    h = SSHHost("chained", remote_nexara=NEXARA, ssh_config=cfg)
    try:
        assert h.run(["--version"]).rc == 0
        assert len(sshd.session_pids()) - before == 2
    finally:
        h.close()


def test_a_cut_while_starting_remote_work_reattaches_to_the_one_job(host, sshd, demo_dataset, remote_state):
    """The link dies the moment the job's directory appears on the host, before the client has
    heard back: it reconnects, sends the same start (its own job id) and is attached to the one
    job — every file once, no "connection lost while starting" — instead of leaving it orphaned."""
    import threading
    import time

    jobs_dir = remote_state / "jobs"
    cut = threading.Event()

    def cut_when_the_job_appears() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if jobs_dir.is_dir() and any(jobs_dir.iterdir()):
                sshd.kill_sessions()
                cut.set()
                return
            time.sleep(0.002)

    t = threading.Thread(target=cut_when_the_job_appears, daemon=True)
    t.start()
    events = list(host.stream(["scan", str(demo_dataset.root), "--workers", "1"]))
    t.join(5)
    assert cut.is_set()
    assert "reconnecting" in host.states
    job_dirs = list(jobs_dir.iterdir())
    assert len(job_dirs) == 1  # one job, started once
    assert events[0]["type"] == "job" and events[0]["id"] == job_dirs[0].name
    assert [e["type"] for e in events].count("job") == 1
    paths = [_path(e) for e in events if e["type"] == "file"]
    assert len(paths) == len(set(paths)) == len(demo_dataset.ground_truth.files)
    assert events[-1]["type"] == "summary" and not any(e["type"] == "error" for e in events)


def test_abbreviated_host_option_is_refused_not_forwarded(tmp_path, capsys):
    """`--hos gpu` was taken for --host by argparse and forwarded as is (the remote then tried
    to SSH from the box to itself). Abbreviations are refused, in one line."""
    from core.cli import main, remote_argv

    root = tmp_path / "ds"
    root.mkdir()
    with pytest.raises(SystemExit) as info:
        main(["scan", str(root), "--hos", "gpu", "--rep", str(tmp_path / "out.json")])
    assert info.value.code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "unrecognized arguments: --hos gpu --rep" in err[0], err
    assert not (tmp_path / "out.json").exists()
    # What is accepted is spelled out, and stripped whole.
    assert remote_argv(["scan", "R", "--host=gpu", "--report", "x.json", "--workers", "2"],
                       ("--report",)) == ["scan", "R", "--workers", "2", "--json"]


def test_stopping_a_follow_over_ssh_leaves_no_remote_attach_behind(host):
    """Host.follow over SSH stops within a second when asked, though the job writes nothing for a
    minute, and the `nexara job attach` it ran on the host exits too (its reader is gone)."""
    import threading
    import time

    job_id = host.start_job(["job", "heartbeat", "--count", "2", "--interval", "60"])

    def remote_attaches() -> list[str]:
        out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
        return [ln for ln in out.splitlines() if "job attach" in ln and job_id in ln]

    stop = threading.Event()
    lines = host.follow(job_id, 0, stop=stop)
    try:
        first = next(lines)
        assert first.event()["type"] == "progress"
        assert remote_attaches()
        threading.Timer(0.3, stop.set).start()
        t0 = time.monotonic()
        assert list(lines) == []
        assert time.monotonic() - t0 < 3
        deadline = time.monotonic() + 10
        while remote_attaches():
            assert time.monotonic() < deadline, remote_attaches()
            time.sleep(0.05)
    finally:
        host.cancel_job(job_id)
