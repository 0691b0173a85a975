"""Follow a training log — a growing file or a job's event log — on any Host, from an offset.

Local and SSH are one code path: a file is tailed with `Host.stat_file` and
`Host.read_file(path, offset, length)` (SFTP reads at an offset over SSH); a
job is followed with `Host.follow(job, offset, stop=…)`, the one way every
face tails a job (the remote `job attach` over SSH, which re-attaches by
itself after a dropped link). Both are stoppable at any moment from another
thread: the TUI stops a follower when the user leaves the screen, without
waiting for the next epoch, which may be minutes away.

Items come out in batches (`Update`), at most one every `batch_interval`
seconds while data is pouring in (a 150-epoch log read at once is one or two
updates, not 150 redraws), and at once when the source goes quiet.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.errors import NexaraError
from core.events import EventType
from core.host import AnyOf, FileEntry, Host, JobInfo, LogLine
from core.monitor.parsers import (
    UNKNOWN_FORMAT,
    ConsoleParser,
    Item,
    JsonlParser,
    make_parser,
    sniff,
)
from core.monitor.records import RunEvent

CHUNK = 1 << 20  # bytes per read: one SFTP round trip carries a whole CSV or most of a log
STDERR_TAIL_BYTES = 16 << 10
JOB_LINES_QUEUED = 10_000  # lines read ahead of the parser (back-pressure on a fast log)
JOB_LINES_PER_ITEM_BATCH = 512


@dataclass
class Update:
    items: list[Item] = field(default_factory=list)
    offset: int = 0  # where to resume: bytes of the file / the job's log fully parsed so far
    format: str = ""


@dataclass
class Source:
    kind: str  # "job" | "file" | "tensorboard" (a log folder or one events file)
    ref: str  # job id or path on the host
    job: JobInfo | None = None

    @property
    def label(self) -> str:
        return f"job {self.ref}" if self.kind == "job" else self.ref


def resolve(host: Host, ref: str) -> Source:
    """A job id known on the host, else a file on it (a RUN_DIR means its epochs.jsonl),
    else a TensorBoard log folder (events files in it, or in its train/, validation/).

    A clear error for none of them.
    """
    try:
        jobs = host.jobs()
    except NotImplementedError:
        jobs = []
    for job in jobs:
        if job.id == ref:
            return Source("job", ref, job)
    run_log = ref.rstrip("/") + "/epochs.jsonl"  # a RUN_DIR of our trainer
    try:
        if host.stat_file(run_log) is not None:
            return Source("file", run_log)
    except NexaraError:
        pass  # REF is a file, not a folder (ENOTDIR)
    if host.stat_file(ref) is not None:
        entries = host.list_dir(ref)
        if entries is not None:
            tensorboard_files(host, ref, entries)  # a clear error if it holds none
            return Source("tensorboard", ref)
        from core.monitor.tensorboard import is_events_name

        if is_events_name(ref.rstrip("/").rsplit("/", 1)[-1]):
            return Source("tensorboard", ref)
        return Source("file", ref)
    # A unique prefix of a job id is enough, as with git hashes.
    matches = [j for j in jobs if j.id.startswith(ref)]
    if len(matches) == 1:
        return Source("job", matches[0].id, matches[0])
    raise NexaraError(f"{ref}: no such job or file on host {host.name}")


class Follower:
    """Yields `Update`s from one source until it ends, `follow` is off, or `stop` is set."""

    def __init__(self, host: Host, source: Source, *, poll: float = 1.0,
                 batch_interval: float = 0.25, stop: threading.Event | None = None) -> None:
        self.host = host
        self.source = source
        self.poll = poll
        self.batch_interval = batch_interval
        self.stop = stop or threading.Event()
        self.format = "events" if source.kind == "job" else ""

    def updates(self, follow: bool = True, offset: int = 0) -> Iterator[Update]:
        raw = {"job": self._job_items, "tensorboard": self._tensorboard_items}.get(
            self.source.kind, self._file_items)
        pending: list[Item] = []
        last_emit = 0.0
        last_offset = offset
        for items, off, idle in raw(follow, offset):
            pending.extend(items)
            last_offset = off
            now = time.monotonic()
            if pending and (idle or now - last_emit >= self.batch_interval):
                yield Update(pending, off, self.format)
                pending, last_emit = [], now
        if pending:
            yield Update(pending, last_offset, self.format)

    # -- files -------------------------------------------------------------
    def _file_items(self, follow: bool, offset: int) -> Iterator[tuple[list[Item], int, bool]]:
        path = self.source.ref
        parser = None
        head = b""
        seen_end = False
        if offset > 0:
            # Resuming: the format (and a CSV's header line) come from the file's start.
            first = self.host.read_file(path, 0, min(offset, 1 << 16))
            self.format = sniff(first, path) or "console"
            if self.format == "tensorboard":
                self.source = Source("tensorboard", path)
                yield from self._tensorboard_items(follow, 0)
                return
            if self.format == "unknown":
                raise NexaraError(f"{path}: {UNKNOWN_FORMAT}")
            parser = make_parser(self.format, path)
            if self.format == "csv" and b"\n" in first:
                parser.feed(first[:first.index(b"\n") + 1])
        while not self.stop.is_set():
            st = self.host.stat_file(path)
            if st is None:
                raise NexaraError(f"{path}: no such file on host {self.host.name}")
            size = st[0]
            if size < offset:  # truncated or rewritten (a new run with the same CSVLogger file)
                offset, parser, head = 0, None, b""
                yield [RunEvent("reset")], 0, False
                continue
            if size > offset:
                data = self.host.read_file(path, offset, min(size - offset, CHUNK))
                if not data:
                    data = b""
                offset += len(data)
                items: list[Item] = []
                if parser is None:
                    head += data
                    fmt = sniff(head, path)
                    if fmt == "tensorboard":  # an events file under another name
                        self.source = Source("tensorboard", path)
                        yield from self._tensorboard_items(follow, 0)
                        return
                    if fmt == "unknown":
                        raise NexaraError(f"{path}: {UNKNOWN_FORMAT}")
                    if fmt is not None or len(head) > CHUNK:
                        self.format = fmt or "console"
                        parser = make_parser(self.format, path)
                        items = parser.feed(head)
                        head = b""
                else:
                    items = parser.feed(data)
                seen_end = seen_end or any(
                    isinstance(i, RunEvent) and i.kind in ("train_end", "job_end") for i in items)
                done = offset - (parser.held if parser is not None else len(head))
                yield items, done, offset >= size
                continue
            # At the end of what is there.
            if not follow or seen_end:
                if parser is None and head:
                    self.format = sniff(head + b"\n", path) or "console"
                    parser = make_parser(self.format, path)
                    items = parser.feed(head)
                else:
                    items = []
                if parser is not None:
                    items += parser.finish()
                if (not follow and offset > 0 and isinstance(parser, ConsoleParser)
                        and not parser.seen_header):
                    # All of it read and never a Keras `Epoch N/M`: not a log we know.
                    raise NexaraError(f"{path}: {UNKNOWN_FORMAT}")
                yield items, offset, True
                return
            yield [], offset, True
            self.stop.wait(self.poll)

    # -- TensorBoard -------------------------------------------------------
    def _tensorboard_items(self, follow: bool, offset: int
                           ) -> Iterator[tuple[list[Item], int, bool]]:
        """Every events file of the log folder (or the one file), read as it grows.

        One listing per folder per poll gives every file's size; only files that
        grew are read, from where they were left. Offsets are not resumable for a
        folder (several files): `offset` is ignored, the folder is read from its start.
        """
        from core.monitor.tensorboard import TensorBoardLog

        self.format = "tensorboard"
        ref = self.source.ref
        log = TensorBoardLog(ref)
        read: dict[str, int] = {}
        while not self.stop.is_set():
            files = tensorboard_files(self.host, ref)
            if any(size < read.get(path, 0) for path, _, size in files):
                # A file shrank: the folder was rewritten (a new run removed the old logs).
                log, read = TensorBoardLog(ref), {}
                yield [RunEvent("reset")], 0, False
                continue
            for path, group, size in files:
                if path not in read:
                    # Known even while empty: a writer that has opened its file will write
                    # for the current run, so its epochs are waited for (TensorBoardLog).
                    read[path] = 0
                    log.feed(path, group, b"")
                while read.get(path, 0) < size and not self.stop.is_set():
                    pos = read.get(path, 0)
                    data = self.host.read_file(path, pos, min(size - pos, CHUNK))
                    if not data:
                        break
                    read[path] = pos + len(data)
                    log.feed(path, group, data)
            done = sum(read.values()) - log.held
            flushed: list[Item] = [*log.flush(final=not follow)]
            yield flushed, done, True
            if not follow:
                return
            self.stop.wait(self.poll)

    # -- jobs --------------------------------------------------------------
    def _job_items(self, follow: bool, offset: int) -> Iterator[tuple[list[Item], int, bool]]:
        """The job's log through `Host.follow`, read by a thread so a quiet job reads as idle.

        The follower yields each complete line the moment it is written; the
        reader thread queues them (bounded: a fast log waits for the parser),
        and this side takes what is queued, or reports "idle" after
        `batch_interval` of silence, so a batch never waits for the next epoch.
        """
        lines: queue.Queue[LogLine | BaseException | None] = queue.Queue(JOB_LINES_QUEUED)
        left = threading.Event()  # this generator was closed: the reader stops too
        stop = AnyOf(self.stop, left)

        def offer(item: LogLine | BaseException | None) -> None:
            while not stop.is_set():
                try:
                    lines.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def read() -> None:
            try:
                for line in self.host.follow(self.source.ref, offset, follow=follow, stop=stop):
                    offer(line)
            except BaseException as exc:  # noqa: BLE001 - handed to the parsing side, raised there
                offer(exc)
            finally:
                offer(None)

        threading.Thread(target=read, name=f"follow-{self.source.ref}", daemon=True).start()
        pos = offset
        try:
            while not self.stop.is_set():
                try:
                    got = lines.get(timeout=self.batch_interval)
                except queue.Empty:
                    yield [], pos, True
                    continue
                items: list[Item] = []
                while True:
                    if got is None:  # the follower returned: the log is drained (or follow is off)
                        if not follow:
                            # No job_end (yet): the host's own view says whether it still runs.
                            job = self._job_info()
                            if job is not None and job.status != "running":
                                ended = RunEvent("job_end", {"rc": job.rc, "status": job.status})
                                self._add_stderr(ended)
                                items.append(ended)
                        yield items, pos, True
                        return
                    if isinstance(got, BaseException):
                        raise got
                    pos = got.offset
                    ev = got.event()
                    if ev is not None:
                        new = JsonlParser.handle_event(ev)
                        items.extend(new)
                        if ev["type"] == EventType.JOB_END:
                            for it in new:
                                if isinstance(it, RunEvent) and it.kind == "job_end":
                                    self._add_stderr(it)
                            yield items, pos, True
                            return  # nothing after job_end belongs to the job
                    if len(items) >= JOB_LINES_PER_ITEM_BATCH:
                        break
                    try:
                        got = lines.get_nowait()
                    except queue.Empty:
                        break
                yield items, pos, lines.empty()
        finally:
            left.set()

    def _job_info(self) -> JobInfo | None:
        for job in self.host.jobs():
            if job.id == self.source.ref:
                self.source.job = job
                return job
        return None

    def _add_stderr(self, ended: RunEvent) -> None:
        """A job that failed or was lost: attach the last lines of its stderr to its end."""
        rc, status = ended.data.get("rc"), ended.data.get("status")
        if (rc in (None, 0)) and status not in ("lost", "failed"):
            return
        path = stderr_path(self.host, self.source)
        if path is None:
            return
        ended.data["stderr_tail"] = tail_lines(self.host, path)


def job_dir_of(source: Source) -> str | None:
    """The job's directory on its host, as `job list` reports it (None from an older nexara)."""
    extra: dict[str, Any] = source.job.extra if source.job is not None else {}
    for key in ("dir", "job_dir"):
        if extra.get(key):
            return str(extra[key]).rstrip("/")
    return None


def stderr_path(host: Host, source: Source) -> str | None:
    """Where the job's stderr is on its host (`<state>/jobs/<id>/stderr.log`)."""
    job = source.job
    extra: dict[str, Any] = job.extra if job is not None else {}
    for key in ("stderr", "stderr_path"):
        if extra.get(key):
            return str(extra[key])
    d = job_dir_of(source)
    if d:
        return f"{d}/stderr.log"
    if getattr(host, "name", "local") == "local":
        from core.paths import jobs_dir

        return str(jobs_dir() / source.ref / "stderr.log")
    return None


def tail_lines(host: Host, path: str, n: int = 20) -> list[str]:
    st = host.stat_file(path)
    if st is None:
        return []
    size = st[0]
    start = max(0, size - STDERR_TAIL_BYTES)
    data = host.read_file(path, start, size - start)
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first is cut
    return [ln for ln in lines if ln.strip()][-n:]


def tensorboard_files(host: Host, ref: str, entries: list[FileEntry] | None = None
                      ) -> list[tuple[str, str, int]]:
    """(path, writer folder, size) of every events file of a TensorBoard log, in writing order.

    REF is a run folder as Keras' `TensorBoard(log_dir)` leaves it (train/ and
    validation/ of events files), a folder of events files, or one events file.
    The writer folder ("train", "validation", "" for REF itself) decides the
    metric names (validation/ gives val_…).
    """
    from core.monitor.tensorboard import VALIDATION_DIRS, events_order, is_events_name

    root = ref.rstrip("/") or "/"
    if entries is None:
        entries = host.list_dir(root)
    def own_group(folder: str) -> str:  # validation/ given by itself still holds val_ figures
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        return name if name in VALIDATION_DIRS else ""

    if entries is None:  # a single events file
        st = host.stat_file(root)
        if st is None:
            raise NexaraError(f"{ref}: no such file or folder on host {host.name}")
        return [(root, own_group(root.rsplit("/", 1)[0] if "/" in root else ""), st[0])]
    top = own_group(root)
    out = [(f"{root}/{e.name}", top, e.size) for e in entries
           if not e.is_dir and is_events_name(e.name)]
    nested: list[str] = []
    for d in sorted(e.name for e in entries if e.is_dir):
        sub = host.list_dir(f"{root}/{d}") or []
        found = [(f"{root}/{d}/{e.name}", d, e.size) for e in sub
                 if not e.is_dir and is_events_name(e.name)]
        out += found
        if not found and any(e.is_dir for e in sub):
            nested.append(d)
    if not out:
        if nested:
            runs = ", ".join(nested[:3]) + (", …" if len(nested) > 3 else "")
            raise NexaraError(f"{ref}: a folder of TensorBoard log folders ({runs}) — "
                              f"give one of them")
        raise NexaraError(f"{ref}: a folder without epochs.jsonl or TensorBoard events files")
    out.sort(key=lambda t: (t[1], events_order(t[0].rsplit("/", 1)[-1])))
    return out
