"""The monitor over SSH against the real loopback sshd: a TensorBoard folder on the "GPU box".

`Host.list_dir` is one SFTP listing; the events files are read at offsets with
`Host.read_file`, so the laptop reads a TensorBoard log without TensorFlow and
without running anything on the host.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from core.host.local import LocalHost
from core.monitor.follow import Follower, resolve
from core.monitor.records import EpochRecord
from tests.keras_logs import keras_runs
from tests.sshd import ALIAS
from tests.test_monitor_formats import assert_matches_history, history_epochs
from tests.test_ssh import NEXARA, cli_env, host, remote_state  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def runs():
    return keras_runs()


def test_list_dir_over_sftp_is_the_local_listing(host, runs, tmp_path):  # noqa: F811
    local = LocalHost()

    def listing(h, folder):  # SFTP carries whole seconds of mtime
        return sorted((e.name, e.size, e.is_dir, int(e.mtime)) for e in h.list_dir(str(folder)))

    for folder in (runs.tensorboard, runs.tensorboard / "train", runs.dir):
        assert listing(host, folder) == listing(local, folder)
    assert ("train", True) in [(e.name, e.is_dir) for e in host.list_dir(str(runs.tensorboard))]
    assert host.list_dir(str(runs.csv)) is None  # a file is no folder
    assert host.list_dir(str(tmp_path / "gone")) is None
    odd = tmp_path / "odd name $(x)"
    (odd / "in it").mkdir(parents=True)
    assert [(e.name, e.is_dir) for e in host.list_dir(str(odd))] == [("in it", True)]


def test_tensorboard_folder_over_ssh_gives_what_it_gives_locally(host, runs, tmp_path):  # noqa: F811
    tb = tmp_path / "logs"
    shutil.copytree(runs.tensorboard, tb)

    def epochs(h):
        out = []
        for up in Follower(h, resolve(h, str(tb))).updates(follow=False):
            out += [(i.run, i.to_json()) for i in up.items if isinstance(i, EpochRecord)]
        return out

    remote = epochs(host)
    assert remote == epochs(LocalHost())
    assert [(r, e["epoch"]) for r, e in remote] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]


def test_monitor_cli_with_host_reads_a_tensorboard_folder(cli_env, runs):  # noqa: F811
    r = subprocess.run([NEXARA, "monitor", str(runs.tensorboard), "--host", ALIAS, "--once", "--json"],
                       env=cli_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["run"], x["epoch"]) for x in rows] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    for x in rows:
        assert_matches_history(x, history_epochs(runs.tensorboard_history[x["run"] - 1])[x["epoch"] - 1])
    bad = subprocess.run([NEXARA, "monitor", str(runs.dir / "history.json") + ".d", "--host", ALIAS,
                          "--once"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
