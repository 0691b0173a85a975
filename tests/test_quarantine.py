"""The journaled quarantine: round trips, crashes at every step, hostile paths, bad input.

Crashes are real: the real CLI runs in a subprocess that SIGKILLs itself at a named step
(NEXARA_CRASH_AT). Cross-device moves and read-only datasets use real tmpfs mounts
(the tests run as root in this sandbox; chmod would not stop root, a read-only mount does).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from core import quarantine as q
from core.errors import NexaraError
from core.journal import Journal
from core.store import QUARANTINE, ScanStore
from core.summary import summarize
from tests.helpers_crash import (
    REPO,
    Mounts,
    assert_each_once,
    digest_tree,
    fill,
    make_dataset,
    remount_ro,
    run_in_pty,
    run_nexara,
)

KILLED = -signal.SIGKILL


@pytest.fixture
def mounts():
    """Mount file systems (tmpfs, bind, loop) for one test and always unmount them."""
    m = Mounts()
    yield m
    m.close()


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _store(root: Path) -> ScanStore:
    return ScanStore.for_root(root)


# -- the round trip -------------------------------------------------------------------------


def test_move_then_restore_is_byte_identical_with_real_videos(tmp_path):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=4, corrupt_every=2, real_videos=4)
    before = digest_tree(root)
    mtimes = {r: (root / r).stat().st_mtime_ns for r in before}
    with _store(root) as s:
        p = q.plan(root, s)
        assert sorted(i.rel for i in p.items) == sorted(corrupt)
        res = q.execute(root, p, store=s)
        assert len(res.moved) == len(corrupt) and res.bytes == p.total_size
        assert s.count(QUARANTINE) == len(corrupt)
        assert summarize(s.results()).overall.corrupt == 0  # summaries drop them at once
        where = assert_each_once(root, before)
        assert {r for r, w in where.items() if w == "quarantine"} == set(corrupt)
        for rel in corrupt:
            assert (root / "corrupted_videos" / rel).stat().st_mtime_ns == mtimes[rel]
        back = q.restore(root, batch=res.batch, store=s)
        assert len(back.moved) == len(corrupt)
        assert s.count(QUARANTINE) == 0
        assert summarize(s.results()).overall.corrupt == len(corrupt)
    assert digest_tree(root) == before
    assert {r: (root / r).stat().st_mtime_ns for r in before} == mtimes


def test_cli_refuses_without_yes_when_no_terminal_and_lists_the_plan(tmp_path):
    root = tmp_path / "ds"
    make_dataset(root, n=3)
    r = run_nexara("quarantine", str(root))
    assert r.returncode == 2
    assert "would move 3 file(s)" in r.stdout and "--yes" in r.stderr
    assert not (root / "corrupted_videos").exists()
    r = run_nexara("quarantine", str(root), "--yes", "--json", "--reason", "truncated")
    evs = _events(r.stdout)
    assert r.returncode == 0, r.stderr
    plan = next(e for e in evs if e["type"] == "plan")
    assert plan["count"] == 1 and list(plan["by_reason"]) == ["truncated"]
    assert [e["rel"] for e in evs if e["type"] == "moved"] == ["train/violent/clip_000.mp4"]
    batch = next(e for e in evs if e["type"] == "batch")
    r = run_nexara("quarantine", str(root), "--list", "--json")
    assert r.returncode == 0, r.stderr
    lst = _events(r.stdout)
    assert [b["batch"] for b in lst if b["type"] == "journal_batch"] == [batch["batch"]]
    r = run_nexara("restore", str(root), "--batch", batch["batch"], "--json")
    assert r.returncode == 0 and [e["rel"] for e in _events(r.stdout) if e["type"] == "moved"] == [
        "train/violent/clip_000.mp4"]


# -- crashes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["after_intent:2", "after_move:2", "torn_done:1"])
def test_kill_9_during_a_rename_batch_leaves_every_file_recoverable(tmp_path, point):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=5)
    before = digest_tree(root)
    r = run_nexara("quarantine", str(root), "--yes", "--json", crash_at=point)
    assert r.returncode == KILLED, (r.returncode, r.stderr)
    # Next run: recovery first, then the rest moves.
    r = run_nexara("quarantine", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    recovered = {e["rel"]: e["action"] for e in evs if e["type"] == "recovered"}
    assert recovered, "the interrupted batch should have been recovered"
    order = sorted(corrupt)  # the order files move in
    if point == "after_intent:2":  # first moved, second not yet
        assert [recovered[c] for c in order] == ["finished"] + ["rolled_back"] * 4
    if point == "after_move:2":  # second moved, its done record not written
        assert [recovered[c] for c in order] == ["finished"] * 2 + ["rolled_back"] * 3
    where = assert_each_once(root, before)
    assert set(where.values()) == {"quarantine"}
    view = Journal(root).read()
    assert not view.pending() and view.torn_bytes == 0 and not view.bad_lines
    assert len(view.in_quarantine()) == len(corrupt)
    # And everything comes back.
    r = run_nexara("restore", str(root), "--all", "--json")
    assert r.returncode == 0, r.stderr
    assert digest_tree(root) == before


def test_cross_device_move_and_kill_mid_copy(tmp_path, mounts):
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=4, size=200_000, real_videos=1))
    before = digest_tree(root)
    # A real second file system (rename fails with EXDEV → copy path); without `mount`
    # in the sandbox, the same copy path is forced.
    force = not mounts(root / "corrupted_videos")
    r = run_nexara("quarantine", str(root), "--yes", "--json", crash_at="mid_copy:2", force_copy=force)
    assert r.returncode == KILLED, r.stderr
    partial = list((root / "corrupted_videos").rglob("*.nexara-partial"))
    assert len(partial) == 1 and partial[0].stat().st_size < (root / corrupt[1]).stat().st_size
    actions = {a.rel: a.action for a in q.recover(root)}
    assert actions == {corrupt[0]: "finished", corrupt[1]: "rolled_back",
                       corrupt[2]: "rolled_back", corrupt[3]: "rolled_back"}
    where = assert_each_once(root, before)  # partial removed: its source was intact and verified
    assert [r for r, w in where.items() if w == "quarantine"] == [corrupt[0]]
    # Crash after the verified copy is in place but before the source is unlinked.
    r = run_nexara("quarantine", str(root), "--yes", "--json", crash_at="before_unlink_src:1",
                   force_copy=force)
    assert r.returncode == KILLED
    assert (root / corrupt[1]).exists() and (root / "corrupted_videos" / corrupt[1]).exists()
    actions = {a.rel: a.action for a in q.recover(root)}
    assert actions[corrupt[1]] == "finished"
    assert_each_once(root, before)
    r = run_nexara("quarantine", str(root), "--yes", "--json", force_copy=force)
    assert r.returncode == 0, r.stderr
    moved = [e for e in _events(r.stdout) if e["type"] == "moved"]
    assert moved and all(e["note"] == "copied across file systems" for e in moved)
    if not force:  # the engine itself saw two devices and chose the copy path
        assert {e.method for e in Journal(root).read().entries.values()} == {"copy"}
    assert set(assert_each_once(root, before).values()) == {"quarantine"}
    r = run_nexara("restore", str(root), "--all", "--json", force_copy=force)
    assert r.returncode == 0, r.stderr
    assert digest_tree(root) == before


# -- bad input -------------------------------------------------------------------------------------


def test_changed_file_is_skipped_and_vanished_file_reported(tmp_path):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=4)
    changed, vanished = corrupt[0], corrupt[1]
    with open(root / changed, "ab") as f:
        f.write(b"more")
    os.unlink(root / vanished)
    r = run_nexara("quarantine", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    skipped = {e["rel"]: e["reason"] for e in evs if e["type"] == "skipped"}
    assert skipped == {changed: "changed", vanished: "vanished"}
    assert sorted(e["rel"] for e in evs if e["type"] == "moved") == sorted(corrupt[2:])
    assert (root / changed).exists() and not (root / "corrupted_videos" / changed).exists()


def test_restore_never_overwrites_a_file_that_reappeared(tmp_path):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=2)
    with _store(root) as s:
        q.execute(root, q.plan(root, s), store=s)
    (root / corrupt[0]).write_bytes(b"a new download")
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 1
    assert "reappeared" in r.stdout and corrupt[0] in r.stdout
    assert (root / corrupt[0]).read_bytes() == b"a new download"
    assert (root / "corrupted_videos" / corrupt[0]).exists()  # still safe in quarantine
    assert (root / corrupt[1]).exists()  # the other one came back


def test_read_only_dataset_fails_once_before_anything_moves(tmp_path, mounts):
    root = tmp_path / "ro"
    if mounts(root):  # as root (this sandbox), only a read-only mount stops writes
        make_dataset(root, n=3)
        before = digest_tree(root)
        assert remount_ro(root)
    else:  # without mount privileges we are not root, so permissions do stop us
        assert os.geteuid() != 0, "as root this test needs `mount` for a read-only tmpfs"
        make_dataset(root, n=3)
        before = digest_tree(root)
        for d in (root, root / "train", root / "train" / "violent", root / "train" / "nonviolent"):
            d.chmod(0o555)
    r = run_nexara("quarantine", str(root), "--yes")
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "not writable" in err[0] and "nothing was moved" in err[0]
    assert digest_tree(root) == before


def test_files_from_refuses_paths_outside_root(tmp_path):
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=3)
    lst = tmp_path / "list.txt"
    for bad in ("../outside.mp4", "/etc/passwd", "train/../../x.mp4", "corrupted_videos/train/a.mp4"):
        lst.write_text(f"{corrupt[0]}\n{bad}\n")
        r = run_nexara("quarantine", str(root), "--files-from", str(lst), "--yes")
        assert r.returncode == 2, bad
        assert "list.txt line 2" in r.stderr and "refusing" in r.stderr, r.stderr
        assert not (root / "corrupted_videos").exists()
    # An ok file can be approved explicitly; unknown names are reported, not moved.
    lst.write_text(f"# approved in the TUI\n{corrupt[1]}\n{root / corrupt[2]}\ntrain/violent/nope.mp4\n")
    r = run_nexara("quarantine", str(root), "--files-from", str(lst), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    assert sorted(e["rel"] for e in evs if e["type"] == "moved") == sorted(corrupt[1:3])
    assert [e["reason"] for e in evs if e["type"] == "skipped"] == ["not_scanned"]


def test_nul_separated_list_carries_any_name_and_still_refuses_escapes(tmp_path):
    from core.quarantine import read_files_from

    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    odd = ["train/violent/two\nlines.mp4", "train/violent/ edge spaces .mp4", "train/violent/#hash.mp4"]
    lst = tmp_path / "list.bin"
    lst.write_bytes("".join(f"{n}\0" for n in odd).encode())
    assert read_files_from(lst, root) == odd  # verbatim: no stripping, no comments
    lst.write_bytes(f"{odd[0]}\0../outside.mp4\0".encode())
    with pytest.raises(NexaraError, match=r"list\.bin entry 2.*refusing"):
        read_files_from(lst, root)


def _write_journal(root: Path, records: list[dict]) -> None:
    (root / "corrupted_videos").mkdir(exist_ok=True)
    with open(root / "corrupted_videos" / "journal.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def _rec(rel: str, state: str, src: str | None = None, dst: str | None = None) -> dict:
    return {"batch": "evil", "seq": 1, "op": "move", "rel": rel, "src": src or rel,
            "dst": dst or f"corrupted_videos/{rel}", "size": 4, "hash": "b2f:00",
            "verdict": "corrupt", "reasons": [], "time": 1.0, "method": "rename", "state": state}


@pytest.mark.parametrize("rec", [
    _rec("../../etc/passwd", "intent"),
    _rec("/etc/passwd", "intent"),
    _rec("train/a.mp4", "intent", dst="../../outside.mp4"),
])
def test_crafted_journal_paths_are_refused_by_recovery(tmp_path, rec):
    root = tmp_path / "ds"
    make_dataset(root, n=1)
    _write_journal(root, [rec])
    with pytest.raises(NexaraError, match="refusing"):
        q.recover(root)
    r = run_nexara("quarantine", str(root), "--list")
    assert r.returncode == 2 and "refusing" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_symlinked_dirs_escaping_root_are_refused(tmp_path):
    root = tmp_path / "ds"
    make_dataset(root, n=1)
    outside = tmp_path / "outside"
    (outside / "violent").mkdir(parents=True)
    secret = outside / "violent" / "x.mp4"
    secret.write_bytes(b"not yours")
    # A quarantine subfolder that points outside: restoring through it is refused.
    (root / "corrupted_videos").mkdir()
    os.symlink(outside, root / "corrupted_videos" / "val")
    done = _rec("val/violent/x.mp4", "intent")
    _write_journal(root, [done, {**done, "state": "done"}])
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 2 and "outside the quarantine" in r.stderr, r.stderr
    assert secret.read_bytes() == b"not yours" and not (root / "val").exists()
    # A dataset folder that points outside: its files are refused by the planner, not moved.
    os.symlink(outside, root / "test")
    st = secret.stat()
    from core.records import FileResult, Verdict

    with _store(root) as s:
        s.put_many([FileResult("test/violent/x.mp4", "test", "violent", Verdict.CORRUPT,
                               size=st.st_size, mtime_ns=st.st_mtime_ns)])
        p = q.plan(root, s)
    assert [r for r, _ in p.refused] == ["test/violent/x.mp4"]
    assert "outside the dataset" in p.refused[0][1]
    assert "test/violent/x.mp4" not in {i.rel for i in p.items}


# -- issue 11: faults and hostile input ----------------------------------------------------------


def _put(root: Path, rel: str, data: bytes | None = None, verdict: str = "corrupt",
         reasons: tuple[str, ...] = ("not_a_video",), video: bool = False) -> None:
    """One file under ROOT with its stored verdict (a real clip when `video`)."""
    from core.records import FileResult, Verdict

    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if video:
        from core.demo import write_clip

        write_clip(p, "violent", size=(64, 48), fps=10, seconds=0.5, seed=3)
    else:
        p.write_bytes(data if data is not None else os.urandom(700))
    st = os.stat(p)
    split, cls = rel.split("/")[:2]
    with _store(root) as s:
        s.put_many([FileResult(rel, split, cls, Verdict(verdict), list(reasons),
                               size=st.st_size, mtime_ns=st.st_mtime_ns)])


CR_BAD, LF_GOOD = "train/violent/a\rb.mp4", "train/violent/a\nb.mp4"


def test_a_carriage_return_in_a_nul_list_moves_that_file_not_its_newline_twin(tmp_path):
    """Read as text, `a\\rb.mp4` became `a\\nb.mp4`: the healthy clip moved instead (issue 11.2)."""
    root = tmp_path / "ds"
    _put(root, CR_BAD)
    _put(root, LF_GOOD, verdict="ok", reasons=(), video=True)
    lst = tmp_path / "approved.lst"
    lst.write_bytes(CR_BAD.encode() + b"\0")
    r = run_nexara("quarantine", str(root), "--files-from", str(lst), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert [e["rel"] for e in _events(r.stdout) if e["type"] == "moved"] == [CR_BAD]
    assert (root / LF_GOOD).is_file() and (root / "corrupted_videos" / CR_BAD).is_file()
    # A name that is not UTF-8 is read byte for byte, in both list forms.
    odd = os.fsdecode(b"train/violent/bad\xffname.mp4")
    _put(root, odd)
    for data in (os.fsencode(odd) + b"\0", b"# approved\r\n" + os.fsencode(odd) + b"\r\n"):
        lst.write_bytes(data)
        assert q.read_files_from(lst, root) == [odd]


@pytest.fixture
def cli_env(sshd, tmp_path):
    """A `nexara … --host nexara-test` client whose host runs this checkout (same state dir)."""
    import sys

    remote = tmp_path / "remote-nexara"
    remote.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m core \"$@\"\n")
    remote.chmod(0o755)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[hosts.nexara-test]\nremote_nexara = "{remote}"\n'
                   f'env = {{ NEXARA_STATE_DIR = "{os.environ["NEXARA_STATE_DIR"]}" }}\n')
    return {**os.environ, "NEXARA_SSH_CONFIG": str(sshd.ssh_config), "NEXARA_CONFIG": str(cfg),
            "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8:strict"}


def test_hostile_names_over_host_are_planned_shown_and_moved_exactly(tmp_path, cli_env):
    """Plan there, ask here (a UTF-8 terminal), move there: `\\r`, `\\n` and a non-UTF-8 byte."""
    import sys

    root = tmp_path / "ds"
    odd = os.fsdecode(b"train/violent/bad\xffname.mp4")
    _put(root, CR_BAD)
    _put(root, odd)
    _put(root, LF_GOOD, verdict="ok", reasons=(), video=True)
    argv = [sys.executable, "-m", "core", "quarantine", str(root), "--host", "nexara-test"]
    import subprocess

    dry = subprocess.run([*argv, "--dry-run"], env=cli_env, capture_output=True, timeout=120)
    text = dry.stdout.decode("utf-8", "backslashreplace") + dry.stderr.decode("utf-8", "backslashreplace")
    assert dry.returncode == 0, text
    assert "'train/violent/bad\\xffname.mp4'" in text and "'train/violent/a\\rb.mp4'" in text, text
    rc, out = run_in_pty(argv, cli_env, "y")
    text = out.decode("utf-8", "backslashreplace")
    assert rc == 0, text
    assert "Traceback" not in text and "surrogates" not in text, text
    assert "would move 2 file(s)" in text, text
    assert (root / LF_GOOD).is_file(), "the healthy clip was moved"
    for rel in (CR_BAD, odd):
        assert not (root / rel).exists() and (root / "corrupted_videos" / rel).is_file(), rel


def _ext2(mounts: Mounts, img: Path, mnt: Path, size_kb: int) -> bool:
    """A small real ext2 file system (1 KiB blocks, no reserved blocks) on a loop device."""
    import subprocess

    with open(img, "wb") as f:
        f.truncate(size_kb * 1024)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-m", "0", str(img)],
                   check=True, capture_output=True)
    mnt.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], capture_output=True).returncode == 0
    if ok:
        mounts.done.append(mnt)
    return ok


@pytest.mark.parametrize("kind", ["ext2", "tmpfs"])
def test_a_full_quarantine_disk_names_the_file_leaves_no_partial_and_restore_still_works(
        tmp_path, mounts, kind):
    """Issue 11.4: quarantine onto a full file system, then undo on it while it is full.

    ext2 cannot preallocate past a file's end, so the journal's reserve is a file there;
    on tmpfs it is space the journal owns. On ext2 a file's block map needs blocks of its
    own, so a copy that the free space seemed to allow still fails half way: its partial
    copy must go."""
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=6, size=200_000))
    before = digest_tree(root)
    fs = tmp_path / "small"
    if kind == "ext2":
        assert _ext2(mounts, tmp_path / "small.img", fs, 4096), "this test needs `mount -o loop` (root)"
    else:
        assert mounts.tmpfs(fs, size_mb=4), "this test needs `mount` (root)"
    (fs / "q").mkdir()
    assert mounts.bind(fs / "q", root / "corrupted_videos")
    lst = tmp_path / "first.txt"
    lst.write_text(corrupt[0] + "\n")
    r = run_nexara("quarantine", str(root), "--files-from", str(lst), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    # Something else fills the disk. ext2: room left for one file's bytes, not its block map.
    size = (root / corrupt[1]).stat().st_size
    fill(fs, leave=size + 1024 if kind == "ext2" else size - 4096)
    r = run_nexara("quarantine", str(root), "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("skipped")]
    assert len(lines) == len(corrupt) - 1, r.stdout
    for rel, ln in zip(corrupt[1:], lines, strict=True):
        assert rel in ln and "no space left" in ln and "needs 195.3 KiB" in ln and "free" in ln, ln
    assert_each_once(root, before)  # no partial copies left, every file in one place
    # Now completely full: the undo must still work (it frees space as it goes).
    fill(fs, leave=0, name="filler2")
    assert os.statvfs(fs).f_bavail == 0
    r = run_nexara("quarantine", str(root), "--yes")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert_each_once(root, before)
    r = run_nexara("restore", str(root), "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert digest_tree(root) == before


def test_a_copy_that_fails_half_way_leaves_no_partial_and_names_the_file(tmp_path, mounts):
    """Issue 11.4: the partial copy of a failed cross-device copy was left behind. Here the
    kernel refuses the copy's writes past 128 KiB (RLIMIT_FSIZE: EFBIG), half way through."""
    root = tmp_path / "ds"
    corrupt = sorted(make_dataset(root, n=3, size=300_000))
    before = digest_tree(root)
    assert mounts(root / "corrupted_videos"), "this test needs `mount` (root)"
    r = run_nexara("quarantine", str(root), "--yes", max_file_bytes=128 * 1024)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("skipped")]
    assert [ln.split()[1].rstrip(":") for ln in lines] == corrupt, r.stdout
    assert all("copy failed: File too large; left in place" in ln for ln in lines), lines
    assert_each_once(root, before)  # no partial copy left, every file still where it was
    assert run_nexara("quarantine", str(root), "--yes").returncode == 0
    assert run_nexara("restore", str(root), "--all").returncode == 0
    assert digest_tree(root) == before


def test_a_name_too_long_for_a_partial_copy_still_moves_across_file_systems(tmp_path, mounts):
    """Issue 11.16: a 250-byte name fits both file systems, `<name>.nexara-partial` fits neither."""
    root = tmp_path / "ds"
    rel = "train/violent/" + "x" * 246 + ".mp4"
    _put(root, rel)
    before = digest_tree(root)
    assert mounts(root / "corrupted_videos"), "this test needs `mount` (root)"
    r = run_nexara("quarantine", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [e["note"] for e in _events(r.stdout) if e["type"] == "moved"] == ["copied across file systems"]
    assert_each_once(root, before)
    assert run_nexara("restore", str(root), "--all").returncode == 0
    assert digest_tree(root) == before


def test_a_path_too_long_at_the_destination_is_named_and_left_in_place(tmp_path, mounts):
    """Issue 11.16: the quarantine path is 17 bytes longer than the dataset path; past PATH_MAX
    the kernel refuses it. Say which file and why, keep it, move the others."""
    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=2)
    assert mounts(root / "corrupted_videos"), "this test needs `mount` (root)"
    budget = 4095 - len(str(root)) - 1 - len("train/violent/") - len("/clip.mp4")
    deep = "/".join(["d" * 199] * (budget // 200))
    deep += "/" + "e" * (budget - len(deep) - 1)
    rel = f"train/violent/{deep}/clip.mp4"
    assert len(str(root / rel)) <= 4095 < len(str(root / "corrupted_videos" / rel))
    _put(root, rel)
    r = run_nexara("quarantine", str(root), "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("skipped"))
    assert "clip.mp4" in line and "longer than the system allows" in line and "left in place" in line
    assert (root / rel).is_file()
    assert all((root / "corrupted_videos" / c).is_file() for c in corrupt)


@pytest.mark.parametrize("how", ["symlink", "bind"])
def test_a_quarantine_folder_inside_the_dataset_is_refused(tmp_path, mounts, how):
    """Issue 11.7: `corrupted_videos` pointing into a split would hide clips in another split."""
    root = tmp_path / "ds"
    make_dataset(root, n=4)
    target = root / "train" / "nonviolent"
    before = digest_tree(root)
    if how == "symlink":
        os.symlink(target, root / "corrupted_videos")
    else:
        assert mounts.bind(target, root / "corrupted_videos"), "this test needs `mount` (root)"
    for argv in (["quarantine", str(root), "--yes"], ["restore", str(root), "--all"],
                 ["quarantine", str(root), "--list"]):
        r = run_nexara(*argv)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and "corrupted_videos" in err[0] and "refusing" in err[0], err
    mounts.close()
    if how == "symlink":
        os.unlink(root / "corrupted_videos")
    assert digest_tree(root) == before


def test_not_checked_files_are_never_moved_by_default_and_shown_apart(tmp_path):
    """Issue 11.9: timeout / crash / check_failed say nothing about the bytes."""
    from core.dataset import VideoFile
    from core.workers import failure_result

    root = tmp_path / "ds"
    corrupt = make_dataset(root, n=2)
    unchecked = {}
    for reason in ("timeout", "crash", "check_failed"):
        rel = f"train/violent/healthy_{reason}.mp4"
        _put(root, rel, verdict="ok", reasons=(), video=True)
        st = (root / rel).stat()
        with _store(root) as s:  # what the worker pool stores when the check never returns
            s.put_many([failure_result(VideoFile(rel, "train", "violent", st.st_size, st.st_mtime_ns),
                                       "standard", reason, "test", 0.05)])
        unchecked[rel] = reason
    r = run_nexara("quarantine", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    evs = _events(r.stdout)
    plan = next(e for e in evs if e["type"] == "plan")
    assert {d["rel"]: d["reasons"] for d in plan["not_checked"]} == {k: [v] for k, v in unchecked.items()}
    assert sorted(e["rel"] for e in evs if e["type"] == "moved") == sorted(corrupt)
    assert all((root / rel).is_file() for rel in unchecked)
    r = run_nexara("quarantine", str(root), "--dry-run")
    assert "not checked 3 file(s)" in r.stdout and "would move 0 file(s)" in r.stdout, r.stdout
    # Named explicitly they are the user's call: a list moves them.
    lst = tmp_path / "l.txt"
    lst.write_text("train/violent/healthy_timeout.mp4\n")
    r = run_nexara("quarantine", str(root), "--files-from", str(lst), "--yes", "--json")
    assert [e["rel"] for e in _events(r.stdout) if e["type"] == "moved"] == ["train/violent/healthy_timeout.mp4"]


def test_an_empty_root_is_refused_not_read_as_the_current_folder(tmp_path):
    """Issue 11.6: `quarantine '' --yes` moved the files of the current folder."""
    root = tmp_path / "ds"
    make_dataset(root, n=3)
    before = digest_tree(root)
    for argv in (["quarantine", "", "--yes"], ["restore", "", "--all"], ["scan", ""],
                 ["quarantine", "", "--list"]):
        r = run_nexara(*argv, cwd=root)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and "ROOT is empty" in err[0], (argv, err)
    assert digest_tree(root) == before
    assert not (root / "corrupted_videos").exists()


def test_a_root_with_a_newline_is_quoted_on_one_line(tmp_path):
    """Issue 11.12: the error for ROOT `a\\nb` came out on two lines."""
    for root in (tmp_path / "no\nsuch", tmp_path / "a\r\x1b[2Jb"):
        quoted = "'" + str(root).replace("\n", "\\n").replace("\r", "\\r").replace("\x1b", "\\x1b") + "'"
        for argv in (["quarantine", str(root), "--yes"], ["restore", str(root), "--all"],
                     ["scan", str(root)], ["quarantine", str(root), "--list"],
                     ["results", str(root)]):
            r = run_nexara(*argv)
            assert r.returncode == 2, (argv, r.stderr)
            err = r.stderr.rstrip("\n").split("\n")
            assert len(err) == 1 and "\r" not in err[0] and "\x1b" not in err[0], (argv, err)
            assert quoted in err[0], (argv, err)
    made = tmp_path / "real\nfolder"
    made.mkdir()
    r = run_nexara("restore", str(made), "--all")
    assert r.returncode == 2 and len(r.stderr.strip().split("\n")) == 1 and "'" in r.stderr, r.stderr
