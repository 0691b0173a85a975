"""`repair --host`: the same command on a host over real SSH (tests/sshd.py), plan there, confirm
here, apply there with exactly the files shown."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from core.cli import build_parser, remote_argv
from core.commands.repair import remote_events
from core.host.ssh import SSHHost
from tests.helpers_repair import add_references, assert_decodes_end_to_end, damaged, tree
from tests.sshd import ALIAS
from tests.test_ssh import NEXARA


@pytest.fixture
def remote_state(tmp_path):
    d = tmp_path / "remote-state"
    d.mkdir()
    return d


@pytest.fixture
def host(sshd, remote_state):
    h = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(remote_state)},
                ssh_config=sshd.ssh_config)
    yield h
    h.close()


def _dataset(root: Path, host: SSHHost) -> list[str]:
    add_references(root)
    rels = ["train/violent/a.mp4", "train/violent/b.mp4"]
    damaged(root, rels[0], "audio_damage")
    damaged(root, rels[1], "truncated_moov_end", seconds=3)
    damaged(root, "train/violent/c.mp4", "zero_byte")
    list(host.stream(["scan", str(root)]))  # the host's own scan store
    return rels


def test_repair_over_ssh_with_yes_and_dry_run(tmp_path, sshd, remote_state, host):
    root = tmp_path / "ds"
    rels = _dataset(root, host)
    before = tree(root)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[hosts.{ALIAS}]\nremote_nexara = "{NEXARA}"\n'
                   f'env = {{ NEXARA_STATE_DIR = "{remote_state}" }}\n')
    env = {**os.environ, "NEXARA_SSH_CONFIG": str(sshd.ssh_config), "NEXARA_CONFIG": str(cfg)}
    report = tmp_path / "local-report.json"
    r = subprocess.run([NEXARA, "repair", str(root), "--host", ALIAS, "--dry-run", "--min-seconds", "1",
                        "--report", str(report)], env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert tree(root) == before
    rep = json.loads(report.read_text())  # --report is written here, where the user is
    assert sorted(f["rel"] for f in rep["files"] if f["status"] == "repairable") == rels
    r = subprocess.run([NEXARA, "repair", str(root), "--host", ALIAS, "--yes", "--json", "--min-seconds", "1"],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    assert sorted(e["rel"] for e in evs if e["type"] == "repaired") == rels
    for rel in rels:
        assert_decodes_end_to_end(root / rel)
    r = subprocess.run([NEXARA, "restore", str(root), "--host", ALIAS, "--all"], env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert tree(root) == before


@pytest.mark.parametrize("answer", [True, False])
def test_plan_there_confirm_here_apply_there(tmp_path, host, answer):
    root = tmp_path / "ds"
    rels = _dataset(root, host)
    before = tree(root)
    argv = ["repair", str(root), "--host", ALIAS, "--min-seconds", "1"]
    args = build_parser().parse_args(argv)
    asked: list[dict] = []
    args.confirm = lambda summary: asked.append(summary) or answer
    evs = list(remote_events(host, remote_argv(argv, ("--report",)), args))
    assert len(asked) == 1 and asked[0]["repairable"] == 2
    repaired = sorted(e["rel"] for e in evs if e["type"] == "repaired")
    if answer:
        assert repaired == rels
        assert [e["rel"] for e in evs if e["type"] == "candidate"].count(rels[0]) == 1  # shown once
        assert not list(Path("/tmp").glob("nexara-repair-*"))  # the approved list was removed
        for rel in rels:
            assert_decodes_end_to_end(root / rel)
    else:
        assert repaired == [] and tree(root) == before
        assert any(e["type"] == "log" and e["message"] == "nothing repaired" for e in evs)
