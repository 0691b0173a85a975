"""Which paths the quarantine may touch: ROOT-relative names, resolved and checked.

Paths from the journal, the store or `--files-from` are checked lexically (no
absolute paths, no `..`, nothing inside `corrupted_videos/`, none of our own
temporary names) and by resolution (their directory must resolve inside ROOT,
and quarantine paths inside ROOT/corrupted_videos); anything else is refused
with a one-line error. The quarantine folder itself must be a real folder
directly in ROOT: a symlink (or bind mount) pointing into the dataset would
"quarantine" clips into another split, where the next scan finds them again.

Names are `str` as `os.fsdecode` gives them (a byte that is not UTF-8 is a lone
surrogate), so `os.fsencode(name)` is always the name on disk, whatever it holds.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from core.dataset import QUARANTINE_DIR, DatasetError, check_root
from core.errors import NexaraError
from core.userpaths import shown

PARTIAL_SUFFIX = ".nexara-partial"


def check_rel(rel: object, where: str) -> str:
    """A dataset-relative POSIX path, or a one-line NexaraError naming `where`."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise NexaraError(f"{where}: empty or invalid path {rel!r}; refusing")
    if rel.startswith("/") or os.path.isabs(rel):
        raise NexaraError(f"{where}: absolute path {shown(rel)}; only paths relative to ROOT are allowed, refusing")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise NexaraError(f"{where}: path {shown(rel)} has '..', '.' or empty parts; refusing")
    if parts[0] == QUARANTINE_DIR:
        raise NexaraError(f"{where}: path {shown(rel)} is inside {QUARANTINE_DIR}/; refusing")
    if rel.endswith(PARTIAL_SUFFIX):
        raise NexaraError(f"{where}: path {shown(rel)} is a nexara temporary name; refusing")
    return rel


def within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def resolve_root(root: str | Path) -> Path:
    """ROOT resolved, or a one-line NexaraError; '' is refused (it would mean the current folder)."""
    if isinstance(root, str) and not root:
        raise NexaraError("ROOT is empty ('' would mean the current folder); name the dataset folder")
    try:
        return check_root(Path(root))
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc


def check_quarantine_dir(root: Path) -> str:
    """ROOT/corrupted_videos as a path, refusing one that is not a real folder of ROOT's own.

    A symlink is refused whatever it points at; so is a folder that is the same
    directory as one of the dataset's split or class folders (a bind mount).
    """
    qdir = os.path.join(str(root), QUARANTINE_DIR)
    try:
        st = os.lstat(qdir)
    except FileNotFoundError:
        return qdir
    except OSError as exc:
        raise NexaraError(f"{shown(qdir)}: cannot look at the quarantine folder: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(qdir)
        raise NexaraError(f"{shown(qdir)}: is a symlink (to {shown(target)}); the quarantine must be a real "
                          "folder in ROOT, outside the dataset's split folders; refusing")
    if not stat.S_ISDIR(st.st_mode):
        raise NexaraError(f"{shown(qdir)}: exists and is not a folder; refusing")
    if os.path.realpath(qdir) != os.path.join(os.path.realpath(root), QUARANTINE_DIR):
        raise NexaraError(f"{shown(qdir)}: resolves to {shown(os.path.realpath(qdir))}, not a folder of ROOT; refusing")
    key = (st.st_dev, st.st_ino)
    for d in _split_dirs(str(root)):
        with contextlib.suppress(OSError):
            dst = os.stat(d)
            if (dst.st_dev, dst.st_ino) == key:
                raise NexaraError(f"{shown(qdir)}: is the same folder as {shown(d)} (a bind mount?); the "
                                  "quarantine must lie outside the dataset's split folders; refusing")
    return qdir


def _split_dirs(root: str) -> Iterable[str]:
    """ROOT's folders two levels deep (splits and classes), not the quarantine itself."""
    with contextlib.suppress(OSError), os.scandir(root) as it:
        top = [e.path for e in it if e.name != QUARANTINE_DIR and e.is_dir()]
        for d in top:
            yield d
            with contextlib.suppress(OSError), os.scandir(d) as sub:
                yield from (e.path for e in sub if e.is_dir())


class Resolver:
    """Resolves paths inside ROOT, caching the realpath of each directory."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.root_real = os.path.realpath(root)
        self.qdir = check_quarantine_dir(root)
        self.qdir_real = os.path.realpath(self.qdir)
        if not within(self.qdir_real, self.root_real):
            raise NexaraError(f"{shown(self.qdir)}: resolves to {shown(self.qdir_real)}, outside ROOT; refusing")
        self._dirs: dict[str, str] = {}
        self._qdirs: dict[str, str] = {}

    def _dir(self, base: str, reldir: str, cache: dict[str, str], inside: str, where: str,
             rel: str) -> str:
        """The resolved directory of base/reldir, checked once per directory and cached."""
        d = cache.get(reldir)
        if d is None:
            d = os.path.realpath(os.path.join(base, reldir) if reldir else base)
            bad = not within(d, inside) or (inside == self.root_real and within(d, self.qdir_real))
            if bad:
                what = rel if base == self.root else f"{QUARANTINE_DIR}/{rel}"
                place = "the dataset" if base == self.root else "the quarantine"
                raise NexaraError(f"{where}: {shown(what)} resolves to {shown(d)}, outside {place}; refusing")
            cache[reldir] = d
        return d

    def src_dir(self, rel: str, where: str) -> tuple[str, str]:
        """(dir, path) of ROOT/rel; the dir must resolve inside ROOT and not in the quarantine."""
        reldir, _, name = rel.rpartition("/")
        d = self._dir(self.root, reldir, self._dirs, self.root_real, where, rel)
        return d, d + os.sep + name

    def q_dir(self, rel: str, where: str) -> tuple[str, str]:
        """(dir, path) of ROOT/corrupted_videos/rel; the dir must resolve inside the quarantine."""
        reldir, _, name = rel.rpartition("/")
        d = self._dir(self.qdir, reldir, self._qdirs, self.qdir_real, where, rel)
        return d, d + os.sep + name

    def src(self, rel: str, where: str) -> str:
        return self.src_dir(rel, where)[1]

    def qpath(self, rel: str, where: str) -> str:
        return self.q_dir(rel, where)[1]


def check_incoming(incoming: object, res: Resolver, where: str) -> str:
    """The INCOMING folder an ingest batch names (`core.ingest`), or a one-line NexaraError.

    It must be an absolute, normalised path, not `/`, and apart from ROOT: neither
    inside it nor holding it (lexically and resolved), or a move "out to INCOMING"
    could land in the dataset and a move "in" could take a file from it.
    """
    if (not isinstance(incoming, str) or not incoming or "\x00" in incoming or not os.path.isabs(incoming)
            or os.path.normpath(incoming) != incoming or os.path.dirname(incoming) == incoming):
        raise NexaraError(f"{where}: INCOMING {shown(str(incoming))} is not an absolute, normalised folder; "
                          "refusing")
    real = os.path.realpath(incoming)
    for a in {incoming, real}:
        for b in {res.root, res.root_real}:
            if within(a, b) or within(b, a):
                raise NexaraError(f"{where}: INCOMING {shown(incoming)} and ROOT {shown(res.root)} overlap; "
                                  "refusing")
    return incoming


def incoming_path(path: object, incoming: str, res: Resolver, where: str) -> str:
    """A path inside the INCOMING folder an ingest entry names, checked like a dataset path.

    `INCOMING/<rel>` with `rel` a plain relative path (no `..`, no empty parts, not a
    temporary name), whose folder resolves inside INCOMING (a symlinked subfolder
    pointing elsewhere is refused). Nothing outside ROOT but this folder is ever touched.
    """
    check_incoming(incoming, res, where)
    prefix = incoming.rstrip(os.sep) + os.sep
    if not isinstance(path, str) or not path.startswith(prefix):
        raise NexaraError(f"{where}: {shown(str(path))} is not inside INCOMING {shown(incoming)}; refusing")
    rel = check_rel(path[len(prefix):], where)
    d = os.path.realpath(os.path.dirname(path))
    if not within(d, os.path.realpath(incoming)) or within(d, res.root_real):
        raise NexaraError(f"{where}: {shown(path)} resolves to {shown(d)}, outside INCOMING {shown(incoming)}; "
                          "refusing")
    return d + os.sep + rel.rpartition("/")[2]


def read_files_from(path: str | Path, root: str | Path) -> list[str]:
    """Dataset-relative paths from a list file; escapes are refused.

    Two forms: one path per line (edge whitespace stripped, `#` starts a comment) for
    people, and NUL-terminated paths taken verbatim (`find -print0` style) for
    programs, so a name with a newline, a carriage return or edge spaces — which
    scraped datasets have — can be listed too. A file containing a NUL byte is read
    in the second form. The file is read as bytes and every name decoded with
    `os.fsdecode`: text mode would turn a `\\r` inside a name into `\\n` and so name
    a different file, and a name that is not UTF-8 must still be that name.
    """
    root_p = resolve_root(root)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise NexaraError(f"{shown(str(path))}: cannot read file list: {exc.strerror or exc}") from exc
    where_path = shown(str(path))
    if b"\0" in data:
        entries = [(f"{where_path} entry {n}", os.fsdecode(e))
                   for n, e in enumerate(data.split(b"\0"), start=1) if e]
    else:
        entries = []
        for n, raw in enumerate(data.split(b"\n"), start=1):
            ln = raw.strip()
            if ln and not ln.startswith(b"#"):
                entries.append((f"{where_path} line {n}", os.fsdecode(ln)))
    out = []
    for where, line in entries:
        if os.path.isabs(line):
            real = os.path.realpath(line)
            if not within(real, str(root_p)) and not within(line, str(root_p)):
                raise NexaraError(f"{where}: {shown(line)} is outside {shown(str(root_p))}; refusing")
            base = str(root_p) if within(line, str(root_p)) else os.path.realpath(root_p)
            line = os.path.relpath(line, base).replace(os.sep, "/")
        out.append(check_rel(line, where))
    return out


def check_writable(dirs: Iterable[str]) -> None:
    """One clear error before anything moves if the dataset (or part of it) is read-only."""
    for d in sorted(set(dirs)):
        if not os.path.isdir(d):
            continue
        ro = False
        with contextlib.suppress(OSError):
            ro = bool(os.statvfs(d).f_flag & os.ST_RDONLY)
        if ro or not os.access(d, os.W_OK | os.X_OK):
            why = "read-only file system" if ro else "permission denied"
            raise NexaraError(f"{shown(d)}: not writable ({why}); nothing was moved")
