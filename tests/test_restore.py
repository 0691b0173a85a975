"""`nexara restore`: recovery before selection, orphans, what it refuses, its exit status.

The crashes are real (`NEXARA_CRASH_AT` SIGKILLs the real CLI in a subprocess at an
exact step); the journals are damaged the way a person or a crash damages them.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from core import quarantine as q
from core.journal import Journal
from core.store import ScanStore
from tests.helpers_crash import digest_tree, make_dataset, run_nexara

KILLED = -signal.SIGKILL


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _qpath(root: Path, rel: str) -> Path:
    return root / "corrupted_videos" / rel


# -- 1: recovery first, then the selection --------------------------------------------------


def test_restore_all_after_a_killed_quarantine_brings_back_every_file_in_one_run(tmp_path):
    root = tmp_path / "ds"
    make_dataset(root, n=8)
    before = digest_tree(root)
    r = run_nexara("quarantine", str(root), "--yes", crash_at="after_move:5")
    assert r.returncode == KILLED, r.stderr
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recovered" in r.stdout and "restored 5 file(s)" in r.stdout, r.stdout
    assert "nothing to restore" not in r.stdout
    assert digest_tree(root) == before


@pytest.mark.parametrize("point", ["after_intent:3", "after_move:3", "torn_done:1"])
def test_restore_all_after_a_killed_restore_finishes_without_false_missing(tmp_path, point):
    root = tmp_path / "ds"
    make_dataset(root, n=6)
    before = digest_tree(root)
    assert run_nexara("quarantine", str(root), "--yes").returncode == 0
    r = run_nexara("restore", str(root), "--all", crash_at=point)
    assert r.returncode == KILLED, r.stderr
    r = run_nexara("restore", str(root), "--all", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    assert not [e for e in evs if e["type"] == "skipped"], evs
    started = next(e for e in evs if e["type"] == "started")
    assert started["total"] == len([e for e in evs if e["type"] == "moved"])
    assert digest_tree(root) == before
    assert not Journal(root).read().pending()


def test_restore_file_and_batch_last_see_the_interrupted_batch(tmp_path):
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=6))
    first = tmp_path / "first.txt"
    first.write_text("\n".join(corrupt[:2]) + "\n")
    r = run_nexara("quarantine", str(root), "--files-from", str(first), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    batch_a = next(e for e in _events(r.stdout) if e["type"] == "batch")["batch"]
    # Batch B: corrupt[2] and corrupt[3] are moved when the kill comes; no done record yet.
    r = run_nexara("quarantine", str(root), "--yes", crash_at="after_move:2")
    assert r.returncode == KILLED
    assert _qpath(root, corrupt[3]).exists()
    # --file for a file of the interrupted batch: recovered first, so it is in quarantine.
    r = run_nexara("restore", str(root), "--file", corrupt[2])
    assert r.returncode == 0, r.stdout + r.stderr
    assert (root / corrupt[2]).exists() and not _qpath(root, corrupt[2]).exists()
    # --batch last is the interrupted batch (now recovered), not the batch before it.
    r = run_nexara("restore", str(root), "--batch", "last", "--json")
    assert r.returncode == 0, r.stderr
    assert [e["rel"] for e in _events(r.stdout) if e["type"] == "moved"] == [corrupt[3]]
    view = Journal(root).read()
    assert set(view.in_quarantine()) == set(corrupt[:2])
    assert {e.batch for e in view.in_quarantine().values()} == {batch_a}


# -- 5: an emptied, deleted or garbled journal -------------------------------------------------


@pytest.mark.parametrize("damage", ["emptied", "deleted", "garbled"])
def test_files_the_journal_lost_are_reported_and_restored_with_orphans(tmp_path, damage):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=5)
    before = digest_tree(root)
    assert run_nexara("quarantine", str(root), "--yes").returncode == 0
    journal = root / "corrupted_videos" / "journal.jsonl"
    if damage == "emptied":
        journal.write_bytes(b"")
    elif damage == "deleted":
        journal.unlink()
    else:  # every line of the journal damaged by hand, plus one line that is not JSON
        lines = journal.read_text().splitlines()
        journal.write_text("".join(ln[:-7] + "\n" for ln in lines) + "oops, not a record\n")
    r = run_nexara("quarantine", str(root), "--list", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    assert sorted(e["rel"] for e in evs if e["type"] == "orphan") == sorted(corrupt)
    total = next(e for e in evs if e["type"] == "quarantine")
    assert total["files"] == 0 and total["orphans"] == len(corrupt)
    if damage == "garbled":
        bad = [e for e in evs if e["type"] == "journal_bad_line"]
        assert [e["line"] for e in bad] == total["bad_lines"] and len(bad) == 2 * len(corrupt) + 1
        human = run_nexara("quarantine", str(root), "--list")
        assert "line 11 is not a journal record" in human.stdout, human.stdout
    # restore --all does not say "nothing to restore" with exit 0 while files sit there.
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode != 0, r.stdout
    assert "--orphans" in r.stdout + r.stderr
    assert all(_qpath(root, rel).exists() for rel in corrupt)
    r = run_nexara("restore", str(root), "--orphans", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(e["rel"] for e in _events(r.stdout) if e["type"] == "moved") == sorted(corrupt)
    assert digest_tree(root) == before
    assert q.orphans(root) == []


def test_orphan_restore_never_overwrites_and_refuses_symlinks(tmp_path):
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=3))
    assert run_nexara("quarantine", str(root), "--yes").returncode == 0
    (root / "corrupted_videos" / "journal.jsonl").write_bytes(b"")
    (root / corrupt[0]).write_bytes(b"a new download")  # reappeared at the original path
    os.symlink("/etc/passwd", root / "corrupted_videos" / "train" / "violent" / "evil.mp4")
    r = run_nexara("restore", str(root), "--orphans")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "reappeared" in r.stdout and "symlink" in r.stdout, r.stdout
    assert (root / corrupt[0]).read_bytes() == b"a new download"
    assert _qpath(root, corrupt[0]).exists()
    assert not (root / "train" / "violent" / "evil.mp4").exists()
    assert (root / corrupt[1]).exists() and (root / corrupt[2]).exists()


# -- 6: a ROOT without a journal ----------------------------------------------------------------


def test_restore_refuses_a_root_without_a_journal_and_creates_nothing(tmp_path):
    plain = tmp_path / "never_scanned"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    for how in (["--all"], ["--batch", "last"], ["--orphans"]):
        r = run_nexara("restore", str(plain), *how)
        assert r.returncode == 2, (how, r.stdout, r.stderr)
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and "nothing" in err[0], err
    assert sorted(p.name for p in plain.iterdir()) == ["notes.txt"]


# -- 8: restore puts back only what the journal recorded ------------------------------------------


@pytest.mark.parametrize("swap", ["symlink", "other_bytes", "same_size_other_bytes"])
def test_restore_refuses_a_quarantined_file_that_was_replaced(tmp_path, swap):
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=2))
    assert run_nexara("quarantine", str(root), "--yes").returncode == 0
    victim = _qpath(root, corrupt[0])
    size = victim.stat().st_size
    victim.unlink()
    if swap == "symlink":
        os.symlink("/etc/passwd", victim)
    elif swap == "other_bytes":
        victim.write_bytes(b"root:x:0:0::/root:/bin/sh\n")
    else:
        victim.write_bytes(os.urandom(size))
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(ln for ln in r.stdout.splitlines() if corrupt[0] in ln)
    assert "not the file that was quarantined" in line or "symlink" in line, r.stdout
    assert not (root / corrupt[0]).exists() and not (root / corrupt[0]).is_symlink()
    assert os.path.lexists(victim)  # left alone
    assert (root / corrupt[1]).exists()  # the other one came back


# -- 12: one exit-status rule for quarantine and restore -----------------------------------------------


def test_quarantine_and_restore_share_one_exit_status_rule(tmp_path):
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=3))
    with open(root / corrupt[0], "ab") as f:  # changed since the scan: skipped by quarantine
        f.write(b"more")
    r = run_nexara("quarantine", str(root), "--yes")
    assert r.returncode == 1 and "skipped" in r.stdout, r.stdout
    r = run_nexara("quarantine", str(root), "--yes")  # the rest is in; the changed file still skipped
    assert r.returncode == 1
    (root / corrupt[1]).write_bytes(b"reappeared")
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 1 and "reappeared" in r.stdout
    os.unlink(root / corrupt[1])
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 0, r.stdout
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 0 and "nothing to restore" in r.stdout
    # With --json a finished run exits 0; its events say what was skipped and why.
    r = run_nexara("quarantine", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    assert [(e["rel"], e["reason"]) for e in evs if e["type"] == "skipped"] == [(corrupt[0], "changed")]
    assert sorted(e["rel"] for e in evs if e["type"] == "moved") == corrupt[1:]
    with ScanStore.for_root(root) as s:
        assert s.count("quarantine") == 2
