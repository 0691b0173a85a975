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
        ("ground_truth.json", "not a video (text or document, by name)"),
        ("train/violent/notes.txt", "not a video (text or document, by name)"),
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


def test_directory_symlinks_out_of_root_are_skipped_unless_asked(tmp_path: Path) -> None:
    """Issue 11 #13: a symlink to / walked the whole machine. By default the walk stays in ROOT."""
    outside = tmp_path / "elsewhere"
    _touch(outside / "deep" / "far.mp4")
    root = tmp_path / "ds"
    _touch(root / "train" / "violent" / "a.mp4")
    os.symlink(outside, root / "train" / "violent" / "pool")
    os.symlink(root / "train" / "violent", root / "zz_inside")  # a link within ROOT stays allowed
    listing = discover(root)
    assert [v.rel for v in listing.videos] == ["train/violent/a.mp4"]
    reasons = {s.rel: s.reason for s in listing.skipped}
    assert reasons["train/violent/pool"].startswith("directory symlink out of ROOT")
    assert str(outside) in reasons["train/violent/pool"] and "--follow-symlinks" in reasons["train/violent/pool"]
    assert reasons["zz_inside"].startswith("symlink loop")  # within ROOT: followed, and already visited
    followed = discover(root, follow_symlinks=True)
    assert [v.rel for v in followed.videos] == ["train/violent/a.mp4", "train/violent/pool/deep/far.mp4"]


def test_files_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    """Issue 10: .vob/.asf/.ogg are videos FFmpeg decodes; a name without a video extension is probed."""
    from core.demo import write_clip

    root = tmp_path / "ds"
    clip = write_clip(tmp_path / "src.mp4", seconds=0.5)
    for name in ("a.vob", "b.asf", "c.ogg", "d.m1v", "e.rm", "f.swf"):
        _touch(root / "train" / "violent" / name, b"x")  # by name: scanned (and judged by the check)
    _touch(root / "train" / "violent" / "no_extension", clip.read_bytes())
    _touch(root / "train" / "violent" / "clip.download", clip.read_bytes())
    _touch(root / "train" / "violent" / "labels.dat", b"violent,1\nnonviolent,0\n")
    _touch(root / "train" / "violent" / "thumb.bin", b"\x89PNG\r\n\x1a\n" + bytes(60))
    _touch(root / "train" / "violent" / "blob.bin", bytes(range(256)))
    _touch(root / "train" / "violent" / "cover.jpg", b"\xff\xd8\xff")
    listing = discover(root)
    names = {v.rel.rsplit("/", 1)[1] for v in listing.videos}
    assert names == {"a.vob", "b.asf", "c.ogg", "d.m1v", "e.rm", "f.swf", "no_extension", "clip.download"}
    reasons = {s.rel.rsplit("/", 1)[1]: s.reason for s in listing.skipped}
    assert reasons == {
        "labels.dat": "not a video (text)",
        "thumb.bin": "not a video (an image)",
        "blob.bin": "not a video (no media container header)",
        "cover.jpg": "not a video (an image, by name)",
    }
