"""The scan results store: one SQLite file per dataset, in the state directory.

Rows are keyed by relative path and validated by size, mtime, level and engine
version, so an unchanged rescan is a single indexed read and a scan killed half
way resumes from whatever it committed. Results are committed in batches (a
kill loses at most one batch). The dataset itself is never written to.
A check that never finished (`timeout`, `crash`, `check_failed`: "not checked",
see `core.summary`) is stored (the report shows it) but never reused: it may have
been the machine's fault (load, memory) or ours, so a rescan retries it.

A store file that is not SQLite (garbage, truncated to nothing useful, a file
copied over it) is moved aside as `<name>.not-sqlite-<time>`, said once on
stderr (and kept in `moved_aside` for commands that report it as an event), and
a new empty store is started: scan results are a cache of what the files say, so
a rescan rebuilds them; the user's data is never touched.

`location` tracks the journaled quarantine: a quarantined file keeps its row
(the verdict is still true of the bytes), marked `quarantine`, so summaries
drop it at once and a restore brings it back without a rescan.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core import ENGINE_VERSION
from core.dataset import VideoFile
from core.errors import NexaraError
from core.paths import store_path_for
from core.records import FileResult, Verdict, level_rank
from core.summary import NOT_CHECKED_REASONS
from core.userpaths import shown

DATASET = "dataset"
QUARANTINE = "quarantine"
# Verdicts about the check rather than the file (`core.workers.failure_result`):
# never served from the store, always checked again.
RETRIED_REASONS = NOT_CHECKED_REASONS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY,
    split TEXT NOT NULL,
    cls TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    level TEXT NOT NULL,
    engine TEXT NOT NULL,
    verdict TEXT NOT NULL,
    result TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT 'dataset',
    scanned_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_location ON files(location);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# SQLite's primary result codes (sqlite3 names them only from Python 3.11).
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

def rel_key(rel: str) -> str | bytes:
    """The `rel` column value. SQLite text must be valid UTF-8, but a file name on
    Linux need not be (os.fsdecode gives lone surrogates): such names are stored
    as their raw bytes (a BLOB in the same column), so they neither crash the scan
    nor collide with anything."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape")


def key_rel(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _not_a_database(exc: sqlite3.DatabaseError) -> bool:
    """SQLITE_NOTADB / SQLITE_CORRUPT: the file is not (or no longer) a database.

    Not an OperationalError ("database is locked", "unable to open"): those say
    nothing against the file, which must then never be moved.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_NOTADB, _SQLITE_CORRUPT)
    return type(exc) is sqlite3.DatabaseError


class ScanStore:
    def __init__(self, path: Path, root: Path | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.moved_aside: Path | None = None  # where a store that was not SQLite went
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _not_a_database(exc):
                raise NexaraError(f"{shown(str(self.path))}: cannot open the scan store: {exc}") from exc
            self.moved_aside = self._move_aside(exc)
            print(f"nexara: {self.notice}", file=sys.stderr, flush=True)
            self._db = self._connect()
        if root is not None:
            self.set_meta("root", str(Path(root).resolve()))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.executescript(_FP_SCHEMA)  # fingerprints (issue 15), below
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, exc: sqlite3.DatabaseError) -> Path:
        """Rename a store that is not SQLite (and its -wal/-shm files) out of the way."""
        aside = self.path.with_name(f"{self.path.name}.not-sqlite-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while aside.exists():
            n += 1
            aside = aside.with_name(f"{aside.name.split('~')[0]}~{n}")
        try:
            os.rename(self.path, aside)
        except OSError as err:
            raise NexaraError(f"{shown(str(self.path))}: the scan store is not a SQLite database ({exc}) "
                              f"and cannot be moved aside: {err.strerror or err}") from err
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.rename(f"{self.path}{suffix}", f"{aside}{suffix}")
        self._why = str(exc)
        return aside

    @property
    def notice(self) -> str:
        """One line saying that the store was moved aside and rebuilt ('' when it was not)."""
        if self.moved_aside is None:
            return ""
        return (f"{shown(str(self.path))}: the scan store was not a SQLite database ({self._why}); "
                f"moved it aside to {shown(str(self.moved_aside))} and started a new one "
                "(rescan to fill it)")

    @classmethod
    def for_root(cls, root: Path) -> ScanStore:
        return cls(store_path_for(root), root=root)

    @staticmethod
    def exists_for(root: Path) -> bool:
        return store_path_for(root).exists()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for tables other modules keep in this file (`core.provenance`)."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------
    def set_meta(self, key: str, value: object) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )
        self._db.commit()

    def get_meta(self, key: str, default: object = None) -> object:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- results ------------------------------------------------------------
    def cached(self, videos: Iterable[VideoFile], level: str) -> dict[str, FileResult]:
        """Results still valid for these files at this level (or a deeper one)."""
        return {rel: FileResult.from_dict(d) for rel, d in self.cached_dicts(videos, level).items()}

    def cached_dicts(self, videos: Iterable[VideoFile], level: str) -> dict[str, dict[str, Any]]:
        """Like `cached`, as the stored `FileResult.to_dict()` form.

        A rescan of a big dataset emits every cached result as an event; the
        stored JSON already is that dict, and rebuilding it with `to_dict()`
        (dataclasses.asdict deep-copies every list) was half of an unchanged
        rescan's time.

        Rows whose check never finished (`RETRIED_REASONS`: a timeout or a
        dead worker) are not reused: those say more about the machine at the
        time (load, memory) than about the file, so the next scan tries again.
        """
        want = level_rank(level)
        rows = {
            key_rel(r[0]): r
            for r in self._db.execute(
                "SELECT rel, size, mtime_ns, level, engine, result, verdict FROM files WHERE location=?",
                (DATASET,),
            )
        }
        out: dict[str, dict[str, Any]] = {}
        for v in videos:
            row = rows.get(v.rel)
            if row is None:
                continue
            _, size, mtime_ns, lvl, engine, result, verdict = row
            if size == v.size and mtime_ns == v.mtime_ns and engine == ENGINE_VERSION and level_rank(lvl) >= want:
                d = json.loads(result)
                if verdict == Verdict.CORRUPT.value and RETRIED_REASONS.intersection(d.get("reasons") or ()):
                    continue
                out[v.rel] = d
        return out

    def put_many(self, results: Iterable[FileResult]) -> None:
        now = time.time()
        self._db.executemany(
            "INSERT INTO files(rel, split, cls, size, mtime_ns, level, engine, verdict, result, location, scanned_at)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(rel) DO UPDATE SET split=excluded.split, cls=excluded.cls, size=excluded.size,"
            " mtime_ns=excluded.mtime_ns, level=excluded.level, engine=excluded.engine,"
            " verdict=excluded.verdict, result=excluded.result, location=excluded.location,"
            " scanned_at=excluded.scanned_at",
            [
                (
                    rel_key(r.path), rel_key(r.split), rel_key(r.cls), r.size, r.mtime_ns, r.level, ENGINE_VERSION,
                    r.verdict.value, json.dumps(r.to_dict()), DATASET, now,
                )
                for r in results
            ],
        )
        self._db.commit()

    def prune(self, present: set[str]) -> int:
        """Forget dataset rows whose files are gone from disk (not quarantined ones)."""
        gone = [
            rel for (rel,) in self._db.execute("SELECT rel FROM files WHERE location=?", (DATASET,))
            if key_rel(rel) not in present
        ]
        self._db.executemany("DELETE FROM files WHERE rel=?", [(r,) for r in gone])
        self._db.commit()
        return len(gone)

    def results(self, location: str = DATASET) -> Iterator[FileResult]:
        for (result,) in self._db.execute(
            "SELECT result FROM files WHERE location=? ORDER BY rel", (location,)
        ):
            yield FileResult.from_dict(json.loads(result))

    def get(self, rel: str) -> tuple[FileResult, str] | None:
        row = self._db.execute("SELECT result, location FROM files WHERE rel=?", (rel_key(rel),)).fetchone()
        return (FileResult.from_dict(json.loads(row[0])), row[1]) if row else None

    def count(self, location: str = DATASET) -> int:
        return self._db.execute("SELECT COUNT(*) FROM files WHERE location=?", (location,)).fetchone()[0]

    def set_location(self, rels: Iterable[str], location: str) -> None:
        self._db.executemany("UPDATE files SET location=? WHERE rel=?", [(location, rel_key(r)) for r in rels])
        self._db.commit()

    def locations(self) -> dict[str, str]:
        """rel → location for every row, without decoding results (quarantine bookkeeping)."""
        return {key_rel(rel): loc for rel, loc in self._db.execute("SELECT rel, location FROM files")}

    def has_results(self) -> bool:
        return self._db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is not None

    # ---------------------------------------------------------------------------------------------
    # Fingerprints (issue 15, core.fingerprint / core.dupes). A separate table, so the files table
    # and its readers are untouched: one row per usable clip, valid while the file's size and mtime
    # match the files row and `version` is core.fingerprint.FP_VERSION. Rows of files that left the
    # store are ignored by the join (and pruned with `prune_fingerprints`).
    # ---------------------------------------------------------------------------------------------

    def put_fingerprints(self, results: Iterable[FileResult]) -> None:
        rows = [
            (rel_key(r.path), r.size, r.mtime_ns, r.fingerprint.version, r.fingerprint.content,
             r.fingerprint.to_blob())
            for r in results if getattr(r, "fingerprint", None) is not None
        ]
        if not rows:
            return
        self._db.executemany(
            "INSERT INTO fingerprints(rel, size, mtime_ns, version, content, frames) VALUES(?,?,?,?,?,?)"
            " ON CONFLICT(rel) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
            " version=excluded.version, content=excluded.content, frames=excluded.frames",
            rows,
        )
        self._db.commit()


    def lacking_fingerprints(self, cached: dict[str, dict[str, Any]]) -> set[str]:
        """Of these cached results, the usable ones without a current fingerprint (to check again)."""
        from core.fingerprint import FP_VERSION

        have = {
            key_rel(rel): (size, mtime)
            for rel, size, mtime in self._db.execute(
                "SELECT rel, size, mtime_ns FROM fingerprints WHERE version=?", (FP_VERSION,))
        }
        return {
            rel for rel, d in cached.items()
            if d.get("verdict") != Verdict.CORRUPT.value
            and have.get(rel) != (d.get("size"), d.get("mtime_ns"))
        }


    def fingerprint_rows(self, location: str = DATASET) -> Iterator[tuple[Any, ...]]:
        """(rel, split, cls, verdict, size, result_json, content, frames_blob) of usable clips there."""
        from core.fingerprint import FP_VERSION

        for row in self._db.execute(
            "SELECT f.rel, f.split, f.cls, f.verdict, f.size, f.result, p.content, p.frames"
            " FROM files f JOIN fingerprints p ON p.rel = f.rel AND p.size = f.size"
            " AND p.mtime_ns = f.mtime_ns AND p.version = ?"
            " WHERE f.location = ? AND f.verdict != ? ORDER BY f.rel",
            (FP_VERSION, location, Verdict.CORRUPT.value),
        ):
            yield (key_rel(row[0]), key_rel(row[1]), key_rel(row[2]), *row[3:])


    def get_fingerprint(self, rel: str) -> tuple[int, str, bytes] | None:
        """(size, content hash, frames blob) of rel's current fingerprint, or None."""
        from core.fingerprint import FP_VERSION

        return self._db.execute(
            "SELECT size, content, frames FROM fingerprints WHERE rel=? AND version=?",
            (rel_key(rel), FP_VERSION)).fetchone()

    def forget(self, rels: Iterable[str]) -> None:
        """Drop the rows (files and fingerprints) of files that left the dataset (an undone ingest)."""
        keys = [(rel_key(r),) for r in rels]
        self._db.executemany("DELETE FROM files WHERE rel=?", keys)
        self._db.executemany("DELETE FROM fingerprints WHERE rel=?", keys)
        self._db.commit()


    def prune_fingerprints(self) -> int:
        cur = self._db.execute("DELETE FROM fingerprints WHERE rel NOT IN (SELECT rel FROM files)")
        self._db.commit()
        return cur.rowcount


# Fingerprint block (issue 15): the table behind the ScanStore methods above.
_FP_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
    rel TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    frames BLOB NOT NULL
);
"""
