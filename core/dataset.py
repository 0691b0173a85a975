"""Finding the clips in a dataset and naming their split and class.

The seed's layout is `ROOT/{train,val,test}/{violent,nonviolent}/clip.mp4`.
Real folders drift from it, so discovery never refuses a folder: a flat folder
of videos is one split, class folders without split folders are one split, and
whatever did not fit the expected shape is reported as a layout note.
Discovery walks with `os.scandir` (one stat per entry, no per-file syscalls
beyond that), follows a symlink once and detects loops by (device, inode).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from core.userpaths import shown

QUARANTINE_DIR = "corrupted_videos"

VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
        ".mts", ".m2ts", ".flv", ".wmv", ".3gp", ".3g2", ".ogv", ".mxf", ".hevc", ".h264",
    }
)

KNOWN_SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"validation": "val", "valid": "val", "training": "train", "testing": "test"}
FLAT_SPLIT = "all"
UNLABELED = "unlabeled"


class DatasetError(Exception):
    """A problem with ROOT itself: the scan cannot start."""


@dataclass(frozen=True)
class VideoFile:
    rel: str  # POSIX path relative to ROOT
    split: str
    cls: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str  # one line, names the problem


@dataclass
class Listing:
    root: Path
    videos: list[VideoFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # layout findings, one line each

    @property
    def splits(self) -> list[str]:
        return sorted({v.split for v in self.videos}, key=_split_key)

    @property
    def classes(self) -> list[str]:
        return sorted({v.cls for v in self.videos})


def _split_key(s: str) -> tuple[int, str]:
    return (KNOWN_SPLITS.index(s) if s in KNOWN_SPLITS else len(KNOWN_SPLITS), s)


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def check_root(root: Path) -> Path:
    """Resolve ROOT or raise a one-line DatasetError saying what is wrong."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{shown(root)}: no such directory")
    if not root.is_dir():
        raise DatasetError(f"{shown(root)}: not a directory")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DatasetError(f"{shown(root)}: permission denied")
    return root.resolve()


def split_and_class(parts: tuple[str, ...]) -> tuple[str, str]:
    """Name the split and class of a file from its directory components."""
    dirs = parts[:-1]
    if not dirs:
        return FLAT_SPLIT, UNLABELED
    first = SPLIT_ALIASES.get(dirs[0].lower(), dirs[0])
    if first in KNOWN_SPLITS:
        return first, (dirs[1] if len(dirs) > 1 else UNLABELED)
    # Class folders without split folders: one split.
    return FLAT_SPLIT, dirs[0]


def discover(root: Path) -> Listing:
    """List every video under ROOT except the quarantine, with split and class."""
    root = check_root(root)
    listing = Listing(root=root)
    seen_dirs: set[tuple[int, int]] = set()
    st = root.stat()
    seen_dirs.add((st.st_dev, st.st_ino))
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        directory, rel_parts = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except PermissionError:
            listing.skipped.append(Skipped(_join(rel_parts) or ".", "directory: permission denied"))
            continue
        except OSError as exc:
            listing.skipped.append(Skipped(_join(rel_parts) or ".", f"directory: {exc.strerror or exc}"))
            continue
        subdirs = []
        for entry in entries:
            parts = (*rel_parts, entry.name)
            rel = _join(parts)
            if not rel_parts and entry.name == QUARANTINE_DIR:
                continue
            if entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                continue  # .nexara, .git and friends are never dataset content
            try:
                est = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                listing.skipped.append(Skipped(rel, "broken symlink"))
                continue
            except OSError as exc:
                listing.skipped.append(Skipped(rel, f"cannot stat: {exc.strerror or exc}"))
                continue
            if stat.S_ISDIR(est.st_mode):
                key = (est.st_dev, est.st_ino)
                if key in seen_dirs:
                    listing.skipped.append(Skipped(rel, "symlink loop (directory already visited)"))
                    continue
                seen_dirs.add(key)
                subdirs.append((Path(entry.path), parts))
            elif stat.S_ISREG(est.st_mode):
                if not is_video_name(entry.name):
                    listing.skipped.append(Skipped(rel, "not a video by name"))
                    continue
                split, cls = split_and_class(parts)
                listing.videos.append(VideoFile(rel, split, cls, est.st_size, est.st_mtime_ns))
            else:
                listing.skipped.append(Skipped(rel, "not a regular file"))
        stack.extend(reversed(subdirs))
    listing.videos.sort(key=lambda v: v.rel)
    listing.notes.extend(_layout_notes(listing))
    return listing


def _join(parts: tuple[str, ...]) -> str:
    return "/".join(parts)


def _layout_notes(listing: Listing) -> list[str]:
    notes = []
    if not listing.videos:
        notes.append(f"{listing.root}: no video files found")
        return notes
    splits = set(listing.splits)
    if splits == {FLAT_SPLIT}:
        notes.append(
            f"{listing.root}: expected {{train,val,test}}/<class>/ folders; "
            f"found {'class folders' if listing.classes != [UNLABELED] else 'a flat folder'}"
            f" — scanning as one split '{FLAT_SPLIT}'"
        )
    else:
        missing = [s for s in KNOWN_SPLITS if s not in splits]
        if missing:
            notes.append(f"{listing.root}: split folder(s) missing: {', '.join(missing)}")
    return notes
