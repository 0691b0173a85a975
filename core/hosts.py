"""Where the engine runs: this machine or the GPU box, behind one interface.

The TUI and the CLI's `--host` talk to the engine only through a `Host`, so local
and remote are one code path: a Host runs `nexara … --json` and hands back the
events it prints, starts detached jobs and attaches to their event logs from any
byte offset, and reads files. `LocalHost` runs subprocesses; `SSHHost`
(core.ssh, Paramiko) runs the same commands over SSH and reads files over SFTP.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.fsops import write_bytes_atomic


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


@dataclass(frozen=True)
class FileEntry:
    """One entry of a folder on a host (`Host.list_dir`)."""

    name: str
    size: int
    mtime: float
    is_dir: bool


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

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class LocalHost(Host):
    """This machine: commands are `python -m core.cli …` subprocesses, files are local files.

    Running the engine in a subprocess (rather than calling it in-process) keeps
    the caller (the TUI) free of the engine's imports and crashes, and makes the
    local path byte-for-byte the same protocol as the remote one.
    """

    name = "local"

    def __init__(self, env: dict[str, str] | None = None):
        self.env = dict(env or {})

    def _argv(self, argv: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "core.cli", *[str(a) for a in argv]]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        # The child imports this same `core`, whatever the current directory.
        root = str(Path(__file__).resolve().parent.parent)
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in parts:
            env["PYTHONPATH"] = os.pathsep.join([root, *parts])
        return env

    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        try:
            proc = subprocess.run(self._argv(argv), capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL, env=self._env())
        except subprocess.TimeoutExpired as exc:
            raise NexaraError(f"nexara {' '.join(map(str, argv[:2]))}: timed out after {timeout} s") from exc
        return RunResult(proc.returncode, proc.stdout, proc.stderr)

    def stream(self, argv: Sequence[str]) -> Iterator[dict[str, Any]]:
        from core.events import parse_line

        argv = list(argv)
        if "--json" not in argv:
            argv.append("--json")
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self._argv(argv), stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL, env=self._env())
            saw_error = False
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    ev = parse_line(line)
                    if ev is None:
                        continue
                    saw_error = saw_error or ev.get("type") == "error"
                    yield ev
                rc = proc.wait()
            finally:
                if proc.poll() is None:  # the consumer stopped early
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if rc != 0 and not saw_error:
                err.seek(0)
                raise NexaraError(command_failed(self.name, argv, rc, err.read()))

    def start_job(self, argv: Sequence[str], env: dict[str, str] | None = None) -> str:
        from core import jobs

        return jobs.start_job(argv, env={**self.env, **(env or {})})

    def attach(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
        from core import jobs

        return jobs.attach(job_id, offset, follow)

    def attach_raw(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[tuple[int, bytes]]:
        """(offset_after_line, raw line) for every complete log line; see core.jobs.attach_raw."""
        from core import jobs

        return jobs.attach_raw(job_id, offset, follow)

    def jobs(self) -> list[JobInfo]:
        from core import jobs

        return jobs.list_jobs()

    def cancel_job(self, job_id: str) -> None:
        from core import jobs

        jobs.cancel_job(job_id)

    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with open(os.path.expanduser(path), "rb") as fh:
                fh.seek(offset)
                return fh.read() if length is None else fh.read(length)
        except OSError as exc:
            raise NexaraError(f"{path}: cannot read ({exc.strerror or exc})") from exc

    def write_file(self, path: str, data: bytes) -> None:
        try:
            write_bytes_atomic(os.path.expanduser(path), data)
        except OSError as exc:
            raise NexaraError(f"{path}: cannot write ({exc.strerror or exc})") from exc

    def remove_file(self, path: str) -> None:
        try:
            os.unlink(os.path.expanduser(path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise NexaraError(f"{path}: cannot remove ({exc.strerror or exc})") from exc

    def list_dir(self, path: str) -> list[FileEntry] | None:
        out = []
        try:
            with os.scandir(os.path.expanduser(path)) as it:
                for e in it:
                    try:
                        st = e.stat()
                    except FileNotFoundError:
                        continue  # gone between listing and stat
                    out.append(FileEntry(e.name, st.st_size, st.st_mtime, e.is_dir()))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise NexaraError(f"{path}: cannot list ({exc.strerror or exc})") from exc
        return out

    def stat_file(self, path: str) -> tuple[int, float] | None:
        try:
            st = os.stat(os.path.expanduser(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NexaraError(f"{path}: cannot stat ({exc.strerror or exc})") from exc
        return st.st_size, st.st_mtime


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


def open_host(name: str | None, remote_nexara: str | None = None, **kwargs: Any) -> Host:
    """'local' (or None) → LocalHost; anything else → SSHHost for that alias or user@host[:port].

    Per-host settings (`remote_nexara`, `env`) come from Nexara's config file
    (`[hosts.NAME]`); an explicit `remote_nexara` argument wins. Extra keyword
    arguments go to `SSHHost` (e.g. `passphrase_callback`, `on_state`).
    """
    from core.config import load_config

    if name in (None, "", "local"):
        hc = load_config().hosts.get("local")
        return LocalHost(env=hc.env if hc else None)
    from core.ssh import SSHHost

    return SSHHost(name, remote_nexara=remote_nexara, **kwargs)
