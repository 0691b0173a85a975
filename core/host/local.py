"""`LocalHost`: this machine. Commands are `python -m core.cli …` subprocesses, files are local files.

Running the engine in a subprocess (rather than calling it in-process) keeps
the caller (the TUI) free of the engine's imports and crashes, and makes the
local path byte-for-byte the same protocol as the remote one. Jobs are
`core.jobs`, in this process: starting one and tailing its log need no child.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from core import jobs
from core.errors import NexaraError
from core.events import Event, EventType, LinkState, parse_line
from core.fsops import write_bytes_atomic
from core.host.base import (
    FileEntry,
    Host,
    JobInfo,
    LinkWatcher,
    LogLine,
    RunResult,
    StopFlag,
    command_failed,
)

_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class LocalHost(Host):
    """This machine; see the module docstring."""

    name = "local"

    def __init__(self, env: Mapping[str, str] | None = None):
        self.env = dict(env or {})

    # ------------------------------------------------------------ the link (there is none)

    @property
    def link_state(self) -> LinkState:
        return LinkState.CONNECTED

    def connect(self) -> None:
        pass

    def watch_link(self, callback: LinkWatcher) -> None:
        pass  # always connected: nothing will ever change

    # ------------------------------------------------------------ commands

    def _argv(self, argv: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "core.cli", *[str(a) for a in argv]]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        # The child imports this same `core`, whatever the current directory.
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if _PROJECT_ROOT not in parts:
            env["PYTHONPATH"] = os.pathsep.join([_PROJECT_ROOT, *parts])
        return env

    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        try:
            proc = subprocess.run(self._argv(argv), capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL, env=self._env())
        except subprocess.TimeoutExpired as exc:
            raise NexaraError(f"nexara {' '.join(map(str, argv[:2]))}: timed out after {timeout} s") from exc
        return RunResult(proc.returncode, proc.stdout, proc.stderr)

    def stream(self, argv: Sequence[str]) -> Iterator[Event]:
        argv = [str(a) for a in argv]
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
                    saw_error = saw_error or ev["type"] == EventType.ERROR
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

    def exec_capture(self, command: str, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        try:
            proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env=self._env())
        except subprocess.TimeoutExpired as exc:
            raise NexaraError(f"{self.name}: command timed out after {timeout} s") from exc
        return proc.returncode, proc.stdout, proc.stderr

    # ------------------------------------------------------------ jobs

    def start_job(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        return jobs.start_job(argv, env={**self.env, **(env or {})})

    def follow(self, job_id: str, offset: int = 0, *, follow: bool = True,
               stop: StopFlag | None = None) -> Iterator[LogLine]:
        for off, raw in jobs.follow(job_id, offset, follow, stop=stop.is_set if stop else None):
            yield LogLine(off, raw)

    def jobs(self) -> list[JobInfo]:
        return jobs.list_jobs()

    def cancel_job(self, job_id: str) -> None:
        jobs.cancel_job(job_id)

    # ------------------------------------------------------------ files

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

    def upload(self, local: Path, remote: str) -> None:
        try:
            shutil.copyfile(local, os.path.expanduser(remote))
        except OSError as exc:
            raise NexaraError(f"{remote}: cannot copy {local} here ({exc.strerror or exc})") from exc
