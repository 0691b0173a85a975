"""The scan screen's reader: I/O in a thread, typed messages to the screen, a bounded queue between.

`ScanReader.run` (in a Textual thread worker) starts the scan job on the host,
finds one already running, or streams stored results, and puts each typed
event (`core.events.Event`) into a bounded `queue.Queue`. When the screen
falls behind, `put` waits (back-pressure) instead of letting the queue grow
without bound. The reader tells the screen that events are waiting with one
`EventsPending` message — posted only when none is outstanding, and
coalescing (`can_replace`) with any other still in Textual's queue, as
toolong's `PendingLines` does — and the screen drains the queue in one batch
per tick.

What the reader itself has to say travels as its own messages, never as fake
events in the feed: `JobFollowed` (a scan job is being followed: its id) and
`ReaderDone` (nothing more will come; the screen drains what is queued first).

Following a job is `Host.follow`, the one tail every face uses: over SSH the
connection re-establishes a dropped link by itself (with the only backoff
there is) and the follow resumes at the byte offset it reached, so no event is
lost or shown twice and nothing here retries.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from textual.message import Message

from core.compat import StrEnum
from core.errors import NexaraError
from core.events import Event, EventType, as_event, event
from core.host import AnyOf, Host, StopFlag

QUEUE_MAX_EVENTS = 20_000  # the reader waits while this many events are queued
PUT_WAIT_S = 0.1  # how often a waiting reader checks whether it was stopped


# Stored results: the problem files only (the summary event still counts the whole dataset).
PROBLEM_ARGS = ("--verdict", "warning", "--verdict", "damaged", "--verdict", "corrupt")

class ReadMode(StrEnum):
    SCAN = "scan"  # following a scan job
    RESULTS = "results"  # streaming the stored results of the last scan


class EventsPending(Message):
    """Events wait in the reader's queue; consecutive ones coalesce into one."""

    def __init__(self, gen: int) -> None:
        super().__init__()
        self.gen = gen

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending) and message.gen == self.gen


class JobFollowed(Message):
    """The reader follows scan job `job_id` (one it started, or one it found running)."""

    def __init__(self, gen: int, job_id: str) -> None:
        super().__init__()
        self.gen = gen
        self.job_id = job_id


class ReaderDone(Message):
    """The reader has put its last event; `mode` is what it ended up doing."""

    def __init__(self, gen: int, mode: ReadMode) -> None:
        super().__init__()
        self.gen = gen
        self.mode = mode


@dataclass
class ScanReader:
    """One read of scan events for the screen: generation `gen`, its own queue and stop flag."""

    host: Host
    root: str
    gen: int
    post: Callable[[Message], object]
    queue: queue.Queue[Event] = field(default_factory=lambda: queue.Queue(QUEUE_MAX_EVENTS))
    stop: threading.Event = field(default_factory=threading.Event)
    # Set while an EventsPending is on its way; the screen clears it before it drains.
    signalled: threading.Event = field(default_factory=threading.Event)

    def run(self, mode: ReadMode, argv: list[str] | None = None, job_id: str | None = None,
            attach_running: bool = False, cancelled: StopFlag | None = None) -> None:
        """Read until the scan job ends, the results are all there, or `stop`/`cancelled` is set."""
        stop = AnyOf(self.stop, cancelled) if cancelled is not None else self.stop
        try:
            if mode is ReadMode.RESULTS and attach_running:
                job_id = running_scan_job(self.host, self.root)
                if job_id:
                    mode = ReadMode.SCAN
                    self.post(JobFollowed(self.gen, job_id))
            if mode is ReadMode.RESULTS:
                for ev in self.host.stream(["results", self.root, *PROBLEM_ARGS, "--json"]):
                    if not self.put(ev, stop):
                        return
                return
            if job_id is None:
                job_id = self.host.start_job(argv or [])
                self.post(JobFollowed(self.gen, job_id))
            for _, ev in self.host.attach(job_id, 0, follow=True, stop=stop):
                if not self.put(ev, stop):
                    return
        except NexaraError as exc:
            self.put(as_event(event(EventType.ERROR, message=exc.message, exit_code=exc.exit_code)), stop)
        except Exception as exc:  # noqa: BLE001 - e.g. the host could not start the job: shown, not fatal
            self.put(as_event(event(EventType.ERROR, message=f"{type(exc).__name__}: {exc}", exit_code=1)),
                     stop)
        finally:
            self.post(ReaderDone(self.gen, mode))

    def put(self, ev: Event, stop: StopFlag) -> bool:
        """Queue one event (waiting while the queue is full); False once the reader should stop."""
        while not stop.is_set():
            try:
                self.queue.put(ev, timeout=PUT_WAIT_S)
            except queue.Full:
                continue
            if not self.signalled.is_set():
                self.signalled.set()
                self.post(EventsPending(self.gen))
            return True
        return False

    def take(self, limit: int) -> list[Event]:
        """(UI thread) Up to `limit` queued events; the next put after this signals again."""
        self.signalled.clear()
        batch: list[Event] = []
        while len(batch) < limit:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch


def running_scan_job(host: Host, root: str) -> str | None:
    """The id of a scan of `root` still running on the host (after a restart of the TUI)."""
    try:
        jobs = host.jobs()
    except NexaraError:
        return None  # a host that cannot list its jobs: just show the stored results
    for j in jobs:
        if j.status == "running" and "scan" in j.argv[:2] and root in j.argv:
            return j.id
    return None
