"""Plan A, closed loop: which lost clips came from where, fetched again, back in their split.

The seed's recommended plan is to re-download the lost violent clips with the
user's own scrapers. This module turns the scan store into that work list and
runs it: the lost clips (`corrupt` by default, in the dataset or already in the
quarantine), their sources (`core.provenance`), one URL per source, grouped by
the split and class the original held — so the test split is refilled from the
test split's own sources, never from train's — and, on the GPU box, a polite,
resumable yt-dlp run into `INCOMING/<split>/<class>/` that keeps the source id in
every file name. `nexara ingest INCOMING ROOT` then verifies, de-duplicates and
moves the new clips in through the journal.

Every download is recorded in the store's `redownloads` table (URL, split,
class, file, status, error), so the Decide screen can say per class: lost, with
a known source, re-downloaded, back in the dataset. yt-dlp's own download
archive makes a rerun fetch nothing twice; a URL that fails (removed, private,
geo-blocked, 404) is recorded with its one-line error and the run goes on.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import KNOWN_SPLITS
from core.errors import NexaraError
from core.events import event
from core.provenance import DEFAULT_ID_URL, Source, SourcesTable
from core.records import FileResult, Verdict
from core.store import DATASET, QUARANTINE, ScanStore

# Verdicts about the check, not the file: never "lost", never re-downloaded.
NOT_CHECKED = frozenset({"timeout", "crash", "check_failed"})
# A held-out split is refilled first when one source was lost from two splits (a leak):
# its clips are the scarcer and the ones a deployment gate is measured on.
SPLIT_PRIORITY = ("test", "val", "train")
# Video only: the trainer uses pictures, and a single video stream needs no ffmpeg to merge.
DEFAULT_FORMAT = "bv*[height<=720][ext=mp4]/bv*[height<=720]/b[height<=720]/bv*/b"
OUT_TEMPLATE = "%(title).80B [%(id)s].%(ext)s"
STATE_DIR = ".nexara"

OK, ERROR, SKIPPED = "ok", "error", "already"
# The id OUT_TEMPLATE puts in every downloaded name: "... [<id>].<ext>" (ingest keeps it last).
_FILE_ID = re.compile(r" \[([^\[\]]+)\]\.[^.]+$")


@dataclass(frozen=True)
class LostClip:
    rel: str
    split: str
    cls: str
    verdict: str
    location: str  # "dataset" | "quarantine"
    source: Source | None


@dataclass
class Target:
    """One URL to fetch, for the split/class of the lost clip(s) it came from."""

    url: str
    split: str
    cls: str
    rels: list[str] = field(default_factory=list)
    key: str | None = None


@dataclass
class Plan:
    targets: list[Target]
    unknown: list[LostClip]  # lost, and no source known
    lost: Counter[tuple[str, str]]  # (split, cls) -> lost clips
    with_source: Counter[tuple[str, str]]
    shared: list[str]  # URLs lost from more than one split/class (a leak, or a label conflict)

    def urls(self, split: str | None = None, cls: str | None = None) -> list[str]:
        return [t.url for t in self.targets
                if (split is None or t.split == split) and (cls is None or t.cls == cls)]


def lost_clips(store: ScanStore, verdicts: Iterable[str] = ("corrupt",),
               classes: Iterable[str] | None = None, splits: Iterable[str] | None = None) -> list[LostClip]:
    """The clips whose bytes are lost, wherever they sit now (dataset or quarantine)."""
    want = set(verdicts)
    for v in want:
        if v not in {x.value for x in Verdict}:
            raise NexaraError(f"--verdict {v}: expected one of {', '.join(x.value for x in Verdict)}")
    cls_set = set(classes) if classes else None
    split_set = set(splits) if splits else None
    sources = {rel: s for rel, (_, s) in SourcesTable(store.db).all().items()}
    out: list[LostClip] = []
    for location in (DATASET, QUARANTINE):
        for r in store.results(location):
            if not _is_lost(r, want):
                continue
            if cls_set is not None and r.cls not in cls_set:
                continue
            if split_set is not None and r.split not in split_set:
                continue
            out.append(LostClip(r.path, r.split, r.cls, r.verdict.value, location, sources.get(r.path)))
    return out


def _is_lost(r: FileResult, verdicts: set[str]) -> bool:
    return r.verdict.value in verdicts and not NOT_CHECKED.intersection(r.reasons)


def plan(clips: Iterable[LostClip], id_url: str = DEFAULT_ID_URL) -> Plan:
    """One target per distinct source; each in the split/class its lost clip(s) held."""
    by_key: dict[str, list[tuple[LostClip, str]]] = {}
    unknown: list[LostClip] = []
    lost: Counter[tuple[str, str]] = Counter()
    with_source: Counter[tuple[str, str]] = Counter()
    for c in clips:
        lost[(c.split, c.cls)] += 1
        url = c.source.url_for(id_url) if c.source else None
        if not url:
            unknown.append(c)
            continue
        with_source[(c.split, c.cls)] += 1
        by_key.setdefault((c.source.key if c.source else None) or url, []).append((c, url))
    targets: list[Target] = []
    shared: list[str] = []
    for key, items in by_key.items():
        groups = {(c.split, c.cls) for c, _ in items}
        first = min(groups, key=lambda g: (_split_rank(g[0]), g[1]))
        url = next(u for c, u in items if (c.split, c.cls) == first)
        if len(groups) > 1:
            shared.append(url)
        targets.append(Target(url, first[0], first[1],
                              sorted(c.rel for c, _ in items if (c.split, c.cls) == first), key))
    targets.sort(key=lambda t: (_split_rank(t.split), t.cls, t.url))
    unknown.sort(key=lambda c: c.rel)
    return Plan(targets, unknown, lost, with_source, sorted(shared))


def _split_rank(split: str) -> int:
    return SPLIT_PRIORITY.index(split) if split in SPLIT_PRIORITY else len(SPLIT_PRIORITY)


def batch_text(p: Plan) -> str:
    """A yt-dlp batch file (`yt-dlp -a FILE`): one URL per line, `#` comments per group."""
    lines = [f"# nexara redownload: {len(p.targets)} source(s) of lost clips, one per line "
             "(yt-dlp -a this-file); grouped by the split/class to refill"]
    last: tuple[str, str] | None = None
    for t in p.targets:
        if (t.split, t.cls) != last:
            last = (t.split, t.cls)
            lines.append(f"# {t.split}/{t.cls}")
        lines.append(t.url)
    return "\n".join(lines) + "\n"


def unknown_text(p: Plan) -> str:
    lines = ["# lost clips with no known source (no .info.json sidecar, manifest row or [id] in the "
             "name): path<TAB>split/class"]
    lines += [f"{c.rel}\t{c.split}/{c.cls}" for c in p.unknown]
    return "\n".join(lines) + "\n"


# -- where each re-download stands: the store's `redownloads` table --------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS redownloads (
    url TEXT PRIMARY KEY,
    split TEXT NOT NULL,
    cls TEXT NOT NULL,
    status TEXT NOT NULL,
    file TEXT,
    error TEXT,
    at REAL NOT NULL
);
"""


class RedownloadTable:
    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._db.executescript(_SCHEMA)

    def record(self, url: str, split: str, cls: str, status: str, file: str | None,
               error: str | None) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO redownloads(url, split, cls, status, file, error, at) VALUES(?,?,?,?,?,?,?)"
                " ON CONFLICT(url) DO UPDATE SET split=excluded.split, cls=excluded.cls,"
                " status=excluded.status, file=COALESCE(excluded.file, redownloads.file),"
                " error=excluded.error, at=excluded.at",
                (url, split, cls, status, file, error, time.time()),
            )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"url": u, "split": s, "class": c, "status": st, "file": f, "error": e}
            for u, s, c, st, f, e in self._db.execute(
                "SELECT url, split, cls, status, file, error FROM redownloads ORDER BY url")
        ]


def status(store: ScanStore, id_url: str = DEFAULT_ID_URL,
           verdicts: Iterable[str] = ("corrupt",)) -> dict[str, dict[str, int]]:
    """Per class: lost, with a known source, re-downloaded, back in the dataset.

    "Back" means a re-downloaded source is now a usable clip of the dataset, in the
    split/class it was fetched for: a clip whose recorded source (`core.provenance`:
    the `.info.json` ingest moved with it, or the id in its name) is that URL or
    that video id — whatever its name, so a clip `nexara ingest` had to rename
    (" (2)": the name was taken) counts — or, for a clip with no recorded source,
    the file under the very name it was downloaded as. The lost originals never count.
    """
    clips = lost_clips(store, verdicts)
    p = plan(clips, id_url)
    rows = RedownloadTable(store.db).rows()
    lost = {c.rel for c in clips}
    usable = {r.path: r for r in store.results(DATASET) if r.verdict.usable and r.path not in lost}
    known: set[tuple[str, str, str]] = set()  # (split, class, url or "id:<id>") of usable clips
    sources = SourcesTable(store.db).all()
    for rel, (_, src) in sources.items():
        r = usable.get(rel)
        if r is not None:
            known.update((r.split, r.cls, k) for k in (src.url_for(id_url), f"id:{src.id}" if src.id else None)
                         if k)
    out: dict[str, dict[str, int]] = {}

    def slot(cls: str) -> dict[str, int]:
        return out.setdefault(cls, {"lost": 0, "with_source": 0, "redownloaded": 0, "back": 0})

    for (_, cls), n in p.lost.items():
        slot(cls)["lost"] += n
    for (_, cls), n in p.with_source.items():
        slot(cls)["with_source"] += n
    for row in rows:
        if row["status"] in (OK, SKIPPED) and row["file"]:
            s = slot(row["class"])
            s["redownloaded"] += 1
            vid = _FILE_ID.search(row["file"])
            named = f"{row['split']}/{row['class']}/{row['file']}"
            if ((named in usable and named not in sources)
                    or (row["split"], row["class"], row["url"]) in known
                    or (vid is not None and (row["split"], row["class"], f"id:{vid.group(1)}") in known)):
                s["back"] += 1
    return dict(sorted(out.items()))


# -- running yt-dlp -------------------------------------------------------------------------


@dataclass
class RunOptions:
    into: Path
    format: str = DEFAULT_FORMAT
    sleep_s: float = 1.0  # between downloads: polite to the sites
    rate_limit: int | None = None  # bytes/s
    max_downloads: int | None = None
    retries: int = 3
    socket_timeout: float = 30.0


def check_into(into: Path, root: Path) -> Path:
    """INCOMING must be outside ROOT: a scan of ROOT would otherwise take half-downloads for clips."""
    into = Path(into).expanduser().resolve()
    root = Path(root).resolve()
    if into == root or root in into.parents:
        raise NexaraError(f"--into {into}: inside the dataset {root}; pick a folder outside it "
                          f"(e.g. {root.parent / (root.name + '_incoming')})")
    if into.exists() and not into.is_dir():
        raise NexaraError(f"--into {into}: not a directory")
    return into


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _one_line(msg: str) -> str:
    msg = _ANSI.sub("", str(msg)).strip().splitlines()[0] if str(msg).strip() else "download failed"
    return msg.removeprefix("ERROR: ").strip()[:300]


def run(store: ScanStore, p: Plan, opts: RunOptions,
        cancelled: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Download every target with yt-dlp's Python API, yielding an event per URL."""
    try:
        import yt_dlp
    except ImportError as exc:
        raise NexaraError("yt-dlp is not installed here: pip install 'nexara[redownload]'") from exc

    table = RedownloadTable(store.db)
    state = opts.into / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    archive = state / "archive.txt"
    total = len(p.targets) if opts.max_downloads is None else min(len(p.targets), opts.max_downloads)
    counts: Counter[str] = Counter()
    yield event("redownload_start", into=str(opts.into), total=total, archive=str(archive),
                unknown=len(p.unknown))
    t0 = time.monotonic()
    errors: list[str] = []

    class _Log:
        """yt-dlp talks through a logger; keep its last error for the URL at hand."""

        def debug(self, msg: str) -> None:
            pass

        def info(self, msg: str) -> None:
            pass

        def warning(self, msg: str) -> None:
            pass

        def error(self, msg: str) -> None:
            errors.append(_one_line(msg))

    for i, t in enumerate(p.targets[:total], 1):
        if cancelled():
            break
        folder = opts.into / t.split / t.cls
        folder.mkdir(parents=True, exist_ok=True)
        ydl_opts: dict[str, Any] = {
            "outtmpl": {"default": str(folder / OUT_TEMPLATE)},
            "format": opts.format,
            "download_archive": str(archive),
            "writeinfojson": True,  # the sidecar: exact provenance once the clip is back
            "logger": _Log(),
            "quiet": True,
            "noprogress": True,
            "retries": opts.retries,
            "fragment_retries": opts.retries,
            "socket_timeout": opts.socket_timeout,
            "restrictfilenames": False,
            "windowsfilenames": False,
            "noplaylist": True,
        }
        if opts.rate_limit:
            ydl_opts["ratelimit"] = opts.rate_limit
        errors.clear()
        status_, file_, err = ERROR, None, None
        try:
            with yt_dlp.YoutubeDL(ydl_opts) as ydl:
                info = ydl.extract_info(t.url, download=True)
            if info is None:
                err = errors[-1] if errors else "no video found at this URL"
            else:
                downloads = info.get("requested_downloads") or []
                path = downloads[0].get("filepath") if downloads else None
                if path:
                    status_, file_ = OK, os.path.basename(path)
                else:  # in the archive: fetched by an earlier run
                    status_ = SKIPPED
                    file_ = _archived_file(folder, info)
        except yt_dlp.utils.DownloadError as exc:
            err = errors[-1] if errors else _one_line(str(exc))
        except Exception as exc:  # one URL's trouble never stops the run
            err = _one_line(f"{type(exc).__name__}: {exc}")
        table.record(t.url, t.split, t.cls, status_, file_, err)
        counts[status_] += 1
        yield event("download", url=t.url, split=t.split, cls=t.cls, status=status_, file=file_,
                    error=err, done=i, total=total, rels=t.rels)
        elapsed = time.monotonic() - t0
        yield event("progress", done=i, total=total, rate=round(i / elapsed, 3) if elapsed else 0.0,
                    eta_s=round((total - i) * elapsed / i, 1) if i else None)
        if opts.sleep_s and i < total and status_ == OK:
            end = time.monotonic() + opts.sleep_s
            while time.monotonic() < end and not cancelled():
                time.sleep(min(0.2, end - time.monotonic()))
    yield event("redownload_end", downloaded=counts[OK], already=counts[SKIPPED], failed=counts[ERROR],
                into=str(opts.into), seconds=round(time.monotonic() - t0, 2))


def _archived_file(folder: Path, info: dict[str, Any]) -> str | None:
    """The file an earlier run wrote for this video: its name carries `[id]`."""
    vid = info.get("id")
    if not vid:
        return None
    tag = f"[{vid}]."
    try:
        for e in os.scandir(folder):
            if tag in e.name and not e.name.endswith((".info.json", ".part", ".ytdl")):
                return e.name
    except OSError:
        return None
    return None


def split_order(splits: Iterable[str]) -> list[str]:
    known = [s for s in KNOWN_SPLITS if s in set(splits)]
    return known + sorted(set(splits) - set(known))
