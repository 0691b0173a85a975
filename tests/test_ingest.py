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
    assert not (root / "corrupted_videos").exists()  # a refused command writes nothing
    r = run_nexara("ingest", "", str(root), "--yes")
    assert r.returncode == 2 and "INCOMING is empty" in r.stderr
    # the quarantine folder (where the journal lives) must be ROOT's own: refused before anything
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "corrupted_videos").symlink_to(elsewhere, target_is_directory=True)
    write_clip(tmp_path / "inc" / "new.mp4", "violent", seconds=2, seed=5)
    r = run_nexara("ingest", str(tmp_path / "inc"), str(root), "--split", "train", "--class", "violent", "--yes")
    assert r.returncode == 2 and "is a symlink" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not any(elsewhere.iterdir()) and (tmp_path / "inc" / "new.mp4").exists()


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


# -- sidecars: provenance travels with its clip ---------------------------------------------------


def _with_sidecars(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """INCOMING/<split>/<class>/ as `redownload --run` writes it: clips named "title [id].ext",
    each with its yt-dlp `.info.json`; returns the folder and clip → its sidecar (relative)."""
    inc = tmp_path / "incoming"
    pairs = {}
    for i, (split, cls) in enumerate((("train", "violent"), ("train", "violent"), ("test", "nonviolent"))):
        clip = f"{split}/{cls}/fight {i} [vid{i}AAAAAAA].mp4"
        write_clip(inc / clip, cls, seconds=3, seed=60 + i)
        side = clip.removesuffix(".mp4") + ".info.json"
        (inc / side).write_text(json.dumps({"id": f"vid{i}AAAAAAA", "extractor": "youtube",
                                            "webpage_url": f"https://www.youtube.com/watch?v=vid{i}AAAAAAA"}))
        pairs[clip] = side
    return inc, pairs


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file's bytes (the journal and its space reserve aside: the record of the moves)."""
    own = {"corrupted_videos/journal.jsonl", "corrupted_videos/.nexara-reserve"}
    return {rel: p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (rel := p.relative_to(folder).as_posix()) not in own}


def test_sidecars_move_with_their_clips_under_the_same_new_name_and_come_back(tmp_path, dataset, capsys):
    root = dataset
    inc, pairs = _with_sidecars(tmp_path)
    taken = "train/violent/fight 0 [vid0AAAAAAA].mp4"  # a distinct clip already has this name
    write_clip(root / taken, "violent", seconds=3, seed=99)
    before_inc, before_root = _tree(inc), _tree(root)
    assert main(["ingest", str(inc), str(root), "--yes", "--json"]) == 0
    evs = _events(capsys.readouterr().out)
    items = {e["src"]: e for e in evs if e["type"] == "ingest_item"}
    assert {k: v["sidecar"] for k, v in items.items()} == pairs
    # the name is taken: " (2)" goes before the id, so the id is still the last thing in the name
    assert items[taken]["dest"] == "train/violent/fight 0 (2) [vid0AAAAAAA].mp4"
    for clip, side in pairs.items():
        dest = items[clip]["dest"]
        assert (root / dest).read_bytes() == before_inc[clip]
        assert (root / (dest.removesuffix(".mp4") + ".info.json")).read_bytes() == before_inc[side]
    assert _tree(inc) == {}  # everything moved
    assert evs[-1]["sidecars"] == 3 and evs[-1]["added"] == 3
    # the store knows each clip's source under its new name (the sidecar says where it came from)
    with ScanStore.for_root(root) as store:
        from core.provenance import SourcesTable

        got = SourcesTable(store.db).get(items[taken]["dest"])
    assert got is not None and got.url == "https://www.youtube.com/watch?v=vid0AAAAAAA"
    # a rescan reads the moved sidecars: nothing is checked again, nothing forgotten
    assert [e for e in scan(root, workers=2) if e["type"] == "summary"][0]["checked"] == 0
    assert main(["restore", str(root), "--batch", "last", "--json"]) == 0
    moved = [e["rel"] for e in _events(capsys.readouterr().out) if e["type"] == "moved"]
    assert len(moved) == 6  # three clips and their sidecars
    assert _tree(inc) == before_inc and _tree(root) == before_root
    with ScanStore.for_root(root) as store:
        assert items[taken]["dest"] not in store.locations()
        assert SourcesTable(store.db).get(items[taken]["dest"]) is None


# -- the one rule for `restore --batch last`, and what --all leaves alone ---------------------------


def test_batch_last_is_the_newest_batch_with_something_to_undo_of_either_kind(tmp_path, dataset, capsys):
    root = dataset
    make_damaged(root / "train/violent/broken.mp4", "truncated_faststart", seed=7)
    list(scan(root, workers=2))
    inc = tmp_path / "incoming"
    write_clip(inc / "train/violent/new.mp4", "violent", seconds=3, seed=71)

    def batch_of(argv):
        assert main([*argv, "--json"]) == 0, argv
        return next(e for e in _events(capsys.readouterr().out) if e["type"] == "batch")

    q1 = batch_of(["quarantine", str(root), "--yes"])
    ing = batch_of(["ingest", str(inc), str(root), "--yes"])
    assert (q1["op"], ing["op"]) == ("move", "ingest")
    # restore --all is about the quarantine: the ingested clip stays
    assert batch_of(["restore", str(root), "--all"])["moved"] == 1
    assert (root / "train/violent/new.mp4").exists()
    q2 = batch_of(["quarantine", str(root), "--yes"])  # the newest batch now: a quarantine
    undo = batch_of(["restore", str(root), "--batch", "last"])
    assert undo["op"] == "restore" and (root / "train/violent/broken.mp4").exists(), (q2, undo)
    undo = batch_of(["restore", str(root), "--batch", "last"])  # then the ingest
    assert undo["op"] == "uningest" and (inc / "train/violent/new.mp4").exists()
    assert main(["restore", str(root), "--batch", "last"]) == 2  # nothing left to undo
    assert "nothing is in quarantine" in capsys.readouterr().err


# -- kill -9 anywhere: each clip (and its sidecar) in exactly one place ----------------------------


@pytest.mark.parametrize(("point", "force_copy"), [
    ("after_intent:1", False), ("after_move:1", False), ("after_move:2", False), ("after_move:5", False),
    ("torn_done:1", False), ("mid_copy:1", True), ("before_unlink_src:2", True), ("after_move:3", True),
])
def test_a_killed_ingest_with_sidecars_leaves_each_file_once_and_with_its_clip(tmp_path, dataset, point,
                                                                               force_copy):
    root = dataset
    inc, pairs = _with_sidecars(tmp_path)
    before_inc, before_root = _tree(inc), _tree(root)
    r = run_nexara("ingest", str(inc), str(root), "--yes", "--json", crash_at=point, force_copy=force_copy,
                   timeout=120)
    assert r.returncode == KILLED, (r.returncode, r.stderr[-500:])
    r = run_nexara("quarantine", str(root), "--list", "--json")  # recovery first, as every command
    assert r.returncode == 0, r.stderr
    assert not Journal(root).read().pending()
    dests = {}
    for clip, side in pairs.items():
        here = [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == before_inc[clip]]
        there = (inc / clip).exists()
        assert len(here) + there == 1, (point, clip, here, there)  # exactly one place
        if here:
            dest = here[0].relative_to(root).as_posix()
            dests[clip] = dest
            assert (root / (dest.removesuffix(".mp4") + ".info.json")).read_bytes() == before_inc[side]
            assert not (inc / side).exists()
        else:
            assert (inc / side).read_bytes() == before_inc[side]  # the sidecar stays with its clip
    assert not [p for p in (*root.rglob("*"), *inc.rglob("*")) if p.name.endswith(".nexara-partial")]
    # the undo gives INCOMING back byte for byte (when anything had moved at all)
    r = run_nexara("restore", str(root), "--batch", "last", "--json")
    if dests:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and "nothing is in quarantine" in r.stdout  # (--json: an error event)
    assert _tree(inc) == before_inc and _tree(root) == before_root


# -- a journal whose ingest entries point where they must not: refused, nothing touched ------------


def _forge(root: Path, records: list[dict]) -> None:
    with Journal(root) as j:
        j.append(records)


@pytest.mark.parametrize("forgery", ["outside_incoming", "incoming_in_root", "not_normalised",
                                     "root_in_incoming", "symlink_escape", "two_incomings",
                                     "uningest_elsewhere"])
def test_forged_ingest_entries_are_refused_before_anything_moves(tmp_path, dataset, forgery):
    from core.journal import fast_hash

    root = dataset
    inc = tmp_path / "incoming"
    inc.mkdir()
    elsewhere = tmp_path / "elsewhere"
    victim = elsewhere / "keep.mp4"
    write_clip(victim, "violent", seconds=2, seed=81)
    in_root = "train/violent/old_a.mp4"
    rec = {"batch": "20250101-000000-abcdef", "seq": 1, "op": "ingest", "rel": "train/violent/x.mp4",
           "src": str(inc / "x.mp4"), "dst": "train/violent/x.mp4", "incoming": str(inc),
           "size": victim.stat().st_size, "hash": fast_hash(victim), "verdict": "ok", "reasons": [],
           "time": 0.0, "method": "rename", "state": "intent"}
    records = [rec]
    if forgery == "outside_incoming":
        rec["src"] = str(victim)
    elif forgery == "incoming_in_root":
        rec["incoming"], rec["src"] = str(root / "train"), str(root / "train/violent/old_a.mp4")
    elif forgery == "not_normalised":
        rec["incoming"], rec["src"] = str(inc) + "/../elsewhere", str(inc) + "/../elsewhere/keep.mp4"
    elif forgery == "root_in_incoming":
        rec["incoming"], rec["src"] = str(root.parent), str(root.parent / "elsewhere" / "keep.mp4")
    elif forgery == "symlink_escape":
        (inc / "link").symlink_to(elsewhere, target_is_directory=True)
        rec["src"] = str(inc / "link" / "keep.mp4")
    elif forgery == "two_incomings":
        other = tmp_path / "other"
        other.mkdir()
        records.append({**rec, "seq": 2, "rel": "train/violent/y.mp4", "dst": "train/violent/y.mp4",
                        "src": str(other / "y.mp4"), "incoming": str(other)})
    elif forgery == "uningest_elsewhere":  # a clip of the dataset "moved back" where nothing came from
        rec.update(op="uningest", rel=in_root, src=in_root, dst=str(inc / "old_a.mp4"),
                   size=(root / in_root).stat().st_size, hash=fast_hash(root / in_root))
    before = (_tree(root), _tree(tmp_path / "elsewhere"), _tree(inc))
    _forge(root, records)
    for argv in (["quarantine", str(root), "--list"], ["restore", str(root), "--all"]):
        r = run_nexara(*argv)
        assert r.returncode == 2, (forgery, argv, r.stdout, r.stderr)
        assert "refusing" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert (_tree(root), _tree(tmp_path / "elsewhere"), _tree(inc)) == before


def test_undo_never_overwrites_incoming_and_leaves_a_changed_clip(tmp_path, dataset, capsys):
    root = dataset
    inc = tmp_path / "incoming"
    write_clip(inc / "train/violent/one.mp4", "violent", seconds=3, seed=91)
    write_clip(inc / "train/violent/two.mp4", "violent", seconds=3, seed=92)
    assert main(["ingest", str(inc), str(root), "--yes", "--json"]) == 0
    batch = _events(capsys.readouterr().out)[-1]["batch"]
    (inc / "train/violent/one.mp4").write_bytes(b"a new file where the clip came from")
    with open(root / "train/violent/two.mp4", "ab") as fh:  # changed in the dataset since
        fh.write(b"\0" * 64)
    before = (_tree(root), _tree(inc))
    assert main(["restore", str(root), "--batch", batch]) == 1  # some not moved: exit 1
    out = " ".join(capsys.readouterr().out.split())
    assert "train/violent/one.mp4: a file is at" in out and "not overwriting" in out
    assert "train/violent/two.mp4: is not the clip that was ingested" in out
    assert (_tree(root), _tree(inc)) == before  # nothing moved, nothing overwritten
