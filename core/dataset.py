"""Finding the clips in a dataset and naming their split and class.

The seed's layout is `ROOT/{train,val,test}/{violent,nonviolent}/clip.mp4`.
Real folders drift from it, so discovery never refuses a folder: a flat folder
of videos is one split, class folders without split folders are one split, and
whatever did not fit the expected shape is reported as a layout note.
Discovery walks with `os.scandir` (one stat per entry, no per-file syscalls
beyond that) and detects loops by (device, inode). A directory symlink that
leads out of ROOT is not followed unless asked (`follow_symlinks`): a link to
`/` must not turn a dataset scan into a scan of the machine; it is listed as
skipped. File symlinks are followed (datasets built from a shared pool of clips
are common); what the link points at is what gets checked.

Files are recognised by content, not by name alone: a known video extension is
taken at its word (no extra read), a file with any other name is probed by its
first bytes (`sniff`), which costs one small read for those files only. So a
`.vob`, `.asf` or a file without an extension that FFmpeg decodes is scanned,
and what is not a video (text, an image, audio) is listed as skipped with why.
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
        ".asf", ".vob", ".rm", ".rmvb", ".ogg", ".ogm", ".m1v", ".m2v", ".mpv", ".swf", ".f4v",
        ".divx", ".xvid", ".dv", ".nut", ".y4m", ".qt", ".mk3d", ".m2p", ".ps", ".evo", ".wtv",
        ".264", ".265", ".avc", ".ivf", ".obu",
    }
)
# Names that are certainly not video: skipped without a read.
NON_VIDEO_EXTENSIONS = {
    **dict.fromkeys((".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".yaml", ".yml", ".toml",
                     ".ini", ".log", ".html", ".htm", ".py", ".sh", ".pdf", ".nfo", ".srt", ".vtt",
                     ".ass", ".sub", ".idx"), "text or document"),
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".svg"), "an image"),
    **dict.fromkeys((".mp3", ".wav", ".flac", ".aac", ".m4a", ".opus", ".wma"), "audio"),
    **dict.fromkeys((".zip", ".tar", ".gz", ".7z", ".rar", ".npy", ".npz", ".pkl", ".keras", ".h5", ".pt",
                     ".db", ".sqlite"), "an archive or data file"),
}
SNIFF_BYTES = 64

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


def sniff(head: bytes) -> str | None:
    """The container family the first bytes announce, or None when they announce no video container.

    Only families that can hold video; FFmpeg then decides what is really there
    (an Ogg or MP4 holding audio alone gets `no_video_stream` from the check).
    """
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4/mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska/webm"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf/wmv"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "mpeg program/elementary stream"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "mpeg-ts"
    if head.startswith(b".RMF"):
        return "realmedia"
    if head[:3] in (b"FWS", b"CWS", b"ZWS"):
        return "swf"
    if head.startswith((b"YUV4MPEG2", b"nut/multimedia container", b"DKIF")):
        return "raw video"
    if head.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) and len(head) > 4:
        return "h264/hevc elementary stream"
    return None


def _sniff_file(path: str) -> tuple[bool, str]:
    """(is a video container, why not) for a file whose name says nothing."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(SNIFF_BYTES, 189))
    except OSError as exc:
        return False, f"cannot read: {exc.strerror or exc}"
    if not head:
        return False, "empty file with no video name"
    if sniff(head):
        return True, ""
    if head.lstrip().startswith((b"{", b"[", b"<", b"#")) or all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return False, "not a video (text)"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")):
        return False, "not a video (an image)"
    return False, "not a video (no media container header)"


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


def discover(root: Path, follow_symlinks: bool = False) -> Listing:
    """List every video under ROOT except the quarantine, with split and class.

    `follow_symlinks=False` (the default) stays inside ROOT: a directory
    symlink whose target lies outside it is skipped and listed.
    """
    root = check_root(root)
    listing = Listing(root=root)
    seen_dirs: set[tuple[int, int]] = set()
    st = root.stat()
    seen_dirs.add((st.st_dev, st.st_ino))
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    # Symlinked directories wait until the real tree is walked, so a link to a
    # folder inside ROOT never takes the place of the folder itself.
    deferred: list[tuple[Path, tuple[str, ...], tuple[int, int]]] = []
    while stack or deferred:
        if not stack:
            path, parts, key = deferred.pop(0)
            if key in seen_dirs:
                listing.skipped.append(Skipped(_join(parts), "symlink loop (directory already visited)"))
                continue
            seen_dirs.add(key)
            stack.append((path, parts))
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
                if not follow_symlinks and entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([target, str(root)]) != str(root):
                        listing.skipped.append(Skipped(
                            rel, f"directory symlink out of ROOT (to {target}); --follow-symlinks to scan it"))
                        continue
                key = (est.st_dev, est.st_ino)
                if entry.is_symlink() and key not in seen_dirs:
                    deferred.append((Path(entry.path), parts, key))
                    continue
                if key in seen_dirs:
                    listing.skipped.append(Skipped(rel, "symlink loop (directory already visited)"))
                    continue
                seen_dirs.add(key)
                subdirs.append((Path(entry.path), parts))
            elif stat.S_ISREG(est.st_mode):
                if not is_video_name(entry.name):
                    if entry.name.startswith("."):
                        continue  # .DS_Store, .nexara-demo and friends: hidden, never clips
                    ext = os.path.splitext(entry.name)[1].lower()
                    known = NON_VIDEO_EXTENSIONS.get(ext)
                    if known:
                        listing.skipped.append(Skipped(rel, f"not a video ({known}, by name)"))
                        continue
                    ok, why = _sniff_file(entry.path)
                    if not ok:
                        listing.skipped.append(Skipped(rel, why))
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
