"""Where the engine runs: this machine or the GPU box, behind one interface.

The TUI and the CLI's `--host` talk to the engine only through a `Host`, so local
and remote are one code path: a Host runs `nexara … --json` and hands back the
events it prints, starts detached jobs and attaches to their event logs from any
byte offset, and reads files. `LocalHost` runs subprocesses; `SSHHost`
(core.ssh, Paramiko) runs the same commands over SSH and reads files over SFTP.

OWNER NOTE (in progress): LocalHost/SSHHost implementations land with the remote issue.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    rc: int
    stdout: str
    stderr: str


@dataclass
class JobInfo:
    id: str
    argv: list[str]
    status: str  # "running" | "finished" | "failed" | "cancelled" | "lost"
    started: float
    ended: float | None = None
    rc: int | None = None
    pid: int | None = None
    log_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Host(ABC):
    """One machine that holds data and runs the engine."""

    name: str = "local"

    @abstractmethod
    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        """Run `nexara <argv>` to completion."""

    @abstractmethod
    def stream(self, argv: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Run `nexara <argv>` (argv already ends with --json) and yield its events as they arrive."""

    @abstractmethod
    def start_job(self, argv: Sequence[str]) -> str:
        """Start `nexara <argv> --json` detached on the host; return the job id at once."""

    @abstractmethod
    def attach(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (offset_after_event, event) from the job's log starting at byte `offset`.

        With follow, keeps yielding until the job has ended and its log is drained.
        Resuming with the last offset seen neither loses nor repeats an event.
        """

    @abstractmethod
    def jobs(self) -> list[JobInfo]:
        """Jobs known on the host, newest first."""

    @abstractmethod
    def cancel_job(self, job_id: str) -> None: ...

    @abstractmethod
    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of a file on the host from `offset` (for tailing logs and fetching reports)."""

    @abstractmethod
    def write_file(self, path: str, data: bytes) -> None:
        """Write a small file on the host atomically (e.g. a list of approved files to move)."""

    @abstractmethod
    def stat_file(self, path: str) -> tuple[int, float] | None:
        """(size, mtime) of a file on the host, or None if it does not exist."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def open_host(name: str | None, remote_nexara: str | None = None) -> Host:
    """'local' (or None) → LocalHost; anything else → SSHHost for that alias or user@host[:port]."""
    raise NotImplementedError("hosts are being implemented (remote issue)")
