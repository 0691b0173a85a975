"""The scan screen's reader (nexara_tui.scan_reader) on real jobs, without a terminal.

The reader's side of the seam: typed events through a bounded queue, one coalescing
EventsPending per batch, its own JobFollowed/ReaderDone messages, and a stop that works while
the job is quiet. (The screen's side is tests/tui/test_scan_screen.py.)
"""

from __future__ import annotations

import json
import queue
import threading
import time

from core import jobs
from core.events import EventType, dumps, event
from core.host.local import LocalHost
from nexara_tui.scan_reader import EventsPending, JobFollowed, ReaderDone, ReadMode, ScanReader


def _finished_job(n: int) -> str:
    """A finished job whose log holds n progress events (the engine's own format), then job_end."""
    job_id = jobs.new_job_id()
    d = jobs.jobs_dir() / job_id
    d.mkdir(parents=True)
    with open(d / "events.jsonl", "w") as fh:
        for i in range(n):
            fh.write(dumps(event("progress", done=i + 1, total=n)) + "\n")
        fh.write(dumps(event("job_end", rc=0, status="finished")) + "\n")
    (d / "meta.json").write_text(json.dumps({
        "id": job_id, "argv": ["scan", "/x", "--json"], "status": "finished", "started": time.time(),
        "ended": time.time(), "rc": 0, "pid": None, "pgid": None}))
    return job_id


def test_bounded_queue_and_one_signal_per_batch():
    n, cap = 3000, 50
    job_id = _finished_job(n)
    posted: list[object] = []
    reader = ScanReader(LocalHost(), "/x", gen=7, post=posted.append, queue=queue.Queue(cap))
    t = threading.Thread(target=reader.run, args=(ReadMode.SCAN, None, job_id))
    t.start()
    got, takes, peak = [], 0, 0
    while t.is_alive() or not reader.queue.empty():
        peak = max(peak, reader.queue.qsize())
        batch = reader.take(20)  # a slow screen: 20 events a tick
        takes += bool(batch)
        got.extend(batch)
        time.sleep(0.001)
    t.join()
    assert peak <= cap  # back-pressure: the reader waited instead of queueing 3,000
    assert [e["done"] for e in got if e["type"] == EventType.PROGRESS] == list(range(1, n + 1))
    assert got[-1]["type"] is EventType.JOB_END
    pending = [m for m in posted if isinstance(m, EventsPending)]
    assert 1 <= len(pending) <= takes + 1  # one signal per drained batch, not one per event
    assert all(m.gen == 7 for m in pending)
    assert isinstance(posted[-1], ReaderDone) and posted[-1].mode is ReadMode.SCAN
    # Pending messages of one reader replace each other; another generation's do not.
    assert pending[0].can_replace(EventsPending(7)) and not pending[0].can_replace(EventsPending(8))


def test_a_started_job_is_announced_and_a_quiet_one_stops_on_request():
    posted: list[object] = []
    host = LocalHost()
    reader = ScanReader(host, "/x", gen=1, post=posted.append)
    t = threading.Thread(target=reader.run, args=(ReadMode.SCAN, ["job", "heartbeat", "--count", "2",
                                                                 "--interval", "60"], None))
    t.start()
    deadline = time.monotonic() + 30
    while not any(isinstance(m, EventsPending) for m in posted):
        assert time.monotonic() < deadline, "no first event"
        time.sleep(0.01)
    job = next(m for m in posted if isinstance(m, JobFollowed))
    reader.stop.set()
    t0 = time.monotonic()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    assert isinstance(posted[-1], ReaderDone)
    assert [e["type"] for e in reader.take(100)] == [EventType.PROGRESS]
    host.cancel_job(job.job_id)


def test_a_failure_arrives_as_an_error_event_then_done():
    posted: list[object] = []
    reader = ScanReader(LocalHost(), "/x", gen=2, post=posted.append)
    reader.run(ReadMode.SCAN, None, "20990101-000000-dead")
    [ev] = reader.take(10)
    assert ev["type"] is EventType.ERROR and "no such job" in ev["message"]
    assert isinstance(posted[-1], ReaderDone)
