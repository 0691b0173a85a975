"""Detached jobs: long work that outlives the terminal (or SSH link) that started it.

A job is `nexara <argv> --json` running in its own session, with stdin from
/dev/null and stdout appended to `<state>/jobs/<id>/events.jsonl`. A small
wrapper process (`python -m core.jobs run DIR`) waits for it and appends the
final `job_end` event, so a reader always learns how the job ended. Readers
follow the log from a byte offset (`follow`): offsets are plain byte
positions, so a client that lost its link resumes exactly where it stopped,
with no event lost or repeated.

A client may choose the id itself (`start_job(..., job_id=ID, exist_ok=True)`,
`nexara job start --id ID`): starting is then idempotent, so a client whose
link dropped while it started a job on a remote host simply sends the same
start again and is attached to the one job, whether the first start arrived
or not. The job directory is created with one `mkdir`, so of two starts with
one id exactly one runs the command.

Layout of a job directory:
    meta.json     argv, cwd, pid (wrapper), pgid, started, ended, rc, status
    events.jsonl  one JSON event per line (the command's --json output + job_end)
    stderr.log    the command's stderr (tracebacks, warnings)
    cancel        present once cancellation was requested
    lock          flock target for meta updates and the final job_end append
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import (
    ENDED_STATUSES,
    Event,
    EventType,
    JobInfo,
    JobStatus,
    dumps,
    event,
    parse_line,
)
from core.fsops import write_text_atomic
from core.paths import jobs_dir

ENDED = tuple(s.value for s in JobStatus if s.ended)
_JOB_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,63}")
START_WAIT_S = 10.0  # how long a second start with the same id waits for the first one's meta.json
CANCEL_GRACE_S = 5.0
_READ_CHUNK = 1 << 16
_JOB_END = b'"type":"%s"' % EventType.JOB_END.value.encode()
ATTACH_MAX_NAP_S = 0.04  # longest wait between reads of a quiet log (= worst added latency)
ATTACH_ENDED_CHECK_S = 0.25  # how often a quiet follower asks whether the job has ended


# ---------------------------------------------------------------- paths & meta


def new_job_id() -> str:
    """Sortable by start time (UTC), unique thanks to a random suffix.

    32 random bits: ids are also chosen by clients on other machines
    (`start_job(job_id=…)`), and two clients starting in the same second must
    not meet on one id.
    """
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def check_job_id(job_id: str) -> str:
    """`job_id` if it can name a job directory (letters, digits, `-_.`; not hidden), else NexaraError."""
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise NexaraError(f"job {job_id!r}: not a job id")
    return job_id


def job_dir(job_id: str) -> Path:
    """The directory of job `job_id`; a clear error if there is no such job."""
    check_job_id(job_id)
    d = jobs_dir() / job_id
    if not (d / "meta.json").is_file():
        raise NexaraError(f"job {job_id}: no such job in {jobs_dir()}")
    return d


# meta.json keys and what they must hold (None allowed where the value is optional).
_META_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), False), "argv": ((list,), False), "status": ((str,), False),
    "started": ((int, float), False), "ended": ((int, float), True), "rc": ((int,), True),
    "pid": ((int,), True), "pgid": ((int,), True), "child_pid": ((int,), True),
    "cwd": ((str,), True),
}


def read_meta(d: Path) -> dict[str, Any]:
    """The job's meta.json, checked: a one-line NexaraError naming the file if it is not one of ours.

    A hand-edited or damaged file (`[1,2]`, `"pid": "abc"`) must not become a
    traceback in `job list`, nor a signal sent to a pid that is not a number.
    """
    path = d / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NexaraError(f"{path}: unreadable job metadata ({exc})") from exc
    if not isinstance(meta, dict):
        raise NexaraError(f"{path}: not a job's metadata (a JSON object was expected, "
                          f"found {type(meta).__name__})")
    for key, (types, optional) in _META_TYPES.items():
        if key not in meta:
            if not optional:
                raise NexaraError(f"{path}: not a job's metadata ('{key}' is missing)")
            continue
        v = meta[key]
        if (v is None and optional) or (isinstance(v, types) and not isinstance(v, bool)):
            continue
        raise NexaraError(f"{path}: '{key}' must be {' or '.join(t.__name__ for t in types)}"
                          f"{' or null' if optional else ''}, not {v!r}")
    if not all(isinstance(a, str) for a in meta["argv"]):
        raise NexaraError(f"{path}: 'argv' must be a list of strings")
    if meta["status"] not in {s.value for s in JobStatus}:
        raise NexaraError(f"{path}: 'status' must be one of {', '.join(JobStatus)}, "
                          f"not {meta['status']!r}")
    return meta


def _write_meta(d: Path, meta: dict[str, Any]) -> None:
    write_text_atomic(d / "meta.json", json.dumps(meta, indent=1))


@contextlib.contextmanager
def _locked(d: Path) -> Iterator[None]:
    with open(d / "lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _update_meta(d: Path, **fields: Any) -> dict[str, Any]:
    with _locked(d):
        meta = read_meta(d)
        meta.update(fields)
        _write_meta(d, meta)
        return meta


def _pid_alive(pid: int | None) -> bool:
    """True if `pid` runs and is a job wrapper (zombies and reused pids count as dead)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():  # Linux: rule out zombies and pids reused by another program
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
            return b"core.jobs" in (proc / "cmdline").read_bytes()
        except OSError:
            return False
    return True


def _finish(d: Path, rc: int | None, status: str) -> bool:
    """Append `job_end` and mark the job ended, once. Returns False if it had already ended."""
    with _locked(d):
        meta = read_meta(d)
        if meta["status"] in ENDED:
            return False
        log = d / "events.jsonl"
        with open(log, "ab") as fh:
            # A command killed mid-write leaves a torn line; keep job_end on its own line.
            if fh.tell() > 0:
                with open(log, "rb") as rd:
                    rd.seek(-1, os.SEEK_END)
                    if rd.read(1) != b"\n":
                        fh.write(b"\n")
            fh.write((dumps(event("job_end", rc=rc, status=status)) + "\n").encode())
        meta.update(status=status, rc=rc, ended=time.time())
        _write_meta(d, meta)
        return True


# ---------------------------------------------------------------- start / wrapper


def _project_pythonpath(env: dict[str, str]) -> None:
    """Make sure the detached interpreter imports this same `core`, whatever its cwd."""
    root = str(Path(__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])


def start_job(argv: Sequence[str], env: Mapping[str, str] | None = None, *,
              job_id: str | None = None, exist_ok: bool = False) -> str:
    """Start `nexara <argv> --json` detached; return its id at once.

    With `job_id` the caller chose the id; with `exist_ok` too, a job of that
    id that already runs the same command is returned as it is (not started
    twice): see the module docstring.

    The wrapper is started through `sh -c '… &'` so that it is orphaned right
    away (reaped by init, never a zombie of a long-lived caller such as the
    TUI) and lives in a new session whose process group we can signal.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise NexaraError("job start: no command given (usage: nexara job start -- scan ROOT)")
    if "--json" not in argv:
        argv.append("--json")
    job_id = check_job_id(job_id) if job_id is not None else new_job_id()
    d = jobs_dir() / job_id
    try:
        d.mkdir(parents=True)
    except FileExistsError:
        if not exist_ok:
            raise NexaraError(f"job {job_id}: a job with this id exists already") from None
        return _existing(d, argv)
    (d / "events.jsonl").touch()
    meta = {
        "id": job_id, "argv": argv, "cwd": os.getcwd(), "status": "running",
        "started": time.time(), "ended": None, "rc": None, "pid": None, "pgid": None,
        "extra_env": sorted((env or {}).keys()),
    }
    _write_meta(d, meta)
    full_env = dict(os.environ)
    full_env.update(env or {})
    _project_pythonpath(full_env)
    spawner = subprocess.Popen(
        ["/bin/sh", "-c", '"$@" </dev/null >/dev/null 2>&1 & echo $!', "sh",
         sys.executable, "-m", "core.jobs", "run", str(d)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=full_env, start_new_session=True,
    )
    out, _ = spawner.communicate(timeout=30)
    try:
        pid = int(out.strip())
    except ValueError as exc:
        raise NexaraError(f"job {job_id}: could not start the job wrapper") from exc
    # The wrapper inherits the spawner's process group (pgid = spawner pid) and
    # the group lives as long as any member does, so this pgid stays valid.
    _update_meta(d, pid=pid, pgid=spawner.pid)
    return job_id


def _existing(d: Path, argv: list[str]) -> str:
    """The job another start of the same id made (waiting a moment for its meta.json)."""
    deadline = time.monotonic() + START_WAIT_S
    while not (d / "meta.json").is_file():
        if time.monotonic() > deadline:
            raise NexaraError(f"job {d.name}: its directory exists but the job never started")
        time.sleep(0.02)
    meta = read_meta(d)
    if meta["argv"] != argv:
        raise NexaraError(f"job {d.name}: a job with this id exists already, running another "
                          f"command ({' '.join(meta['argv'][:2])})")
    return d.name


def _run_wrapper(d: Path) -> int:
    """Body of `python -m core.jobs run DIR`: run the command, then record how it ended."""
    meta = read_meta(d)
    cancelled = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal cancelled
        cancelled = True  # the child got the same signal via the process group

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if (d / "cancel").exists():
        _finish(d, None, "cancelled")
        return 0
    with open(d / "events.jsonl", "ab") as out, open(d / "stderr.log", "ab") as err:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "core.cli", *meta["argv"]],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=meta.get("cwd") or None,
            )
        except OSError as exc:
            err.write(f"nexara job: cannot start command: {exc}\n".encode())
            _finish(d, None, "failed")
            return 1
    _update_meta(d, child_pid=child.pid)
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    if cancelled or (d / "cancel").exists():
        status = "cancelled"
    else:
        status = "finished" if rc == 0 else "failed"
    _finish(d, rc, status)
    return 0


# ---------------------------------------------------------------- attach


def _ended(d: Path) -> bool:
    """The job has ended (meta says so) or its wrapper died without saying so."""
    meta = read_meta(d)
    if meta["status"] in ENDED:
        return True
    if meta.get("pid") is None:
        # Between start_job's mkdir and its pid write: give a slow start 30 s.
        return time.time() - float(meta["started"]) > 30
    return not _pid_alive(meta["pid"])


def check_offset(log: Path, offset: int, job_id: str) -> None:
    """Refuse an offset that is not where a line of the log starts, saying what is wrong."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise NexaraError(f"job {job_id}: offset {offset!r} is not a byte offset (a whole number >= 0)")
    if offset == 0:
        return
    size = log.stat().st_size
    if offset > size:
        raise NexaraError(f"job {job_id}: offset {offset} is past the end of its log ({size} bytes)")
    with open(log, "rb") as fh:
        fh.seek(offset - 1)
        if fh.read(1) != b"\n":
            raise NexaraError(f"job {job_id}: offset {offset} is inside a line of its log; resume "
                              f"from an offset a reader reported (the byte after a newline)")


def follow(job_id: str, offset: int = 0, follow: bool = True, poll: float = ATTACH_MAX_NAP_S,
           stop: Callable[[], bool] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (offset_after_line, line_without_newline) for each complete line from `offset`.

    Every complete line is yielded, parseable or not, so a remote client can
    count bytes to know its offset. A torn last line is held back until its
    newline arrives. With follow, returns once the job has ended and the log is
    drained; a job whose wrapper died without a `job_end` gets one with status
    `lost` appended, so every reader sees the same end. `stop()` is asked
    between naps: when it says True, the follower returns (a TUI leaving the
    screen, a remote reader whose link is gone).

    Following sleeps at most `poll` between reads of a quiet log: every event,
    and above all the final `job_end` that a waiting client (a remote scan)
    blocks on, reaches the reader within that. An empty read is one syscall, so
    the short nap costs nothing measurable; whether the job has ended (meta.json
    and /proc) is checked less often, every ATTACH_ENDED_CHECK_S.
    """
    d = job_dir(job_id)
    log = d / "events.jsonl"
    check_offset(log, offset, job_id)
    pos = offset
    buf = b""
    nap = 0.005  # short naps while events flow, backing off to `poll` when idle
    next_check = 0.0
    with open(log, "rb") as fh:
        fh.seek(offset)
        while True:
            chunk = fh.read(_READ_CHUNK)
            if chunk:
                nap = 0.005
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    pos += len(line) + 1
                    yield pos, line
                    if follow and line.startswith(b"{") and _JOB_END in line:
                        return
                continue
            if not follow or (stop is not None and stop()):
                return
            now = time.monotonic()
            if now >= next_check:
                next_check = now + ATTACH_ENDED_CHECK_S
                if _ended(d):
                    # Drain what was written before the end became visible.
                    rest = fh.read()
                    if rest:
                        fh.seek(-len(rest), os.SEEK_CUR)
                        continue
                    meta = read_meta(d)
                    if meta["status"] not in ENDED:
                        _finish(d, None, "lost")
                        continue
                    return
            time.sleep(nap)
            nap = min(poll, nap * 2)


def attach(job_id: str, offset: int = 0, follow: bool = True,
           poll: float = ATTACH_MAX_NAP_S) -> Iterator[tuple[int, Event]]:
    """Yield (offset_after_event, event) for each complete event line from byte `offset`.

    Resuming with the last offset seen yields each later event exactly once.
    """
    for pos, line in _follow(job_id, offset, follow, poll):
        ev = parse_line(line)
        if ev is not None:
            yield pos, ev


_follow = follow  # `attach`'s parameter shadows the name


# ---------------------------------------------------------------- list / cancel


def job_info(d: Path) -> JobInfo:
    meta = read_meta(d)
    status = JobStatus(meta["status"])
    if status not in ENDED_STATUSES and _ended(d):
        status = JobStatus.LOST
    try:
        size = (d / "events.jsonl").stat().st_size
    except OSError:
        size = 0
    return JobInfo(
        id=meta["id"], argv=list(meta["argv"]), status=status,
        started=float(meta["started"]), ended=meta.get("ended"), rc=meta.get("rc"),
        pid=meta.get("pid"), log_size=size,
        # `dir` lets a client tail the log and read stderr.log directly (SFTP over
        # SSH) instead of starting a `nexara job attach` process per poll.
        extra={"cwd": meta.get("cwd"), "dir": str(d)},
    )


def list_jobs() -> list[JobInfo]:
    """Every job in the state directory, newest first (those with broken metadata left out)."""
    return scan_jobs()[0]


def scan_jobs() -> tuple[list[JobInfo], list[str]]:
    """(every readable job, newest first; one line per job directory whose meta.json is broken)."""
    out, problems = [], []
    for d in sorted(jobs_dir().iterdir(), reverse=True):
        if d.name.startswith(".") or not (d / "meta.json").is_file():
            continue
        try:
            out.append(job_info(d))
        except NexaraError as exc:
            problems.append(f"{exc.message}; skipped")
    return out, problems


def cancel_job(job_id: str, grace: float = CANCEL_GRACE_S) -> JobInfo:
    """SIGTERM the job's process group, SIGKILL it after `grace` seconds; status cancelled."""
    d = job_dir(job_id)
    meta = read_meta(d)
    if meta["status"] in ENDED:
        return job_info(d)
    (d / "cancel").touch()
    pgid = meta.get("pgid")
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if read_meta(d)["status"] in ENDED:
            return job_info(d)
        if not _pid_alive(meta.get("pid")) and meta.get("pid"):
            break
        time.sleep(0.05)
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    _finish(d, None, "cancelled")
    return job_info(d)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "run":
        return _run_wrapper(Path(argv[1]))
    print("usage: python -m core.jobs run JOB_DIR  (internal: the detached job wrapper)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
