"""Detached jobs: long work that outlives the terminal (or SSH link) that started it.

A job is `nexara <argv> --json` running in its own session, with stdin from
/dev/null and stdout appended to `<state>/jobs/<id>/events.jsonl`. A small
wrapper process (`python -m core.jobs run DIR`) waits for it and appends the
final `job_end` event, so a reader always learns how the job ended. Readers
"attach" by tailing the log from a byte offset: offsets are plain byte
positions, so a client that lost its link resumes exactly where it stopped,
with no event lost or repeated.

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
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import dumps, event, parse_line
from core.fsops import write_text_atomic
from core.hosts import JobInfo
from core.paths import jobs_dir

ENDED = ("finished", "failed", "cancelled", "lost")
CANCEL_GRACE_S = 5.0
_READ_CHUNK = 1 << 16
ATTACH_MAX_NAP_S = 0.04  # longest wait between reads of a quiet log (= worst added latency)
ATTACH_ENDED_CHECK_S = 0.25  # how often a quiet follower asks whether the job has ended


# ---------------------------------------------------------------- paths & meta


def new_job_id() -> str:
    """Sortable by start time (UTC), unique thanks to a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def job_dir(job_id: str) -> Path:
    """The directory of job `job_id`; a clear error if there is no such job."""
    if not job_id or "/" in job_id or job_id.startswith("."):
        raise NexaraError(f"job {job_id!r}: not a job id")
    d = jobs_dir() / job_id
    if not (d / "meta.json").is_file():
        raise NexaraError(f"job {job_id}: no such job in {jobs_dir()}")
    return d


def read_meta(d: Path) -> dict[str, Any]:
    try:
        return json.loads((d / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NexaraError(f"{d / 'meta.json'}: unreadable job metadata ({exc})") from exc


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
        if meta.get("status") in ENDED:
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


def start_job(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Start `nexara <argv> --json` detached; return its id at once.

    The wrapper is started through `sh -c '… &'` so that it is orphaned right
    away (reaped by init, never a zombie of a long-lived caller such as the
    TUI) and lives in a new session whose process group we can signal.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise NexaraError("job start: no command given (usage: nexara job start -- scan ROOT)")
    if "--json" not in argv:
        argv.append("--json")
    job_id = new_job_id()
    d = jobs_dir() / job_id
    d.mkdir(parents=True)
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
    if meta.get("status") in ENDED:
        return True
    if meta.get("pid") is None:
        # Between start_job's mkdir and its pid write: give a slow start 30 s.
        return time.time() - float(meta.get("started", 0)) > 30
    return not _pid_alive(meta["pid"])


def attach_raw(job_id: str, offset: int = 0, follow: bool = True,
               poll: float = ATTACH_MAX_NAP_S) -> Iterator[tuple[int, bytes]]:
    """Yield (offset_after_line, line_without_newline) for each complete line from `offset`.

    Every complete line is yielded, parseable or not, so a remote client can
    count bytes to know its offset. A torn last line is held back until its
    newline arrives. With follow, returns once the job has ended and the log is
    drained; a job whose wrapper died without a `job_end` gets one with status
    `lost` appended, so every reader sees the same end.

    Following sleeps at most `poll` between reads of a quiet log: every event,
    and above all the final `job_end` that a waiting client (a remote scan)
    blocks on, reaches the reader within that. An empty read is one syscall, so
    the short nap costs nothing measurable; whether the job has ended (meta.json
    and /proc) is checked less often, every ATTACH_ENDED_CHECK_S.
    """
    d = job_dir(job_id)
    log = d / "events.jsonl"
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
                    if follow and line.startswith(b"{") and b'"type":"job_end"' in line:
                        return
                continue
            if not follow:
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
                    if meta.get("status") not in ENDED:
                        _finish(d, None, "lost")
                        continue
                    return
            time.sleep(nap)
            nap = min(poll, nap * 2)


def attach(job_id: str, offset: int = 0, follow: bool = True,
           poll: float = ATTACH_MAX_NAP_S) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (offset_after_event, event) for each complete event line from byte `offset`.

    Resuming with the last offset seen yields each later event exactly once.
    """
    for pos, line in attach_raw(job_id, offset, follow, poll):
        ev = parse_line(line)
        if ev is not None:
            yield pos, ev


# ---------------------------------------------------------------- list / cancel


def job_info(d: Path) -> JobInfo:
    meta = read_meta(d)
    status = meta.get("status", "running")
    if status not in ENDED and _ended(d):
        status = "lost"
    try:
        size = (d / "events.jsonl").stat().st_size
    except OSError:
        size = 0
    return JobInfo(
        id=meta["id"], argv=list(meta.get("argv", [])), status=status,
        started=float(meta.get("started", 0)), ended=meta.get("ended"), rc=meta.get("rc"),
        pid=meta.get("pid"), log_size=size,
        # `dir` lets a client tail the log and read stderr.log directly (SFTP over
        # SSH) instead of starting a `nexara job attach` process per poll.
        extra={"cwd": meta.get("cwd"), "dir": str(d)},
    )


def list_jobs() -> list[JobInfo]:
    """Every job in the state directory, newest first."""
    out = []
    for d in sorted(jobs_dir().iterdir(), reverse=True):
        if (d / "meta.json").is_file():
            with contextlib.suppress(NexaraError, KeyError):
                out.append(job_info(d))
    return out


def cancel_job(job_id: str, grace: float = CANCEL_GRACE_S) -> JobInfo:
    """SIGTERM the job's process group, SIGKILL it after `grace` seconds; status cancelled."""
    d = job_dir(job_id)
    meta = read_meta(d)
    if meta.get("status") in ENDED:
        return job_info(d)
    (d / "cancel").touch()
    pgid = meta.get("pgid")
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if read_meta(d).get("status") in ENDED:
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
