"""`SSHHost`: the engine on another machine, over one `Connection`.

Commands run there as `nexara … --json` (every word `shlex.quote`d, so file
names with spaces, quotes, `$()` or newlines arrive intact and never run);
their events come back line by line. Files move over SFTP.

Long work runs as a detached job on the host, under an id this client chose
(`core.jobs.new_job_id`) and passed to the remote `job start --id`: starting
is idempotent there, so when the link drops at any moment — before the start
arrived, while it ran, after it printed — the client reconnects and sends the
same start-or-attach again, from the byte offset it reached. Offsets count
the bytes of the log lines received: nothing lost, nothing repeated.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NexaraError
from core.events import Event, EventType, JobStatus, LinkState, as_event, event, parse_line
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
from core.host.ssh.connection import Connection, LinkLost, Stopped, cli_passphrase
from core.host.ssh.target import Target, resolve_target
from core.host.ssh.trust import UnknownHostKey

if TYPE_CHECKING:
    import paramiko

# Commands that can run for hours: with --host they run as a detached job on the
# host, so a dropped link costs a re-attach, not the work.
DETACH_COMMANDS = ("scan", "train", "extract", "evaluate")
DEFAULT_VENV = ".local/share/nexara/venv"  # relative to the remote $HOME
START_ATTEMPTS = 10  # sends of one `job start --id` over links that keep dropping


class SSHHost(Host):
    """The engine on a remote machine; see the module docstring."""

    def __init__(
        self,
        name: str,
        remote_nexara: str | None = None,
        env: Mapping[str, str] | None = None,
        *,
        ssh_config: Path | None = None,
        known_hosts: Path | None = None,
        passphrase_callback: Callable[[str], str | None] | None = cli_passphrase,
        on_state: LinkWatcher | None = None,
        keepalive: float = 5.0,
        reconnect_timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ):
        from core.config import load_config

        hc = load_config().hosts.get(name)
        self.name = name
        self.target: Target = resolve_target(name, ssh_config, known_hosts)
        self.remote_nexara = remote_nexara or (hc.remote_nexara if hc else None)
        self.env: dict[str, str] = {**(hc.env if hc else {}), **(env or {})}
        self.connection = Connection(
            self.target, ssh_config=ssh_config, known_hosts=known_hosts,
            passphrase_callback=passphrase_callback, keepalive=keepalive,
            reconnect_timeout=reconnect_timeout, connect_timeout=connect_timeout)
        if on_state is not None:
            self.connection.watch(on_state)

    # ------------------------------------------------------------ the link

    @property
    def link_state(self) -> LinkState:
        return self.connection.state

    @property
    def state(self) -> LinkState:
        return self.connection.state

    @property
    def state_message(self) -> str:
        return self.connection.state_message

    @property
    def pending_host_key(self) -> UnknownHostKey | None:
        return self.connection.pending_host_key

    def watch_link(self, callback: LinkWatcher) -> None:
        self.connection.watch(callback)

    def connect(self) -> None:
        """Connect now (raises UnknownHostKey / HostKeyChanged / NexaraError)."""
        self.connection.ensure()

    def accept_host_key(self, fingerprint: str | None = None) -> None:
        """Trust the key of the last `UnknownHostKey`; with `fingerprint`, only if it matches."""
        pending = self.connection.pending_host_key
        if pending is None:
            raise NexaraError(f"{self.name}: no unknown host key to accept (connect first)")
        if fingerprint and fingerprint != pending.fingerprint:
            raise NexaraError(f"{self.name}: host key is {pending.fingerprint}, not {fingerprint}; not saved")
        pending.accept()
        self.connection.pending_host_key = None

    def close(self) -> None:
        self.connection.close()

    # ------------------------------------------------------------ commands

    def _nexara(self) -> tuple[str, str]:
        """(shell prefix, the remote nexara as a shell word): configured, else on PATH, else our venv.

        Unconfigured, the lookup runs inside the same remote command rather than as
        a command of its own: one shell start per call instead of two on a new link
        (the remote ~/.bashrc runs for each, often 0.1 s or more with pyenv).
        """
        if self.remote_nexara:
            return "", shell_path(self.remote_nexara)
        missing = shlex.quote(f"nexara: not installed on {self.name} (run `nexara remote install "
                              f"{self.name}`, or give --remote-nexara PATH)")
        prefix = ('N=$(command -v nexara 2>/dev/null) || N="$HOME/' + DEFAULT_VENV + '/bin/nexara"; '
                  '[ -x "$N" ] || { echo ' + missing + ' >&2; exit 127; }; ')
        return prefix, '"$N"'

    def command_line(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """The remote shell command for `nexara <argv>`: every word quoted."""
        prefix, nexara = self._nexara()
        words = ["exec"]
        full_env = {**self.env, **(env or {})}
        if full_env:
            words.append("env")
            words += [shlex.quote(f"{k}={v}") for k, v in full_env.items()]
        words.append(nexara)
        words += [shlex.quote(str(a)) for a in argv]
        return prefix + " ".join(words)

    def _capture(self, command: str, timeout: float | None) -> tuple[int, bytes, bytes]:
        """(rc, stdout, stderr) of a raw command; LinkLost if the link dies under it."""
        chan = self.connection.open_channel(command)
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while True:
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                try:
                    data = chan.recv(65536)
                except TimeoutError:
                    if not chan.get_transport().is_active():
                        raise LinkLost("transport closed") from None
                    if deadline and time.monotonic() > deadline:
                        raise NexaraError(f"{self.name}: command timed out after {timeout} s") from None
                    continue
                except (OSError, EOFError) as exc:
                    raise LinkLost(str(exc)) from exc
                if not data:
                    break
                out += data
            rc = chan.recv_exit_status()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if rc == -1 and not chan.get_transport().is_active():
                raise LinkLost("no exit status")
        finally:
            chan.close()
        return rc, bytes(out), bytes(err)

    def exec_capture(self, command: str, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run a raw shell command (already quoted!) and return (rc, stdout, stderr)."""
        try:
            return self._capture(command, timeout)
        except LinkLost as exc:
            raise NexaraError(f"{self.name}: connection lost while running a command") from exc

    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        try:
            rc, out, err = self._capture(self.command_line(argv), timeout)
        except LinkLost as exc:
            raise NexaraError(f"{self.name}: connection lost while running nexara {argv[:1]}") from exc
        return RunResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def stream(self, argv: Sequence[str], *, detach: bool | None = None) -> Iterator[Event]:
        """Events of `nexara <argv> --json` on the host, as they arrive.

        Long commands (DETACH_COMMANDS, or detach=True) run as a detached job:
        first a `job` event with its id, then the command's events; a dropped
        link is re-attached transparently. Ctrl-C cancels the job; a client
        that dies leaves it running (re-attach with `nexara job attach ID --host H`).
        """
        argv = [str(a) for a in argv]
        if "--json" not in argv:
            argv.append("--json")
        if detach is None:
            detach = bool(argv) and argv[0] in DETACH_COMMANDS
        if detach:
            yield from self._stream_job(argv)
            return
        err = bytearray()
        saw_error = False
        try:
            chan = self.connection.open_channel(self.command_line(argv))
            try:
                for line in self.connection.lines(chan, err):
                    ev = parse_line(line)
                    if ev is not None:
                        saw_error = saw_error or ev["type"] == EventType.ERROR
                        yield ev
                rc = chan.recv_exit_status()
            finally:
                chan.close()
        except LinkLost as exc:
            raise NexaraError(f"{self.name}: connection lost during `nexara {argv[0]}` (run long work "
                              f"with `nexara job start --host {self.name} -- …`)") from exc
        if rc != 0 and not saw_error:
            raise NexaraError(command_failed(self.name, argv, rc, bytes(err)))

    def _start_attached(self, argv: list[str]) -> Iterator[tuple[str, LogLine | None]]:
        """Start a job under our own id and follow it: (job id, None) once, then its log lines.

        Every send is `job start --id ID --attach --from POS`, which on the host
        starts the job if it does not exist yet and then follows its log from
        POS: the one command is right after a cut at any moment.
        """
        from core.jobs import new_job_id

        job_id = new_job_id()
        pos = 0
        announced = False
        for _ in range(START_ATTEMPTS):
            cmd = self.command_line(["job", "start", "--json", "--attach", "--id", job_id,
                                     "--from", str(pos), "--", *argv])
            err = bytearray()
            confirmed = False
            try:
                chan = self.connection.open_channel(cmd)
                try:
                    for line in self.connection.lines(chan, err):
                        if not confirmed:  # the `job` line comes first; it is not part of the log
                            ev = parse_line(line)
                            if ev is not None and ev["type"] == EventType.ERROR:
                                raise NexaraError(str(ev.get("message")), int(ev.get("exit_code", 2)))
                            if ev is None or ev["type"] != EventType.JOB:
                                continue
                            confirmed = True
                            if not announced:
                                announced = True
                                yield job_id, None
                            continue
                        pos += len(line) + 1
                        yield job_id, LogLine(pos, line)
                    rc = chan.recv_exit_status()
                finally:
                    chan.close()
            except LinkLost:
                continue  # open_channel reconnects (with backoff) or gives up with an error
            if not confirmed or rc != 0:
                raise NexaraError(command_failed(self.name, ["job"], rc, bytes(err)))
            return
        raise NexaraError(f"{self.name}: the link kept dropping while `nexara {argv[0]}` ran "
                          f"(job {job_id}; see `nexara job list --host {self.name}`)")

    def _stream_job(self, argv: list[str]) -> Iterator[Event]:
        saw_error = False
        end: Mapping[str, object] = {}
        job_id = None
        try:
            for job_id, line in self._start_attached(argv):
                if line is None:
                    yield as_event(event("job", id=job_id, host=self.name))
                    continue
                ev = line.event()
                if ev is None:
                    continue
                if ev["type"] == EventType.JOB_END:
                    end = ev
                    continue
                saw_error = saw_error or ev["type"] == EventType.ERROR
                yield ev
        except KeyboardInterrupt:
            if job_id:
                with contextlib.suppress(Exception):
                    self.cancel_job(job_id)
            raise
        if end.get("status") != JobStatus.FINISHED and not saw_error:
            raise NexaraError(f"nexara {argv[0]} on {self.name} (job {job_id}) ended "
                              f"{end.get('status', 'unexpectedly')} (rc {end.get('rc')}); "
                              f"see the job's stderr.log on the host")

    # ------------------------------------------------------------ jobs

    def start_job(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """Start a detached job under an id chosen here; a dropped link re-sends the same start."""
        from core.jobs import new_job_id

        job_id = new_job_id()
        cmd = self.command_line(["job", "start", "--json", "--id", job_id, "--",
                                 *[str(a) for a in argv]], env)
        for _ in range(START_ATTEMPTS):
            try:
                rc, out, err = self._capture(cmd, timeout=60)
            except LinkLost:
                continue
            for line in out.splitlines():
                ev = parse_line(line)
                if ev is not None and ev["type"] == EventType.JOB and ev.get("id") == job_id:
                    return job_id
                if ev is not None and ev["type"] == EventType.ERROR:
                    raise NexaraError(str(ev.get("message")))
            raise NexaraError(command_failed(self.name, ["job"], rc, err))
        raise NexaraError(f"{self.name}: the link kept dropping while starting job {job_id}")

    def follow(self, job_id: str, offset: int = 0, *, follow: bool = True,
               stop: StopFlag | None = None) -> Iterator[LogLine]:
        """The job's log lines through the host's `nexara job attach`, re-attaching after a drop."""
        pos = offset
        while stop is None or not stop.is_set():
            argv = ["job", "attach", job_id, "--from", str(pos), "--json"]
            if not follow:
                argv.append("--no-follow")
            err = bytearray()
            try:
                chan = self.connection.open_channel(self.command_line(argv), stop)
                try:
                    for line in self.connection.lines(chan, err, stop):
                        pos += len(line) + 1
                        yield LogLine(pos, line)
                    rc = chan.recv_exit_status()
                finally:
                    chan.close()  # the remote attach notices its reader is gone and exits
            except LinkLost:
                continue  # open_channel reconnects with backoff, or gives up with an error
            except Stopped:
                return
            if rc != 0:
                raise NexaraError(command_failed(self.name, ["job", "attach"], rc, bytes(err)))
            return

    def jobs(self) -> list[JobInfo]:
        rc, out, err = self.exec_capture(self.command_line(["job", "list", "--json"]), timeout=60)
        if rc != 0:
            raise NexaraError(command_failed(self.name, ["job"], rc, err))
        infos = []
        for line in out.splitlines():
            ev = parse_line(line)
            if ev is not None and ev["type"] == EventType.JOB:
                with contextlib.suppress(NexaraError):  # a job the host could not describe
                    infos.append(JobInfo.from_dict(ev, where=f"{self.name}: job list"))
        return infos

    def cancel_job(self, job_id: str) -> None:
        rc, _, err = self.exec_capture(self.command_line(["job", "cancel", job_id, "--json"]), timeout=60)
        if rc != 0:
            raise NexaraError(command_failed(self.name, ["job"], rc, err))

    # ------------------------------------------------------------ files (SFTP)

    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        def read(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(sftp_path(path), "rb") as fh:
                fh.seek(offset)
                fh.prefetch()
                return fh.read() if length is None else fh.read(length)

        try:
            return self.connection.sftp("read", path, read)
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{path}: no such file") from exc

    def write_file(self, path: str, data: bytes) -> None:
        p = sftp_path(path)
        tmp = f"{p}.nexara-{os.getpid()}.tmp"

        def write(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(tmp, "wb") as fh:
                fh.write(data)
            sftp.posix_rename(tmp, p)

        try:
            self.connection.sftp("write", path, write)
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{path}: folder does not exist") from exc

    def stat_file(self, path: str) -> tuple[int, float] | None:
        def stat(sftp: paramiko.SFTPClient) -> tuple[int, float]:
            st = sftp.stat(sftp_path(path))
            return int(st.st_size or 0), float(st.st_mtime or 0)

        try:
            return self.connection.sftp("stat", path, stat)
        except FileNotFoundError:
            return None

    def list_dir(self, path: str) -> list[FileEntry] | None:
        import stat as st_mode

        def listing(sftp: paramiko.SFTPClient) -> list[FileEntry] | None:
            p = sftp_path(path)
            if not st_mode.S_ISDIR(sftp.stat(p).st_mode or 0):
                return None
            return [FileEntry(a.filename, int(a.st_size or 0), float(a.st_mtime or 0),
                              st_mode.S_ISDIR(a.st_mode or 0)) for a in sftp.listdir_attr(p)]

        try:
            return self.connection.sftp("list", path, listing)
        except FileNotFoundError:
            return None

    def remove_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already gone: the goal is reached
            self.connection.sftp("remove", path, lambda sftp: sftp.remove(sftp_path(path)))

    def upload(self, local: Path, remote: str) -> None:
        """Copy a local file to the host (e.g. the wheel for `remote install`)."""
        try:
            self.connection.sftp("upload", remote, lambda sftp: sftp.put(str(local), sftp_path(remote)))
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{remote}: folder does not exist") from exc


def shell_path(path: str) -> str:
    """Quote a path for the remote shell, keeping a leading ~/ meaning the remote home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def sftp_path(path: str) -> str:
    """SFTP paths are relative to the remote home; `~/x` means the same."""
    if path == "~":
        return "."
    return path[2:] if path.startswith("~/") else path

