"""`nexara job …`: start, list, attach to and cancel detached jobs (see core.jobs).

    nexara job start [--json] [--id ID] [--attach [--from OFFSET]] -- scan /data/organized_dataset
                                                                          → prints the job id
    nexara job list [--json]
    nexara job attach ID [--from OFFSET] [--no-follow] [--json]
    nexara job cancel ID
    nexara job heartbeat [--count N] [--interval S]   (emits N progress events;
        run it as a job to check that detaching and re-attaching work over your link)

Every action takes `--host H` and then acts on H's jobs.

`job attach --json` prints the job's log lines exactly as they are stored
(byte for byte, one per line, including a line that is not valid JSON), so a
client that counts the bytes it received (`len(line) + 1` per line) knows the
byte offset to pass to `--from` when it re-attaches after a dropped link.
`job start --json --attach` prints the `job` event line first (not part of the
log, so not counted), then the log lines as `attach --json` does.

`job start --id ID` starts the job under an id the caller chose, unless a job
with that id (and the same command) exists already: then it is not started
again. A remote client sends its start that way, so after a dropped link it
can send the very same `job start --id ID --attach --from OFFSET` and be
attached to the one job, whether the first start had arrived or not.

A follower whose reader has gone (the SSH channel closed) notices it within a
fraction of a second and exits, even while the job is quiet.
"""

from __future__ import annotations

import argparse
import io
import math
import select
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from core.cli import add_common, number
from core.errors import NexaraError
from core.events import Event, EventType, JobStatus, as_event, dumps, emit, event
from core.host import Host, StopFlag, open_host


def register(sub: Any) -> None:
    p = sub.add_parser("job", help="detached jobs: start, list, attach, cancel",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(cmd=sys.modules[__name__])
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = acts.add_parser("start", help="run a nexara command detached; print its id")
    add_common(s)
    s.add_argument("--attach", action="store_true",
                   help="then follow it, as `job attach ID` would (one round trip for remote clients)")
    s.add_argument("--id", dest="job_id", metavar="ID",
                   help="start it under this id, unless a job with this id exists already")
    s.add_argument("--from", dest="offset", type=number(int, ge=0), default=0, metavar="OFFSET",
                   help="with --attach: the byte offset in the job's log to follow from")
    s.add_argument("job_argv", nargs=argparse.REMAINDER, metavar="-- COMMAND …",
                   help="the nexara command to run, after --")

    s = acts.add_parser("list", help="jobs on the host, newest first")
    add_common(s)

    s = acts.add_parser("attach", help="print a job's events, then follow it live")
    add_common(s)
    s.add_argument("job_id", metavar="ID")
    s.add_argument("--from", dest="offset", type=number(int, ge=0), default=0, metavar="OFFSET",
                   help="byte offset in the job's log to start from (default 0)")
    s.add_argument("--no-follow", dest="follow", action="store_false",
                   help="print what is logged so far and return")

    s = acts.add_parser("cancel", help="stop a job (SIGTERM, then SIGKILL)")
    add_common(s)
    s.add_argument("job_id", metavar="ID")

    s = acts.add_parser("heartbeat", help="emit N progress events (a job to test links with)")
    add_common(s)
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--interval", type=float, default=0.5)
    s.set_defaults(cmd=Heartbeat)


def _host(args: argparse.Namespace) -> Host:
    return open_host(getattr(args, "host", None), remote_nexara=getattr(args, "remote_nexara", None))


def run(args: argparse.Namespace) -> int:
    host = _host(args)
    try:
        return ACTIONS[args.action](host, args)
    finally:
        host.close()


def _start(host: Host, args: argparse.Namespace) -> int:
    argv = list(args.job_argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise NexaraError("job start: no command given (usage: nexara job start -- scan ROOT)")
    if args.offset and not args.attach:
        raise NexaraError("job start: --from OFFSET only goes with --attach")
    if args.job_id is not None:
        if host.name != "local":
            raise NexaraError("job start --id: only on the machine itself (a remote client "
                              "chooses its own ids)")
        from core import jobs

        job_id = jobs.start_job(argv, job_id=args.job_id, exist_ok=True)
    else:
        job_id = host.start_job(argv)
    if args.json:
        emit(event("job", id=job_id, host=host.name))
    else:
        print(job_id, flush=True)
    if args.attach:
        args.job_id, args.follow = job_id, True
        return _attach(host, args)
    return 0


def _list(host: Host, args: argparse.Namespace) -> int:
    if host.name == "local":
        from core import jobs as local_jobs

        jobs, problems = local_jobs.scan_jobs()
    else:
        jobs, problems = host.jobs(), []
    for problem in problems:  # a broken meta.json is named, never a traceback
        if args.json:
            emit(event("log", message=problem))
        print(f"nexara: {problem}", file=sys.stderr)
    if args.json:
        for j in jobs:
            emit(event("job", **j.to_dict()))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    # Ids are copied into `job attach ID`: never cut, whatever the terminal's width.
    table.add_column("id", no_wrap=True, min_width=max(len(j.id) for j in jobs))
    table.add_column("status", no_wrap=True)
    table.add_column("rc")
    table.add_column("started", no_wrap=True)
    table.add_column("command")
    for j in jobs:
        started = datetime.fromtimestamp(j.started).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(j.id, j.status, "" if j.rc is None else str(j.rc), started,
                      " ".join(a for a in j.argv if a != "--json"))
    Console().print(table)
    return 0


def describe(ev: Event) -> str:
    """One human line for an event of any type (unknown types shown compactly)."""
    if ev["type"] == EventType.PROGRESS:
        total = ev.get("total")
        return f"progress {ev['done']}/{total}" if total is not None else f"progress {ev['done']}"
    if ev["type"] == EventType.LOG:
        return str(ev.get("message", ""))
    if ev["type"] == EventType.ERROR:
        return f"error: {ev.get('message', '')}"
    if ev["type"] == EventType.FILE:
        result = ev.get("result") or {}
        return f"{result.get('verdict', '')} {result.get('path', '')}".strip()
    if ev["type"] == EventType.JOB_END:
        return f"job ended: {ev.get('status')} (rc {ev.get('rc')})"
    rest = {k: v for k, v in ev.items() if k not in ("v", "type", "t")}
    return f"{ev['type']} {dumps(rest)}"


class _ReaderGone:
    """A StopFlag that is set once nobody reads our stdout any more (the SSH channel closed).

    A follower of a quiet job writes nothing for minutes; without this, a
    remote `job attach` whose client has left would linger until the next
    event. poll() reports POLLERR/POLLHUP on a pipe or socket whose reader is
    gone; the check is one syscall per nap.
    """

    def __init__(self, fd: int) -> None:
        self.gone = False
        self._poll = select.poll()
        self._poll.register(fd, select.POLLERR | select.POLLHUP)

    def is_set(self) -> bool:
        self.gone = self.gone or bool(self._poll.poll(0))
        return self.gone


def _stop_when_reader_gone() -> StopFlag | None:
    try:
        return _ReaderGone(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # a test's capture buffer
        return None


def _attach(host: Host, args: argparse.Namespace) -> int:
    stop = _stop_when_reader_gone() if host.name == "local" else None
    if args.json:
        out = sys.stdout.buffer
        for line in host.follow(args.job_id, args.offset, follow=args.follow, stop=stop):
            out.write(line.raw + b"\n")
            out.flush()
        return 0
    status = None
    for _, ev in host.attach(args.job_id, args.offset, args.follow, stop=stop):
        print(describe(ev), flush=True)
        if ev["type"] == EventType.JOB_END:
            status = ev.get("status")
    return 0 if status in (None, JobStatus.FINISHED) else 1


def _cancel(host: Host, args: argparse.Namespace) -> int:
    host.cancel_job(args.job_id)
    if args.json:
        emit(event("job", id=args.job_id, status="cancelled"))
    else:
        print(f"job {args.job_id} cancelled")
    return 0


ACTIONS = {"start": _start, "list": _list, "attach": _attach, "cancel": _cancel}


class Heartbeat:
    """`nexara job heartbeat`: an engine command (events/render) that emits progress slowly."""

    @staticmethod
    def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
        if args.count < 0 or not args.interval >= 0 or not math.isfinite(args.interval):
            raise NexaraError("job heartbeat: --count and --interval must not be negative "
                              "(and --interval a finite number)")
        for i in range(1, args.count + 1):
            yield event("progress", done=i, total=args.count)
            if i < args.count:
                time.sleep(args.interval)
        yield event("summary", count=args.count)

    @staticmethod
    def render(events: Iterable[Mapping[str, Any]], args: argparse.Namespace) -> int:
        for ev in events:
            if not args.json:
                print(describe(as_event(ev)), flush=True)
        return 0
