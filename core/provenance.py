"""Where each clip came from: the URL to fetch it again when its bytes are lost.

Scraped clips usually carry their source with them, and the scan records it so
that `nexara redownload` can name *which* clips to fetch, not just how many.
Three sources, strongest first:

1. a yt-dlp sidecar `<stem>.info.json` next to the clip (`--write-info-json`):
   `webpage_url`, `extractor`, `id`, `duration` — exact, any site;
2. a user manifest (`nexara scan --sources manifest.csv`, columns `path,url`,
   paths relative to ROOT or absolute) — exact, any pipeline;
3. an id in the file name in yt-dlp's default template `%(title)s [%(id)s].%(ext)s`.
   Only YouTube-style ids are accepted: exactly 11 characters of the URL-safe
   base64 alphabet after " [" at the very end of the name, whose last character
   is one of the 16 a 64-bit id can end in (`[AEIMQUYcgkosw048]`). Other sites'
   ids (Reddit's 6-7 character base36 post ids, Vimeo's numbers) are too short
   or too common to tell from an ordinary bracketed tag like "[720p]" or
   "[part2]", and a wrong guess would send the user to download a stranger's
   video, so for them the sidecar or a manifest is needed. The URL is built late
   (`redownload --id-url`), so the store holds the id, not a guess at a URL.

Reading is cheap: one `os.scandir` per folder that holds clips (no stat per
clip), and a sidecar is parsed only when it is new or changed. Sidecars are
capped at 4 MiB (yt-dlp's are a few hundred KiB at most) and a malformed one is
reported and skipped, never fatal.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from core.dataset import VideoFile
from core.errors import NexaraError
from core.store import key_rel, rel_key

SIDECAR_SUFFIX = ".info.json"
MAX_SIDECAR_BYTES = 4 << 20
MAX_MANIFEST_BYTES = 256 << 20
DEFAULT_ID_URL = "https://www.youtube.com/watch?v={id}"

INFO_JSON, MANIFEST, NAME = "info_json", "manifest", "name"

# " [<11 URL-safe base64 chars>]" at the end of the stem; the last char carries 2 bits only.
_YT_ID = re.compile(r" \[([A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])\]$")


@dataclass(frozen=True)
class Source:
    """One clip's origin. `url` is None for a name-only id (built by `url_for`)."""

    how: str  # INFO_JSON | MANIFEST | NAME
    url: str | None = None
    id: str | None = None
    extractor: str | None = None
    duration: float | None = None

    def url_for(self, id_url: str = DEFAULT_ID_URL) -> str | None:
        if self.url:
            return self.url
        if self.id:
            return id_url.replace("{id}", self.id)
        return None

    @property
    def key(self) -> str | None:
        """What two copies of one source share: `extractor:id` when known, else the URL."""
        if self.id:
            return f"{(self.extractor or 'youtube').lower()}:{self.id}"
        return self.url


def id_from_name(name: str) -> str | None:
    """The YouTube-style id at the end of a yt-dlp default file name, else None.

    "Title [id].mp4", and "Title [id].f137.mp4" (a format yt-dlp left unmerged).
    """
    if " [" not in name:  # the common case, at 20,000 names per rescan
        return None
    stem = os.path.splitext(name)[0]
    for candidate in (stem, os.path.splitext(stem)[0]):
        m = _YT_ID.search(candidate)
        if m:
            return m.group(1)
    return None


def sidecar_name(video_name: str) -> str:
    return os.path.splitext(video_name)[0] + SIDECAR_SUFFIX


def read_sidecar(path: Path) -> Source:
    """The source a yt-dlp `.info.json` records; NexaraError naming the file if it cannot."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_SIDECAR_BYTES:
        raise NexaraError(f"{path}: larger than {MAX_SIDECAR_BYTES >> 20} MiB, not a yt-dlp info file")
    try:
        info = json.loads(data)
    except ValueError as exc:
        raise NexaraError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise NexaraError(f"{path}: expected a JSON object")
    url = info.get("webpage_url") or info.get("original_url") or info.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise NexaraError(f"{path}: no http(s) webpage_url")
    vid = info.get("id")
    ext = info.get("extractor_key") or info.get("extractor")
    dur = info.get("duration")
    return Source(
        INFO_JSON, url=url, id=str(vid) if isinstance(vid, (str, int)) else None,
        extractor=str(ext).lower() if isinstance(ext, str) else None,
        duration=float(dur) if isinstance(dur, (int, float)) and not isinstance(dur, bool) else None,
    )


def read_manifest(path: Path | str, root: Path) -> dict[str, str]:
    """rel → url from a `path,url` CSV (a header row is optional); one-line errors."""
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read the sources manifest ({exc.strerror or exc})") from exc
    if size > MAX_MANIFEST_BYTES:
        raise NexaraError(f"{path}: sources manifest larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    root = Path(root).resolve()
    out: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            for n, row in enumerate(csv.reader(fh), 1):
                if not row or all(not c.strip() for c in row):
                    continue
                if n == 1 and [c.strip().lower() for c in row[:2]] == ["path", "url"]:
                    continue
                if len(row) < 2:
                    raise NexaraError(f"{path}:{n}: expected two columns path,url")
                rel, url = row[0].strip(), row[1].strip()
                if not url.startswith(("http://", "https://")):
                    raise NexaraError(f"{path}:{n}: not an http(s) URL: {url[:80]!r}")
                p = Path(rel)
                if p.is_absolute():
                    try:
                        rel = p.resolve().relative_to(root).as_posix()
                    except ValueError:
                        raise NexaraError(f"{path}:{n}: {rel} is not inside {root}") from None
                out[Path(rel).as_posix()] = url
    except (OSError, csv.Error, UnicodeError) as exc:
        raise NexaraError(f"{path}: cannot read the sources manifest ({exc})") from exc
    return out


def discover_sources(
    root: Path, videos: Iterable[VideoFile], manifest: dict[str, str] | None = None,
    known: dict[str, tuple[int, Source]] | None = None,
) -> tuple[dict[str, tuple[int, Source]], list[str]]:
    """rel → (sidecar mtime_ns or 0, Source) for every clip whose source can be found.

    `known` is what the store already holds: a sidecar whose mtime did not change
    is not parsed again, and a manifest's row stays until a sidecar (or another
    manifest row) replaces it — the manifest is given to one scan, not to every one. Returns the sources and one-line notes about sidecars
    that could not be read.
    """
    known = known or {}
    manifest = manifest or {}
    by_dir: dict[str, list[VideoFile]] = {}
    for v in videos:
        by_dir.setdefault(os.path.dirname(v.rel), []).append(v)
    out: dict[str, tuple[int, Source]] = {}
    notes: list[str] = []
    for d, vids in by_dir.items():
        folder = os.path.join(root, d)
        try:
            sidecars = {e.name: e for e in os.scandir(folder) if e.name.endswith(SIDECAR_SUFFIX)}
        except OSError:
            sidecars = {}
        for v in vids:
            name = os.path.basename(v.rel)
            e = sidecars.get(sidecar_name(name)) if sidecars else None
            if e is not None:
                try:
                    mtime = e.stat().st_mtime_ns
                except OSError:
                    mtime = -1
                prev = known.get(v.rel)
                if prev is not None and prev[0] == mtime and prev[1].how == INFO_JSON:
                    out[v.rel] = prev
                    continue
                try:
                    out[v.rel] = (mtime, read_sidecar(Path(e.path)))
                    continue
                except NexaraError as exc:
                    notes.append(f"source: {exc}")
            if v.rel in manifest:
                out[v.rel] = (0, Source(MANIFEST, url=manifest[v.rel], id=id_from_name(name)))
                continue
            prev = known.get(v.rel)
            if prev is not None and prev[1].how == MANIFEST:
                out[v.rel] = prev  # a manifest is handed in once: a later scan without it keeps its rows
                continue
            vid = id_from_name(name)
            if vid:
                out[v.rel] = (0, Source(NAME, id=vid, extractor="youtube"))
    return out, notes


# -- the store's `sources` table --------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    rel TEXT PRIMARY KEY,
    how TEXT NOT NULL,
    url TEXT,
    vid TEXT,
    extractor TEXT,
    duration REAL,
    sidecar_mtime_ns INTEGER NOT NULL DEFAULT 0
);
"""


class SourcesTable:
    """Provenance rows in the dataset's scan store (same SQLite file, own table).

    Rows are keyed by the clip's path relative to ROOT and survive a quarantine
    (the clip keeps its row there too), which is when they are needed.
    """

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._db.executescript(_SCHEMA)

    def all(self) -> dict[str, tuple[int, Source]]:
        return {
            key_rel(rel): (mt or 0, Source(how, url, vid, ext, dur))
            for rel, how, url, vid, ext, dur, mt in self._db.execute(
                "SELECT rel, how, url, vid, extractor, duration, sidecar_mtime_ns FROM sources")
        }

    def get(self, rel: str) -> Source | None:
        row = self._db.execute(
            "SELECT how, url, vid, extractor, duration FROM sources WHERE rel=?", (rel_key(rel),)
        ).fetchone()
        return Source(*row) if row else None

    def replace_for(self, rels: Iterable[str], found: dict[str, tuple[int, Source]]) -> None:
        """Set the rows of `rels` to what `found` says (a clip whose source vanished loses its row)."""
        rels = list(rels)
        with self._db:
            self._db.executemany("DELETE FROM sources WHERE rel=?",
                                 [(rel_key(r),) for r in rels if r not in found])
            self._db.executemany(
                "INSERT INTO sources(rel, how, url, vid, extractor, duration, sidecar_mtime_ns)"
                " VALUES(?,?,?,?,?,?,?) ON CONFLICT(rel) DO UPDATE SET how=excluded.how,"
                " url=excluded.url, vid=excluded.vid, extractor=excluded.extractor,"
                " duration=excluded.duration, sidecar_mtime_ns=excluded.sidecar_mtime_ns",
                [(rel_key(r), s.how, s.url, s.id, s.extractor, s.duration, mt)
                 for r, (mt, s) in found.items()],
            )

    def rename(self, old: str, new: str) -> None:
        with self._db:
            self._db.execute("UPDATE OR REPLACE sources SET rel=? WHERE rel=?", (rel_key(new), rel_key(old)))


def iter_dicts(sources: dict[str, Source]) -> Iterator[dict[str, object]]:
    for rel, s in sorted(sources.items()):
        yield {"path": rel, **asdict(s)}

