"""`nexara job …`: start, list, attach to and cancel detached jobs (see core.jobs).

    nexara job start [--json] [--attach] -- scan /data/organized_dataset   → prints the job id
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
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from core.cli import add_common
from core.errors import NexaraError
from core.events import dumps, emit, event
from core.hosts import Host, JobInfo


def register(sub: Any) -> None:
    p = sub.add_parser("job", help="detached jobs: start, list, attach, cancel",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(cmd=sys.modules[__name__])
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = acts.add_parser("start", help="run a nexara command detached; print its id")
    add_common(s)
    s.add_argument("--attach", action="store_true",
                   help="then follow it, as `job attach ID` would (one round trip for remote clients)")
    s.add_argument("job_argv", nargs=argparse.REMAINDER, metavar="-- COMMAND …",
                   help="the nexara command to run, after --")

    s = acts.add_parser("list", help="jobs on the host, newest first")
    add_common(s)

    s = acts.add_parser("attach", help="print a job's events, then follow it live")
    add_common(s)
    s.add_argument("job_id", metavar="ID")
    s.add_argument("--from", dest="offset", type=int, default=0, metavar="OFFSET",
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
    from core.hosts import open_host

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
    job_id = host.start_job(argv)
    if args.json:
        emit(event("job", id=job_id, host=host.name))
    else:
        print(job_id, flush=True)
    if args.attach:
        args.job_id, args.offset, args.follow = job_id, 0, True
        return _attach(host, args)
    return 0


def _info_dict(j: JobInfo) -> dict[str, Any]:
    return {"id": j.id, "argv": j.argv, "status": j.status, "started": j.started,
            "ended": j.ended, "rc": j.rc, "pid": j.pid, "log_size": j.log_size, "extra": j.extra}


def _list(host: Host, args: argparse.Namespace) -> int:
    jobs = host.jobs()
    if args.json:
        for j in jobs:
            emit(event("job", **_info_dict(j)))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "status", "rc", "started", "command", box=None)
    for j in jobs:
        started = datetime.fromtimestamp(j.started).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(j.id, j.status, "" if j.rc is None else str(j.rc), started,
                      " ".join(a for a in j.argv if a != "--json"))
    Console().print(table)
    return 0


def describe(ev: dict[str, Any]) -> str:
    """One human line for an event of any type (unknown types shown compactly)."""
    t = ev.get("type")
    if t == "progress":
        total = ev.get("total")
        return f"progress {ev.get('done')}/{total}" if total is not None else f"progress {ev.get('done')}"
    if t == "log":
        return str(ev.get("message", ""))
    if t == "error":
        return f"error: {ev.get('message', '')}"
    if t == "file":
        return f"{ev.get('verdict', '')} {ev.get('path', '')}".strip()
    if t == "job_end":
        return f"job ended: {ev.get('status')} (rc {ev.get('rc')})"
    rest = {k: v for k, v in ev.items() if k not in ("v", "type", "t")}
    return f"{t} {dumps(rest)}"


def _attach(host: Host, args: argparse.Namespace) -> int:
    if args.json:
        raw = getattr(host, "attach_raw", None)
        out = sys.stdout.buffer
        if raw is not None:
            for _, line in raw(args.job_id, args.offset, args.follow):
                out.write(line + b"\n")
                out.flush()
        else:  # a Host without raw access: re-serialized events
            for _, ev in host.attach(args.job_id, args.offset, args.follow):
                out.write(dumps(ev).encode() + b"\n")
                out.flush()
        return 0
    status = None
    for _, ev in host.attach(args.job_id, args.offset, args.follow):
        print(describe(ev), flush=True)
        if ev.get("type") == "job_end":
            status = ev.get("status")
    return 0 if status in (None, "finished") else 1


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
        if args.count < 0 or args.interval < 0:
            raise NexaraError("job heartbeat: --count and --interval must not be negative")
        for i in range(1, args.count + 1):
            yield event("progress", done=i, total=args.count)
            if i < args.count:
                time.sleep(args.interval)
        yield event("summary", count=args.count)

    @staticmethod
    def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
        for ev in events:
            if not args.json:
                print(describe(ev), flush=True)
        return 0
