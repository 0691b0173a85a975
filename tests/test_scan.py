"""The scan end to end, with the real integrity check on real damaged clips from the demo generator.

Covers: verdicts match the demo ground truth; an unchanged rescan checks nothing;
a touched file is rechecked; a hang and a crash cost one file each; `nexara scan`
killed with SIGKILL half way resumes with only the remainder, and one stopped with
SIGTERM also stops its workers and commits everything it reported; timeouts and
crashes are retried by a rescan; the CLI's reports;
and the bad-input cases (missing ROOT, flat folder, permission denied, special
files, symlink loops, 0-byte files, names with newlines).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.demo import GROUND_TRUTH_NAME, make_damaged, write_clip
from core.errors import NexaraError
from core.events import parse_line
from core.paths import store_path_for
from core.scan import scan

REPO = Path(__file__).resolve().parents[1]
NEXARA = [sys.executable, "-m", "core"]
NEWLINE_NAME = "fight\nnight ü.mp4"


@pytest.fixture(scope="module")
def demo_master(demo_dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared demo dataset (conftest) plus a name with a newline and a quarantine folder."""
    root = tmp_path_factory.mktemp("demo-scan") / "organized_dataset"
    shutil.copytree(demo_dataset.root, root)
    write_clip(root / "train" / "violent" / NEWLINE_NAME, "violent", seed=5)
    (root / "corrupted_videos" / "train" / "violent").mkdir(parents=True)
    make_damaged(root / "corrupted_videos" / "train" / "violent" / "old.mp4", "zero_byte")
    return root


@pytest.fixture
def demo(demo_master: Path, tmp_path: Path) -> Path:
    """A private copy (mtimes preserved) that a test may change."""
    dst = tmp_path / "organized_dataset"
    shutil.copytree(demo_master, dst)
    return dst


def _truth(root: Path) -> dict[str, list[str]]:
    gt = json.loads((root / GROUND_TRUTH_NAME).read_text(encoding="utf-8"))["files"]
    return {rel: e["expected_verdicts"] for rel, e in gt.items()}


def _events(it: Iterator[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ev in it:
        out.setdefault(ev["type"], []).append(ev)
    return out


def _cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, list[dict]]]:
    rc = main([*argv, "--json"])
    lines = capsys.readouterr().out.splitlines()
    return rc, _events(ev for ev in map(parse_line, lines) if ev)


def test_verdicts_match_ground_truth_then_rescan_is_free(demo: Path) -> None:
    truth = _truth(demo)
    evs = _events(scan(demo, level="standard", workers=2))
    start = evs["start"][0]
    assert start["total"] == len(truth) + 1 and start["cached"] == 0
    assert {"path": GROUND_TRUTH_NAME, "reason": "not a video (text or document, by name)"} in start["skipped"]
    files = {e["result"]["path"]: e["result"] for e in evs["file"]}
    assert not any(p.startswith("corrupted_videos") for p in files)  # the quarantine is not scanned
    for rel, allowed in truth.items():
        assert files[rel]["verdict"] in allowed, (rel, files[rel]["verdict"], files[rel]["reasons"])
    assert files[f"train/violent/{NEWLINE_NAME}"]["verdict"] == "ok"
    summary = evs["summary"][0]
    assert summary["checked"] == len(files) and summary["cached"] == 0
    assert summary["summary"]["overall"]["total"] == len(files)
    assert evs["progress"][-1]["done"] == len(files)

    again = _events(scan(demo, level="standard", workers=2))
    assert again["start"][0]["to_check"] == 0
    assert again["summary"][0]["checked"] == 0
    assert all(e["cached"] for e in again["file"])
    assert again["summary"][0]["summary"] == summary["summary"]
    # quick is served by the standard results; full is not
    assert _events(scan(demo, level="quick"))["summary"][0]["checked"] == 0

    clip = next(p for p in sorted(truth) if truth[p] == ["ok"])
    st = os.stat(demo / clip)
    os.utime(demo / clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    (demo / "train/violent" / NEWLINE_NAME).unlink()
    third = _events(scan(demo, level="standard", workers=1))
    assert third["summary"][0]["checked"] == 1
    assert [e["result"]["path"] for e in third["file"] if not e["cached"]] == [clip]
    with sqlite3.connect(store_path_for(demo)) as db:  # the deleted file's row was pruned
        assert db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == len(truth)
        meta = json.loads(db.execute("SELECT value FROM meta WHERE key='last_scan'").fetchone()[0])
    assert meta["complete"] is True and meta["level"] == "standard"


def test_hang_and_crash_cost_one_file_each(demo: Path) -> None:
    for name in ("hang_0.mp4", "segv_0.mp4"):
        write_clip(demo / "val" / "violent" / name, "violent", seed=1)
    truth = _truth(demo)
    evs = _events(scan(demo, workers=2, timeout=3.0,
                       checker="tests.helpers_checkers:misbehaving_real_checker"))
    files = {e["result"]["path"]: e["result"] for e in evs["file"]}
    assert files["val/violent/hang_0.mp4"]["reasons"] == ["timeout"]
    assert files["val/violent/segv_0.mp4"]["reasons"] == ["crash"]
    assert "SIGSEGV" in files["val/violent/segv_0.mp4"]["messages"][0]
    for rel, allowed in truth.items():
        assert files[rel]["verdict"] in allowed, rel
    reasons = evs["summary"][0]["summary"]["reasons"]
    assert reasons["timeout"] == 1 and reasons["crash"] == 1


def test_timeout_and_crash_are_retried_on_rescan(tmp_path: Path) -> None:
    """A hang or crash may have been the machine's fault (load, memory): the next
    scan checks those files again and serves everything else from the store."""
    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    for name in ("hang_0.mp4", "segv_0.mp4", "a.mp4", "b.mp4"):
        (root / "train" / "violent" / name).write_bytes(b"not really a video")
    first = _events(scan(root, workers=2, timeout=2.0, checker="tests.helpers_checkers:misbehaving_checker"))
    reasons = {e["result"]["path"]: e["result"]["reasons"] for e in first["file"]}
    assert reasons["train/violent/hang_0.mp4"] == ["timeout"]
    assert reasons["train/violent/segv_0.mp4"] == ["crash"]
    # The "load" is gone: the same files now check fine.
    again = _events(scan(root, workers=2, checker="tests.helpers_checkers:size_checker"))
    assert again["start"][0]["cached"] == 2 and again["start"][0]["to_check"] == 2
    rechecked = {e["result"]["path"]: e["result"]["verdict"] for e in again["file"] if not e["cached"]}
    assert rechecked == {"train/violent/hang_0.mp4": "ok", "train/violent/segv_0.mp4": "ok"}
    assert again["summary"][0]["summary"]["overall"]["ok"] == 4
    assert _events(scan(root, workers=2, checker="tests.helpers_checkers:size_checker"))[
        "summary"][0]["checked"] == 0


def _group_gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("target", ["group", "scan-only"])
def test_sigterm_stops_workers_and_commits(demo_master: Path, tmp_path: Path, target: str) -> None:
    """SIGTERM (a cancelled job signals the process group; `kill PID` only the scan)
    stops at once, kills busy workers, commits every result it reported, and exits
    143; the next scan resumes with only the remainder."""
    root = tmp_path / "ds"
    src = next(p for p in sorted((demo_master / "train" / "violent").iterdir()) if p.suffix == ".mp4"
               and _truth(demo_master).get(f"train/violent/{p.name}") == ["ok"])
    (root / "train" / "violent").mkdir(parents=True)
    for i in range(12):
        shutil.copyfile(src, root / "train" / "violent" / f"c{i:02d}.mp4")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEXARA_TEST_SLOW_S": "0.4"}
    out = tmp_path / "events.jsonl"
    argv = [*NEXARA, "scan", str(root), "--workers", "2", "--json",
            "--checker", "tests.helpers_checkers:slow_real_checker"]
    with open(out, "wb") as fh:
        proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.PIPE, start_new_session=True)
    emitted: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while len(emitted) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            evs = _events(ev for ev in map(parse_line, out.read_bytes().splitlines()) if ev)
            emitted = [e["result"]["path"] for e in evs.get("file", [])]
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if target == "group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        t0 = time.monotonic()
        proc.wait(timeout=10)
        assert time.monotonic() - t0 < 5  # busy workers were killed, not waited for
    finally:
        if proc.poll() is None or not _group_gone(proc.pid, 0):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read() if proc.stderr else ""
    assert _group_gone(proc.pid, 5), "workers or the fork server outlived the scan"
    evs = _events(ev for ev in map(parse_line, out.read_bytes().splitlines()) if ev)
    emitted = [e["result"]["path"] for e in evs["file"]]
    assert "summary" not in evs and 3 <= len(emitted) < 12
    assert not any(e["result"]["reasons"] == ["crash"] for e in evs["file"])  # no worker "crashed"
    with sqlite3.connect(store_path_for(root)) as db:
        stored = {r[0] for r in db.execute("SELECT rel FROM files")}
        meta = json.loads(db.execute("SELECT value FROM meta WHERE key='last_scan'").fetchone()[0])
    assert set(emitted) <= stored  # everything it reported was committed
    assert meta["complete"] is False
    rc = subprocess.run([*NEXARA, "scan", str(root), "--json"], env=env, capture_output=True, text=True,
                        timeout=60)
    assert rc.returncode == 0, rc.stderr
    again = _events(ev for ev in map(parse_line, rc.stdout.splitlines()) if ev)
    assert again["start"][0]["cached"] == len(stored) and again["start"][0]["to_check"] == 12 - len(stored)
    assert again["summary"][0]["summary"]["overall"]["ok"] == 12


def test_resume_after_kill(demo_master: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    clean = demo_master / "train" / "violent"
    src = next(p for p in sorted(clean.iterdir()) if p.suffix == ".mp4" and _truth(demo_master)
               .get(f"train/violent/{p.name}") == ["ok"])
    (root / "train" / "violent").mkdir(parents=True)
    for i in range(12):
        shutil.copyfile(src, root / "train" / "violent" / f"c{i:02d}.mp4")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEXARA_TEST_SLOW_S": "0.4"}
    argv = [*NEXARA, "scan", str(root), "--workers", "1", "--json",
            "--checker", "tests.helpers_checkers:slow_real_checker"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    store = store_path_for(root)
    committed = 0
    deadline = time.monotonic() + 30
    try:
        while committed < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            if store.exists():
                try:
                    with sqlite3.connect(store, timeout=1) as db:
                        committed = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
                except sqlite3.OperationalError:
                    pass
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the scan and its workers, no cleanup
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 3 <= committed < 12
    report = tmp_path / "report.json"
    rc = subprocess.run([*NEXARA, "scan", str(root), "--json", "--report", str(report)],
                        env=env, capture_output=True, text=True, timeout=60)
    assert rc.returncode == 0, rc.stderr
    evs = _events(ev for ev in map(parse_line, rc.stdout.splitlines()) if ev)
    start = evs["start"][0]
    assert start["cached"] >= committed and start["cached"] + start["to_check"] == 12
    assert evs["summary"][0]["checked"] == start["to_check"] < 12
    data = json.loads(report.read_text())
    assert sorted(f["path"] for f in data["files"]) == [f"train/violent/c{i:02d}.mp4" for i in range(12)]
    assert data["summary"]["overall"]["ok"] == 12


def test_cli_report_csv_text_and_results(demo: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = _cli_json(["results", str(demo)], capsys)
    assert rc == 2  # nothing stored yet
    assert main(["results", str(demo)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"nexara: no scan yet for {demo} — run `nexara scan {demo}` first"

    report, csv_path = tmp_path / "out" / "r.json", tmp_path / "r.csv"
    assert main(["scan", str(demo), "--workers", "2", "--report", str(report), "--csv", str(csv_path)]) == 0
    text = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["root"] == str(demo.resolve()) and data["level"] == "standard"
    paths = [f["path"] for f in data["files"]]
    assert f"train/violent/{NEWLINE_NAME}" in paths
    for f in data["files"]:
        for key in ("path", "split", "class", "verdict", "reasons", "messages", "frames_decoded",
                    "frames_corrupt", "duration_s", "size", "seconds"):
            assert key in f
    o = data["summary"]["overall"]
    assert f"OVERALL: {o['corrupt']}/{o['total']} corrupted ({100 * o['corrupt'] / o['total']:.1f}%)" in text
    for g in data["summary"]["groups"]:
        block = f"{g['split']}/{g['class']}:\n   Total: {g['total']}\n   Valid: {g['total'] - g['corrupt']}\n"
        assert block in text
    csv_text = csv_path.read_text(encoding="utf-8")
    assert csv_text.count("\n") > len(paths)  # header + rows (+ the newline inside one name)
    assert f'"train/violent/{NEWLINE_NAME}"' in csv_text

    rc, evs = _cli_json(["results", str(demo), "--verdict", "corrupt"], capsys)
    assert rc == 0
    assert {e["result"]["verdict"] for e in evs["file"]} == {"corrupt"}
    assert len(evs["file"]) == o["corrupt"]
    assert evs["summary"][0]["summary"]["overall"] == o  # filters never change the summary
    rc, evs = _cli_json(["results", str(demo), "--reason", "empty_file"], capsys)
    assert all("empty_file" in e["result"]["reasons"] for e in evs["file"]) and evs["file"]
    # The new fatal reasons are filters like any other (issue 10): the still image and the
    # single-frame video of the demo, and nothing else.
    gt = json.loads((demo / GROUND_TRUTH_NAME).read_text(encoding="utf-8"))["files"]
    stills = sorted(rel for rel, e in gt.items() if e["damage"] in ("still_image", "single_frame"))
    rc, evs = _cli_json(["results", str(demo), "--reason", "still_image"], capsys)
    assert rc == 0 and sorted(e["result"]["path"] for e in evs["file"]) == stills
    assert main(["results", str(demo), "--reason", "still_image"]) == 0
    text = capsys.readouterr().out
    assert all(repr(rel)[1:-1] in text for rel in stills) and "still_image" in text


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err == f"nexara: {tmp_path / 'missing'}: no such directory\n"
    rc, evs = _cli_json(["scan", str(tmp_path / "missing")], capsys)
    assert rc == 2 and evs["error"][0]["message"].endswith("no such directory")
    assert main(["scan", str(tmp_path), "--workers", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(NexaraError, match="--level"):
        next(scan(tmp_path, level="deep"))

    flat = tmp_path / "flat"
    write_clip(flat / "a.mp4", "violent", seed=1)
    (flat / "empty.mp4").write_bytes(b"")
    (flat / "sub").mkdir()
    os.symlink(flat, flat / "sub" / "loop")
    os.mkfifo(flat / "pipe.mp4")
    write_clip(flat / NEWLINE_NAME, "nonviolent", seed=2)
    rc, evs = _cli_json(["scan", str(flat), "--workers", "2"], capsys)
    assert rc == 0
    start = evs["start"][0]
    assert any("found a flat folder" in n and "one split 'all'" in n for n in start["notes"])
    skipped = {s["path"]: s["reason"] for s in start["skipped"]}
    assert skipped["pipe.mp4"] == "not a regular file"
    assert skipped["sub/loop"].startswith("symlink loop")
    files = {e["result"]["path"]: e["result"] for e in evs["file"]}
    assert set(files) == {"a.mp4", "empty.mp4", NEWLINE_NAME}
    assert files["empty.mp4"]["verdict"] == "corrupt" and files["empty.mp4"]["reasons"] == ["empty_file"]
    assert files[NEWLINE_NAME]["verdict"] == "ok" and files[NEWLINE_NAME]["split"] == "all"


def _drop_dac_capabilities() -> None:
    """In the child before exec: take CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH out of the
    bounding set, so this root process obeys file permissions like any user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_permission_denied_file(tmp_path: Path) -> None:
    """Tests run as root, and root reads a chmod-000 file; so the scan runs as root
    without the capabilities that bypass permission checks (a real EACCES)."""
    root = tmp_path / "ds"
    write_clip(root / "train" / "violent" / "readable.mp4", "violent", seed=1)
    write_clip(root / "train" / "violent" / "locked.mp4", "violent", seed=2)
    os.chmod(root / "train" / "violent" / "locked.mp4", 0o000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([*NEXARA, "scan", str(root), "--json", "--workers", "1"], env=env,
                       capture_output=True, text=True, timeout=60, preexec_fn=_drop_dac_capabilities)
    assert p.returncode == 0, p.stderr
    evs = _events(ev for ev in map(parse_line, p.stdout.splitlines()) if ev)
    files = {e["result"]["path"]: e["result"] for e in evs["file"]}
    locked = files["train/violent/locked.mp4"]
    assert locked["verdict"] == "corrupt" and locked["reasons"] == ["unreadable"]
    assert "permission denied" in locked["messages"][0]
    assert files["train/violent/readable.mp4"]["verdict"] == "ok"
