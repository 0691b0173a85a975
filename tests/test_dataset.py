"""Discovery: layouts real folders drift into, and the awkward entries in them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.dataset import DatasetError, check_root, discover, split_and_class


def _touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_seed_layout_quarantine_and_non_videos(tmp_path: Path) -> None:
    for split in ("train", "val", "test"):
        for cls in ("violent", "nonviolent"):
            _touch(tmp_path / split / cls / f"{cls}_1.MP4")
    _touch(tmp_path / "corrupted_videos" / "train" / "violent" / "bad.mp4")
    _touch(tmp_path / "train" / "violent" / "notes.txt")
    _touch(tmp_path / "ground_truth.json")
    _touch(tmp_path / ".nexara" / "x.mp4")
    listing = discover(tmp_path)
    assert len(listing.videos) == 6
    assert not any(v.rel.startswith(("corrupted_videos", ".nexara")) for v in listing.videos)
    assert listing.splits == ["train", "val", "test"]
    assert listing.classes == ["nonviolent", "violent"]
    assert {(s.rel, s.reason) for s in listing.skipped} == {
        ("ground_truth.json", "not a video by name"),
        ("train/violent/notes.txt", "not a video by name"),
    }
    assert listing.notes == []
    v = next(v for v in listing.videos if v.rel == "val/violent/violent_1.MP4")
    assert (v.split, v.cls, v.size) == ("val", "violent", 1)


def test_flat_folder_is_one_split_with_a_note(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "b.avi")
    listing = discover(tmp_path)
    assert [(v.split, v.cls) for v in listing.videos] == [("all", "unlabeled")] * 2
    assert len(listing.notes) == 1
    assert "expected {train,val,test}/<class>/ folders; found a flat folder" in listing.notes[0]


def test_class_folders_and_split_aliases() -> None:
    assert split_and_class(("violent", "a.mp4")) == ("all", "violent")
    assert split_and_class(("Validation", "nonviolent", "a.mp4")) == ("val", "nonviolent")
    assert split_and_class(("train", "a.mp4")) == ("train", "unlabeled")


def test_missing_split_note(tmp_path: Path) -> None:
    _touch(tmp_path / "train" / "violent" / "a.mp4")
    assert discover(tmp_path).notes == [f"{tmp_path}: split folder(s) missing: val, test"]


def test_symlinks_followed_once_loops_detected(tmp_path: Path) -> None:
    outside = _touch(tmp_path / "elsewhere" / "real.mp4")
    root = tmp_path / "ds"
    _touch(root / "train" / "violent" / "a.mp4")
    os.symlink(outside, root / "train" / "violent" / "linked.mp4")
    os.symlink(root / "train", root / "train" / "violent" / "loop")  # points back up
    os.symlink(root / "nowhere.mp4", root / "train" / "violent" / "dangling.mp4")
    listing = discover(root)
    assert [v.rel for v in listing.videos] == ["train/violent/a.mp4", "train/violent/linked.mp4"]
    reasons = {s.rel: s.reason for s in listing.skipped}
    assert reasons["train/violent/loop"].startswith("symlink loop")
    assert reasons["train/violent/dangling.mp4"] == "broken symlink"


def test_special_files_and_odd_names(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "train" / "violent")
    os.mkfifo(tmp_path / "train" / "violent" / "pipe.mp4")  # would block a reader forever
    _touch(tmp_path / "train" / "violent" / "new\nline ü.mp4", b"")
    listing = discover(tmp_path)
    assert [v.rel for v in listing.videos] == ["train/violent/new\nline ü.mp4"]
    assert listing.videos[0].size == 0
    assert [(s.rel, s.reason) for s in listing.skipped] == [("train/violent/pipe.mp4", "not a regular file")]


def test_bad_roots(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such directory"):
        check_root(tmp_path / "missing")
    f = _touch(tmp_path / "file.mp4")
    with pytest.raises(DatasetError, match="not a directory"):
        check_root(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert discover(empty).notes == [f"{empty}: no video files found"]
