"""Ingest: new clips are scanned, corrupt ones and copies refused, the rest moved in, undoable.

Real clips from the demo generator, real copies (re-encoded, byte copies), real
damage; the real CLI in a subprocess for the crash and the no-terminal cases.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.demo import make_damaged, write_clip
from core.dupes import load_prints
from core.journal import Journal
from core.scan import scan
from core.store import ScanStore
from tests.dupes_fixtures import reencode
from tests.helpers_crash import run_nexara

KILLED = -9


def _events(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    write_clip(root / "train/violent/old_a.mp4", "violent", seconds=3, seed=11)
    write_clip(root / "train/violent/fresh.mp4", "violent", seconds=3, seed=12)
    write_clip(root / "test/nonviolent/old_b.mp4", "nonviolent", seconds=3, seed=13)
    list(scan(root, workers=2))
    return root


def _incoming(tmp_path: Path, root: Path) -> Path:
    inc = tmp_path / "incoming"
    reencode(root / "train/violent/old_a.mp4", inc / "reupload_of_old_a.mp4", crf=36)
    write_clip(inc / "fresh.mp4", "violent", seconds=3, seed=21)  # new footage, a taken name
    shutil.copyfile(inc / "fresh.mp4", inc / "fresh_again.mp4")  # a copy within INCOMING
    write_clip(inc / "new_two.mkv", "violent", container="mkv", seconds=3, seed=22)
    make_damaged(inc / "cut_download.mp4", "truncated_faststart", seed=5)
    make_damaged(inc / "error_page.mp4", "html_page", seed=6)
    return inc


def test_ingest_refuses_copies_and_corrupt_clips_adds_the_rest_and_restore_undoes_it(tmp_path, dataset,
                                                                                      capsys):
    root = dataset
    inc = _incoming(tmp_path, root)
    before = {p.name: p.read_bytes() for p in inc.iterdir()}
    assert main(["ingest", str(inc), str(root), "--split", "train", "--class", "violent",
                 "--yes", "--json"]) == 0
    evs = _events(capsys.readouterr().out)
    items = {e["src"]: e for e in evs if e["type"] == "ingest_item"}
    assert items["reupload_of_old_a.mp4"]["status"] == "duplicate"
    assert items["reupload_of_old_a.mp4"]["duplicate_of"] == "ROOT/train/violent/old_a.mp4"
    assert items["fresh_again.mp4"]["status"] == "duplicate"
    assert items["fresh_again.mp4"]["duplicate_of"] == "INCOMING/fresh.mp4"
    assert items["cut_download.mp4"]["status"] == "corrupt" and "truncated" in items["cut_download.mp4"]["reasons"]
    assert items["error_page.mp4"]["status"] == "corrupt" and "not_a_video" in items["error_page.mp4"]["reason"]
    assert items["fresh.mp4"]["dest"] == "train/violent/fresh (2).mp4"  # never over a taken name
    assert items["new_two.mkv"]["dest"] == "train/violent/new_two.mkv"
    summary = evs[-1]
    assert summary["type"] == "ingest_summary"
    assert (summary["added"], summary["rejected_corrupt"], summary["rejected_duplicate"]) == (2, 2, 2)
    # moved in byte for byte; the rejected ones stay where they were
    assert (root / "train/violent/fresh (2).mp4").read_bytes() == before["fresh.mp4"]
    assert (root / "train/violent/fresh.mp4").exists()  # the old one is untouched
    assert sorted(p.name for p in inc.iterdir()) == sorted(
        ["reupload_of_old_a.mp4", "fresh_again.mp4", "cut_download.mp4", "error_page.mp4"])
    # the store knows them (no rescan needed), fingerprints included
    summary_ev = [e for e in scan(root, workers=2) if e["type"] == "summary"][0]
    assert summary_ev["checked"] == 0 and summary_ev["cached"] == 5
    with ScanStore.for_root(root) as store:
        assert {p.rel for p in load_prints(store)} >= {"train/violent/fresh (2).mp4",
                                                       "train/violent/new_two.mkv"}
    # a second ingest of the same folder adds nothing: every clip is now a copy or corrupt
    assert main(["ingest", str(inc), str(root), "--split", "train", "--class", "violent",
                 "--yes", "--json"]) == 0
    assert _events(capsys.readouterr().out)[-1]["added"] == 0
    # undo: the clips go back exactly where they came from
    assert main(["restore", str(root), "--batch", summary["batch"], "--json"]) == 0
    evs = _events(capsys.readouterr().out)
    assert sorted(e["rel"] for e in evs if e["type"] == "moved") == [
        "train/violent/fresh (2).mp4", "train/violent/new_two.mkv"]
    assert {p.name: p.read_bytes() for p in inc.iterdir()} == before
    assert not (root / "train/violent/fresh (2).mp4").exists()
    with ScanStore.for_root(root) as store:
        assert "train/violent/new_two.mkv" not in store.locations()
    view = Journal(root).read()
    assert not view.pending() and not view.bad_lines and not view.in_quarantine()


def test_split_and_class_come_from_the_incoming_layout(tmp_path, dataset, capsys):
    root = dataset
    inc = tmp_path / "redownloaded"
    write_clip(inc / "test/violent/[abc123XYZ_0].mp4", "violent", seconds=3, seed=31)
    write_clip(inc / "val/nonviolent/clip.mp4", "nonviolent", seconds=3, seed=32)
    write_clip(inc / "loose.mp4", "violent", seconds=3, seed=33)  # no split/class: stays
    assert main(["ingest", str(inc), str(root), "--yes", "--json"]) == 0
    evs = _events(capsys.readouterr().out)
    items = {e["src"]: e for e in evs if e["type"] == "ingest_item"}
    assert items["test/violent/[abc123XYZ_0].mp4"]["dest"] == "test/violent/[abc123XYZ_0].mp4"
    assert items["val/nonviolent/clip.mp4"]["dest"] == "val/nonviolent/clip.mp4"
    assert items["loose.mp4"]["status"] == "unplaced"
    assert (root / "test/violent/[abc123XYZ_0].mp4").exists() and (inc / "loose.mp4").exists()
    # issue 19's call: one split/class folder at a time
    write_clip(inc / "test/violent/second.mp4", "violent", seconds=3, seed=34)
    assert main(["ingest", str(inc / "test/violent"), str(root), "--split", "test", "--class",
                 "violent", "--yes", "--json"]) == 0
    assert _events(capsys.readouterr().out)[-1]["added"] == 1
    assert (root / "test/violent/second.mp4").exists()


def test_without_yes_and_without_a_terminal_it_shows_the_plan_and_refuses(tmp_path, dataset):
    root = dataset
    inc = _incoming(tmp_path, root)
    r = run_nexara("ingest", str(inc), str(root), "--split", "train", "--class", "violent", "--json")
    assert r.returncode == 2
    evs = _events(r.stdout)
    assert any(e["type"] == "ingest_plan" and e["counts"]["add"] == 2 for e in evs)
    assert evs[-1]["type"] == "error" and "refusing without --yes" in evs[-1]["message"]
    assert len(list(inc.iterdir())) == 6  # nothing moved
    r = run_nexara("ingest", str(inc), str(root), "--split", "train", "--class", "violent", "--dry-run")
    assert r.returncode == 0 and "would add 2 clip(s)" in r.stdout.replace("\n", " ")


def test_bad_arguments_are_one_line(tmp_path, dataset):
    root = dataset
    r = run_nexara("ingest", str(tmp_path / "nope"), str(root), "--yes")
    assert r.returncode == 2 and "no such directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_nexara("ingest", str(root / "train"), str(root), "--yes")
    assert r.returncode == 2 and "must be separate folders" in r.stderr
    (tmp_path / "inc").mkdir()
    r = run_nexara("ingest", str(tmp_path / "inc"), str(root), "--split", "../x", "--yes")
    assert r.returncode == 2 and "--split" in r.stderr


@pytest.mark.parametrize("point", ["after_intent:2", "after_move:2"])
def test_a_killed_ingest_is_recovered_and_still_undoable(tmp_path, dataset, point):
    root = dataset
    inc = _incoming(tmp_path, root)
    r = run_nexara("ingest", str(inc), str(root), "--split", "train", "--class", "violent", "--yes",
                   "--json", crash_at=point, timeout=120)
    assert r.returncode == KILLED, (r.returncode, r.stderr)
    # any journal command recovers first, by where the bytes are
    r = run_nexara("quarantine", str(root), "--list", "--json")
    assert r.returncode == 0, r.stderr
    recovered = {e["rel"]: e["action"] for e in _events(r.stdout) if e["type"] == "recovered"}
    # after_intent:2 — the first clip moved, the second not; after_move:2 — both moved, no done
    assert recovered == {"train/violent/fresh (2).mp4": "finished",
                         "train/violent/new_two.mkv": "rolled_back" if point == "after_intent:2"
                         else "finished"}
    view = Journal(root).read()
    assert not view.pending()
    # each clip is in exactly one place
    assert (root / "train/violent/fresh (2).mp4").exists() != (inc / "fresh.mp4").exists()
    assert (root / "train/violent/new_two.mkv").exists() != (inc / "new_two.mkv").exists()
    r = run_nexara("restore", str(root), "--batch", "last", "--json")
    assert r.returncode == 0, r.stderr
    assert (inc / "fresh.mp4").exists() and (inc / "new_two.mkv").exists()
