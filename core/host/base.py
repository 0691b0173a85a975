"""The `Host` protocol: everything the CLI and the TUI ask of the machine that holds the data.

The TUI and the CLI's `--host` talk to the engine only through a `Host`, so
local and remote are one code path. A Host runs `nexara … --json` and hands
back the events it prints, starts detached jobs and follows their event logs
from any byte offset, runs a raw shell command, and moves small files.
`core.host.local.LocalHost` does it with subprocesses and local files;
`core.host.ssh.SSHHost` (Paramiko) with the same commands over SSH and SFTP.

Every method a caller uses is declared here, so no caller probes a host with
`getattr` or types it as `Any`. This module imports nothing of the engine: the
local job store (`core.jobs`) and the SSH layer build on it, never the reverse.
`JobInfo`, the record `job list` sends over the wire, is defined with the other
wire records in `core.events` and re-exported here.
"""

from __future__ import annotations

import contextlib
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from core.events import Event, JobInfo, LinkState, parse_line

LinkWatcher = Callable[[LinkState, str], None]
"""Called with (state, one-line detail) whenever a host's link state changes (from any thread)."""


class StopFlag(Protocol):
    """What `Host.follow` asks to know whether to stop: a `threading.Event`, or anything with `is_set()`."""

    def is_set(self) -> bool: ...


class AnyOf:
    """A StopFlag set when any of its flags is."""

    def __init__(self, *flags: StopFlag) -> None:
        self.flags = flags

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


@dataclass
class RunResult:
    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class FileEntry:
    """One entry of a folder on a host (`Host.list_dir`)."""

    name: str
    size: int
    mtime: float
    is_dir: bool


class LogLine(NamedTuple):
    """One complete line of a job's log, exactly as stored, and the byte offset just after it.

    Passing `offset` back to `Host.follow` resumes with the next line: nothing
    lost, nothing repeated.
    """

    offset: int
    raw: bytes

    def event(self) -> Event | None:
        """The line as an event; None for a line that is not one (a torn write, a stray print)."""
        return parse_line(self.raw)


class Host(ABC):
    """One machine that holds data and runs the engine."""

    name: str = "local"

    # ------------------------------------------------------------ the link

    @property
    @abstractmethod
    def link_state(self) -> LinkState:
        """CONNECTED for this machine; the SSH connection's state for a remote one."""

    @abstractmethod
    def connect(self) -> None:
        """Open the link now (so a TUI can ask about an unknown host key); a no-op locally.

        Raises `core.host.ssh.UnknownHostKey`, `HostKeyChanged` or NexaraError.
        """

    @abstractmethod
    def watch_link(self, callback: LinkWatcher) -> None:
        """Call `callback(state, detail)` on every later change of `link_state`."""

    def close(self) -> None:  # noqa: B027 - a host with nothing to release
        """Release the link; the host's jobs keep running."""

    # ------------------------------------------------------------ commands

    @abstractmethod
    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        """Run `nexara <argv>` to completion."""

    @abstractmethod
    def stream(self, argv: Sequence[str]) -> Iterator[Event]:
        """Run `nexara <argv> --json` and yield its events as they arrive.

        A NexaraError if it fails without saying why in an `error` event.
        """

    @abstractmethod
    def exec_capture(self, command: str, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run a shell command line (already quoted!) on the host: (rc, stdout, stderr)."""

    # ------------------------------------------------------------ jobs

    @abstractmethod
    def start_job(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """Start `nexara <argv> --json` detached on the host; return the job id at once."""

    @abstractmethod
    def follow(self, job_id: str, offset: int = 0, *, follow: bool = True,
               stop: StopFlag | None = None) -> Iterator[LogLine]:
        """Every complete line of the job's log from byte `offset`, as it is written.

        The one way a job is tailed (the CLI's `job attach`, the scan screen, the
        monitor). With `follow`, returns once the job has ended and its log is
        drained (its last line is `job_end`); without, at the end of what is
        there. Setting `stop` (from any thread) ends it within a fraction of a
        second, even while the job is quiet. A remote host re-establishes a
        dropped link by itself and resumes at the byte reached.
        """

    def attach(self, job_id: str, offset: int = 0, follow: bool = True,
               stop: StopFlag | None = None) -> Iterator[tuple[int, Event]]:
        """(offset after the event, event) for each event line of `follow`."""
        for line in self.follow(job_id, offset, follow=follow, stop=stop):
            ev = line.event()
            if ev is not None:
                yield line.offset, ev

    @abstractmethod
    def jobs(self) -> list[JobInfo]:
        """Jobs known on the host, newest first."""

    @abstractmethod
    def cancel_job(self, job_id: str) -> None: ...

    # ------------------------------------------------------------ files

    @abstractmethod
    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of a file on the host from `offset` (for tailing logs and fetching reports)."""

    @abstractmethod
    def write_file(self, path: str, data: bytes) -> None:
        """Write a small file on the host atomically (e.g. a list of approved files to move)."""

    @abstractmethod
    def stat_file(self, path: str) -> tuple[int, float] | None:
        """(size, mtime) of a file on the host, or None if it does not exist."""

    @abstractmethod
    def remove_file(self, path: str) -> None:
        """Delete a file on the host; a file that is already gone is not an error."""

    @abstractmethod
    def list_dir(self, path: str) -> list[FileEntry] | None:
        """The entries of a folder on the host (one round trip over SFTP); None if it is no folder.

        For logs that are folders of growing files (TensorBoard's train/ and
        validation/ event files): one listing gives every file's size, so a
        follower reads only what grew.
        """

    @abstractmethod
    def upload(self, local: Path, remote: str) -> None:
        """Copy a local file to the host (e.g. the wheel for `remote install`)."""


@contextlib.contextmanager
def temp_list_on(host: Host, paths: Sequence[str], prefix: str = "nexara-list") -> Iterator[str]:
    """A temporary file on `host` holding `paths` NUL-terminated, removed afterwards.

    NUL, not newline: a path may contain newlines and edge spaces, never NUL
    (`core.quarantine.read_files_from` reads both forms).

    For handing a long list of paths to a command on the host (`quarantine
    --files-from`) without putting it on a command line. The file lives in the
    host's /tmp under an unguessable name and is deleted when the block ends,
    whether the command succeeded or not; only a link that stays down past the
    end leaves it behind (in /tmp, which the host cleans).
    """
    path = f"/tmp/{prefix}-{secrets.token_hex(8)}.txt"
    data = "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")
    host.write_file(path, data)
    try:
        yield path
    finally:
        with contextlib.suppress(Exception):
            host.remove_file(path)


def command_failed(host: str, argv: Sequence[str], rc: int, stderr: bytes | str) -> str:
    """One line saying which command failed where, with the last line of its stderr."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    cmd = " ".join(str(a) for a in argv[:1])
    tail = f": {lines[-1]}" if lines else ""
    return f"nexara {cmd} on {host} exited with status {rc}{tail}"


__all__ = ["AnyOf", "FileEntry", "Host", "JobInfo", "LinkWatcher", "LogLine", "RunResult", "StopFlag", "command_failed",
           "temp_list_on"]
