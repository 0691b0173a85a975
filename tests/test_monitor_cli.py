"""`nexara monitor … --once [--json]` on every format, on real jobs, and following a growing file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.host.local import LocalHost
from core.monitor.follow import Follower, resolve
from core.monitor.parsers import parse_bytes
from core.monitor.records import EpochRecord
from tests.keras_logs import keras_logs


@pytest.fixture(scope="session")
def logs():
    return keras_logs()


def epoch_event(i: int, **kw) -> dict:
    ev = {"v": 1, "type": "epoch", "epoch": i, "epochs": 150, "loss": 1.0 / i, "accuracy": 0.5 + i / 400,
          "val_loss": 1.1 / i, "val_accuracy": 0.5 + i / 380,
          "recall": {"violent": 0.6 + i / 500, "nonviolent": 0.62 + i / 500},
          "lr": 1e-3, "seconds": 300.0 + i, "patience": 30}
    ev.update(kw)
    return ev


def json_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("which", ["csv", "console_v1", "console_v2", "console_noval"])
def test_once_json_on_keras_files(logs, capsys, which):
    path = getattr(logs, which)
    assert main(["monitor", str(path), "--once", "--json"]) == 0
    rows = json_lines(capsys)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert isinstance(r["loss"], float) and isinstance(r["accuracy"], float)
        if which != "console_noval":
            assert {"val_loss", "val_accuracy", "lr"} <= r.keys()
            assert r["recall"].keys() == {"violent", "nonviolent"}
        else:
            assert "val_loss" not in r


def test_once_json_on_our_epochs_jsonl(tmp_path, capsys):
    p = tmp_path / "epochs.jsonl"
    p.write_text("".join(json.dumps(epoch_event(i)) + "\n" for i in range(1, 6)))
    assert main(["monitor", str(p), "--once", "--json"]) == 0
    rows = json_lines(capsys)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["recall"] == {"violent": 0.602, "nonviolent": 0.622}
    assert rows[0]["seconds"] == 301.0 and rows[0]["patience"] == 30


def test_a_run_dir_means_its_epochs_jsonl(tmp_path, capsys):
    (tmp_path / "epochs.jsonl").write_text(json.dumps(epoch_event(1)) + "\n")
    assert main(["monitor", str(tmp_path), "--once", "--json"]) == 0
    assert [r["epoch"] for r in json_lines(capsys)] == [1]


def test_human_table_marks_the_best_epoch(tmp_path, capsys):
    p = tmp_path / "epochs.jsonl"
    evs = [epoch_event(1, val_accuracy=0.6), epoch_event(2, val_accuracy=0.8),
           epoch_event(3, val_accuracy=0.7)]
    p.write_text("".join(json.dumps(e) + "\n" for e in evs))
    assert main(["monitor", str(p), "--once"]) == 0
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines()]
    assert any(ln.startswith("2 ★") for ln in lines), out
    assert not any(ln.startswith("3 ★") or ln.startswith("1 ★") for ln in lines)
    assert "epoch 3/150" in out and "best 2" in out


def test_missing_source_is_a_one_line_error(capsys):
    assert main(["monitor", "/no/such/log.csv", "--once"]) == 2
    assert "/no/such/log.csv: no such job or file on host local" in capsys.readouterr().err


def wait_job(host: LocalHost, job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if next(j for j in host.jobs() if j.id == job_id).status != "running":
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running")


def test_job_source_and_a_dead_job_with_its_stderr(logs, tmp_path, capsys):
    host = LocalHost()
    # A real detached job whose event log carries epoch events: `monitor --json` of the CSV.
    ok = host.start_job(["monitor", str(logs.csv), "--once"])
    bad = host.start_job(["monitor", str(tmp_path / "gone.csv"), "--once"])
    wait_job(host, ok)
    wait_job(host, bad)
    assert main(["monitor", ok, "--once", "--json"]) == 0
    rows = json_lines(capsys)
    ref = [r for r in parse_bytes(logs.csv.read_bytes(), "csv") if isinstance(r, EpochRecord)]
    assert [r["val_loss"] for r in rows] == [r.val_loss for r in ref]

    assert main(["monitor", bad, "--once"]) == 1
    out = capsys.readouterr().out
    assert "job died: exit code 2" in out
    assert "gone.csv: no such job or file on host local" in out  # the job's stderr, shown


def test_follow_a_growing_console_log_in_a_subprocess(logs, tmp_path):
    """`nexara monitor FILE --json` (following) sees epochs as a writer appends them, chunk by chunk."""
    src = logs.console_v1.read_bytes()
    path = tmp_path / "live.log"
    path.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "monitor", str(path), "--json",
                             "--poll", "0.1"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        cut = src.index(b"Epoch 2/3")
        with path.open("ab") as fh:
            for i in range(0, cut, 50):  # epoch 1 arrives in small pieces
                fh.write(src[i:min(i + 50, cut)])
                fh.flush()
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["epoch"] == 1
        with path.open("ab") as fh:
            fh.write(src[cut:])
        assert [json.loads(proc.stdout.readline())["epoch"] for _ in range(2)] == [2, 3]
    finally:
        proc.terminate()
        proc.wait(10)


def test_follower_batches_a_long_log_and_resumes_from_offset(tmp_path):
    path = tmp_path / "epochs.jsonl"
    path.write_text("".join(json.dumps(epoch_event(i)) + "\n" for i in range(1, 201)))
    host = LocalHost()
    f = Follower(host, resolve(host, str(path)), batch_interval=10)
    ups = list(f.updates(follow=False))
    assert sum(len(u.items) for u in ups) == 200
    assert len(ups) <= 2  # one read, one batch: not 200 redraws
    off = ups[-1].offset
    with path.open("a") as fh:
        fh.write(json.dumps(epoch_event(201)) + "\n")
    more = list(Follower(host, resolve(host, str(path))).updates(follow=False, offset=off))
    assert [i.epoch for u in more for i in u.items] == [201]


def test_gpu_through_the_host():
    """`nexara monitor --gpu --json` run on the host; no nvidia-smi here means an empty list and why."""
    import shutil

    from core.monitor.gpu import host_gpu

    gpus, reason = host_gpu(LocalHost())
    if shutil.which("nvidia-smi"):
        assert gpus and all(g.mem_total for g in gpus)
    else:
        assert gpus == [] and reason == "nvidia-smi not found"


def test_nvidia_smi_rows():
    from core.monitor.gpu import parse_nvidia_smi

    # The shape of `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total
    # --format=csv,noheader,nounits` (a name may contain commas; fields may be [N/A]).
    rows = parse_nvidia_smi("0, NVIDIA GeForce RTX 3090, 87, 20480, 24576\n"
                            "1, NVIDIA H100 80GB HBM3, [N/A], 1024, 81559\n")
    assert [(g.index, g.name, g.util, g.mem_used) for g in rows] == [
        (0, "NVIDIA GeForce RTX 3090", 87.0, 20480.0), (1, "NVIDIA H100 80GB HBM3", None, 1024.0)]
    assert rows[0].short() == "GPU0 87% 20.0/24 GiB"


def test_train_tensorboard_option_reaches_the_job_and_refuses_a_file(tmp_path, capsys):
    afile = tmp_path / "not-a-folder"
    afile.write_text("")
    assert main(["train", str(tmp_path), "--tensorboard", str(afile)]) == 2
    assert capsys.readouterr().err.strip() == f"nexara: --tensorboard {afile}: exists and is not a folder"
    tb = tmp_path / "tb"
    main(["train", str(tmp_path / "no-such-dataset"), "--tensorboard", str(tb), "--json"])
    started = next(e for e in json_lines(capsys) if e["type"] == "job_started")
    argv = started["argv"]
    assert argv[argv.index("--tensorboard") + 1] == str(tb.resolve())
    wait_job(LocalHost(), started["job_id"])  # it dies on the missing dataset; nothing left running
