"""`SSHHost`: the engine on another machine, over one Paramiko connection.

Commands run there as `nexara … --json` (every word `shlex.quote`d, so file
names with spaces, quotes, `$()` or newlines arrive intact and never run);
their events come back line by line. Files move over SFTP.

Trust: host keys are checked against known_hosts (`~/.ssh/known_hosts`, or the
alias's `UserKnownHostsFile`). An unknown key raises `UnknownHostKey` carrying
its SHA256 fingerprint; nothing is saved until the caller calls `accept()` (or
`SSHHost.accept_host_key`). A key that differs from the saved one raises
`HostKeyChanged` and is never accepted here. There is no AutoAddPolicy.

Links drop (Wi-Fi, laptop lid). Keepalives go out every few seconds and a
monitor thread probes the link; a dead link is re-established with backoff
and the state (`connected` / `reconnecting` / `down`) is reported through
`on_state` for the TUI header. Long work runs as a detached job on the host;
`attach` counts the bytes of the log lines it receives, so after a reconnect
it resumes from the exact byte offset: nothing lost, nothing repeated.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import event, parse_line
from core.hosts import FileEntry, Host, JobInfo, RunResult, command_failed

# Commands that can run for hours: with --host they run as a detached job on the
# host, so a dropped link costs a re-attach, not the work.
DETACH_COMMANDS = ("scan", "train", "extract", "evaluate")
DEFAULT_VENV = ".local/share/nexara/venv"  # relative to the remote $HOME
_STDERR_KEEP = 64 * 1024


class UnknownHostKey(NexaraError):
    """The host offered a key that known_hosts does not list. Call `accept()` to trust it."""

    def __init__(self, host_id: str, key: Any, known_hosts: Path):
        self.host_id = host_id
        self.key = key
        self.key_type = key.get_name()
        self.fingerprint = key.fingerprint  # "SHA256:…", as `ssh-keygen -l` prints it
        self.known_hosts = known_hosts
        super().__init__(
            f"{host_id}: unknown host key {self.key_type} {self.fingerprint}; check it and accept "
            f"it explicitly (`nexara remote trust HOST`) to save it to {known_hosts}", 3)

    def accept(self) -> None:
        """Append this key to known_hosts (created with mode 600 if missing)."""
        save_host_key(self.known_hosts, self.host_id, self.key)


class HostKeyChanged(NexaraError):
    """The host's key differs from the one in known_hosts: refused, never overwritten here."""

    def __init__(self, host_id: str, got: Any, expected: Any, known_hosts: Path):
        self.host_id = host_id
        self.fingerprint = got.fingerprint
        self.expected_fingerprint = expected.fingerprint
        self.known_hosts = known_hosts
        super().__init__(
            f"WARNING: host key for {host_id} has CHANGED (now {got.get_name()} {got.fingerprint}, "
            f"known_hosts has {expected.fingerprint}); someone may be intercepting the connection. "
            f"Refusing to connect. If the host was really reinstalled, remove the old key with "
            f"`ssh-keygen -R '{host_id}' -f {known_hosts}`", 3)


def save_host_key(known_hosts: Path, host_id: str, key: Any) -> None:
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"{host_id} {key.get_name()} {key.get_base64()}\n")


@dataclass
class Target:
    """Where and as whom to connect, after reading ~/.ssh/config."""

    name: str
    hostname: str
    port: int = 22
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    proxy_jump: str | None = None
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")


def ssh_config_path() -> Path:
    return Path(os.environ.get("NEXARA_SSH_CONFIG") or Path.home() / ".ssh" / "config").expanduser()


def load_ssh_config(path: Path | None = None) -> Any:
    import paramiko

    path = path or ssh_config_path()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except FileNotFoundError:
        return paramiko.SSHConfig()
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read ssh config ({exc})") from exc


def ssh_aliases(path: Path | None = None) -> list[str]:
    """Concrete host aliases in the ssh config (for the TUI's host picker)."""
    return sorted(h for h in load_ssh_config(path).get_hostnames() if not any(c in h for c in "*?!"))


def resolve_target(name: str, ssh_config: Path | None = None,
                   known_hosts: Path | None = None) -> Target:
    """An ~/.ssh/config alias or `user@host[:port]`, resolved with Paramiko's SSHConfig."""
    user = port = None
    host = name
    if "@" in host:
        user, host = host.rsplit("@", 1)
    if host.count(":") == 1:
        host, _, p = host.partition(":")
        if not p.isdigit():
            raise NexaraError(f"{name}: port must be a number")
        port = int(p)
    if not host:
        raise NexaraError(f"{name!r}: not a host (use an ~/.ssh/config alias or user@host[:port])")
    cfg = load_ssh_config(ssh_config).lookup(host)
    kh = known_hosts
    if kh is None and cfg.get("userknownhostsfile"):
        kh = Path(os.path.expanduser(cfg["userknownhostsfile"].split()[0]))
    return Target(
        name=name, hostname=cfg.get("hostname", host), port=port or int(cfg.get("port", 22)),
        user=user or cfg.get("user") or getpass.getuser(),
        identity_files=[os.path.expanduser(p) for p in cfg.get("identityfile", [])],
        proxy_jump=cfg.get("proxyjump"),
        known_hosts=kh or Path.home() / ".ssh" / "known_hosts",
    )


class _LinkLost(Exception):
    """The transport died under a running command."""


def _cli_passphrase(path: str) -> str | None:
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"passphrase for {path}: ")


class SSHHost(Host):
    """The engine on a remote machine; see the module docstring."""

    def __init__(
        self,
        name: str,
        remote_nexara: str | None = None,
        env: dict[str, str] | None = None,
        *,
        ssh_config: Path | None = None,
        known_hosts: Path | None = None,
        passphrase_callback: Callable[[str], str | None] | None = _cli_passphrase,
        on_state: Callable[[str, str], None] | None = None,
        keepalive: float = 5.0,
        reconnect_timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ):
        from core.config import load_config

        hc = load_config().hosts.get(name)
        self.name = name
        self.target = resolve_target(name, ssh_config, known_hosts)
        self._ssh_config = ssh_config
        self.remote_nexara = remote_nexara or (hc.remote_nexara if hc else None)
        self.env = {**(hc.env if hc else {}), **(env or {})}
        self.passphrase_callback = passphrase_callback
        self.on_state = on_state
        self.keepalive = keepalive
        self.reconnect_timeout = reconnect_timeout
        self.connect_timeout = connect_timeout
        self.state = "down"
        self.state_message = "not connected"
        self.pending_host_key: UnknownHostKey | None = None
        self._client: Any = None
        self._jump: SSHHost | None = None
        self._sftp: Any = None
        self._pkeys: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._closed = False
        self._monitor: threading.Thread | None = None

    # ------------------------------------------------------------ connection

    def _set_state(self, state: str, message: str) -> None:
        changed = (state, message) != (self.state, self.state_message)
        self.state, self.state_message = state, message
        if changed and self.on_state:
            with contextlib.suppress(Exception):
                self.on_state(state, message)

    def _transport(self) -> Any:
        return self._client.get_transport() if self._client else None

    def _alive(self) -> bool:
        t = self._transport()
        return bool(t and t.is_active())

    def _load_keys(self) -> tuple[list[Any], list[str]]:
        """(usable keys, encrypted key files without a known passphrase)."""
        import paramiko

        keys, locked = [], []
        for path in self.target.identity_files:
            if path in self._pkeys:
                keys.append(self._pkeys[path])
                continue
            if not os.path.isfile(path):
                continue
            try:
                self._pkeys[path] = _load_key(path, None)
                keys.append(self._pkeys[path])
            except paramiko.PasswordRequiredException:
                locked.append(path)
            except (paramiko.SSHException, ValueError, OSError) as exc:
                raise NexaraError(f"{path}: cannot read SSH key ({exc})") from exc
        return keys, locked

    def _connect_once(self) -> None:
        import paramiko

        t = self.target
        sock = None
        if t.proxy_jump:
            hop = t.proxy_jump.split(",")[0].strip()
            if self._jump is None or not self._jump._alive():
                if self._jump is not None:
                    self._jump.close()
                self._jump = SSHHost(hop, ssh_config=self._ssh_config, known_hosts=t.known_hosts,
                                     passphrase_callback=self.passphrase_callback,
                                     keepalive=self.keepalive, reconnect_timeout=0)
                self._jump._connect_once()
            sock = self._jump._transport().open_channel(
                "direct-tcpip", (t.hostname, t.port), ("127.0.0.1", 0))
        client = paramiko.SSHClient()
        if t.known_hosts.is_file():
            client.load_host_keys(str(t.known_hosts))
        client.set_missing_host_key_policy(_RefusePolicy(self))
        keys, locked = self._load_keys()
        # Explicit IdentityFile keys first, then ssh-agent / ~/.ssh/id_* (None).
        attempts: list[Any] = list(keys)
        if os.environ.get("SSH_AUTH_SOCK") or not t.identity_files:
            attempts.append(None)
        last: Exception | None = None
        for pkey in attempts:
            try:
                client.connect(
                    t.hostname, t.port, username=t.user, pkey=pkey, sock=sock,
                    allow_agent=pkey is None, look_for_keys=pkey is None and not t.identity_files,
                    timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                    auth_timeout=self.connect_timeout,
                )
                break
            except UnknownHostKey:
                client.close()
                raise
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise HostKeyChanged(_host_id(t), exc.key, exc.expected_key, t.known_hosts) from None
            except (paramiko.AuthenticationException, paramiko.SSHException) as exc:
                if not isinstance(exc, paramiko.AuthenticationException) and \
                        "authentication methods" not in str(exc):
                    client.close()
                    raise
                last = exc
                if sock is not None:  # a used channel cannot carry a second handshake
                    sock = self._jump._transport().open_channel(  # type: ignore[union-attr]
                        "direct-tcpip", (t.hostname, t.port), ("127.0.0.1", 0))
        else:
            for path in locked:
                pw = self.passphrase_callback(path) if self.passphrase_callback else None
                if not pw:
                    continue
                try:
                    self._pkeys[path] = _load_key(path, pw)
                except (paramiko.SSHException, ValueError) as exc:
                    raise NexaraError(f"{path}: wrong passphrase or unreadable key ({exc})") from exc
                self._connect_once()  # now with the unlocked key
                return
            client.close()
            raise NexaraError(f"{t.name}: authentication failed for {t.user}@{t.hostname}:{t.port} "
                              f"({last}); check IdentityFile / ssh-agent")
        transport = client.get_transport()
        transport.set_keepalive(max(1, int(self.keepalive)))
        old, self._client, self._sftp = self._client, client, None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
        self._set_state("connected", f"{t.user}@{t.hostname}:{t.port}")
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor = threading.Thread(target=self._watch, name=f"ssh-watch-{t.name}", daemon=True)
            self._monitor.start()

    def connect(self) -> None:
        """Connect now (raises UnknownHostKey / HostKeyChanged / NexaraError)."""
        self._ensure()

    def accept_host_key(self, fingerprint: str | None = None) -> None:
        """Trust the key of the last `UnknownHostKey`; with `fingerprint`, only if it matches."""
        pending = self.pending_host_key
        if pending is None:
            raise NexaraError(f"{self.name}: no unknown host key to accept (connect first)")
        if fingerprint and fingerprint != pending.fingerprint:
            raise NexaraError(f"{self.name}: host key is {pending.fingerprint}, not {fingerprint}; not saved")
        pending.accept()
        self.pending_host_key = None

    def _ensure(self) -> Any:
        with self._lock:
            if self._closed:
                raise NexaraError(f"{self.name}: connection closed")
            if self._alive():
                return self._client
            if self._client is None:
                try:
                    self._connect_once()
                except NexaraError as exc:
                    self._set_state("down", exc.message)
                    raise
                except (OSError, EOFError, Exception) as exc:  # paramiko raises assorted types
                    msg = f"{self.name}: cannot connect to {self.target.hostname}:{self.target.port} ({exc})"
                    self._set_state("down", msg)
                    raise NexaraError(msg) from exc
                return self._client
            self._reconnect()
            return self._client

    def _reconnect(self) -> None:
        self._set_state("reconnecting", f"link to {self.name} lost; reconnecting")
        deadline = time.monotonic() + self.reconnect_timeout
        delay = 0.25
        while True:
            try:
                self._connect_once()
                return
            except (UnknownHostKey, HostKeyChanged) as exc:
                self._set_state("down", exc.message)
                raise
            except Exception as exc:
                if self._closed or time.monotonic() + delay > deadline:
                    msg = (f"{self.name}: connection lost and not re-established within "
                           f"{self.reconnect_timeout:.0f} s ({exc})")
                    self._set_state("down", msg)
                    raise NexaraError(msg) from exc
                self._set_state("reconnecting", f"reconnecting to {self.name} in {delay:.1f} s ({exc})")
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _probe(self) -> bool:
        """True if the peer answers a global request within 3 keepalive periods."""
        t = self._transport()
        if t is None or not t.is_active():
            return False
        done = threading.Event()

        def ask() -> None:
            with contextlib.suppress(Exception):
                t.global_request("keepalive@openssh.com", wait=True)
            done.set()

        threading.Thread(target=ask, daemon=True).start()
        return done.wait(3 * self.keepalive) and t.is_active()

    def _watch(self) -> None:
        """Notice a dead link within seconds and bring it back, so the header is honest."""
        last_probe = time.monotonic()
        while not self._closed:
            time.sleep(min(1.0, self.keepalive))
            if self._closed:
                return
            if not self._alive():
                with contextlib.suppress(Exception):
                    self._ensure()
                continue
            if time.monotonic() - last_probe >= self.keepalive:
                last_probe = time.monotonic()
                if not self._probe() and not self._closed:
                    t = self._transport()
                    if t is not None:
                        t.close()  # unresponsive: drop it; the next round reconnects

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for obj in (self._sftp, self._client, self._jump):
                if obj is not None:
                    with contextlib.suppress(Exception):
                        obj.close()
            self._sftp = self._client = self._jump = None
        self._set_state("down", "closed")

    # ------------------------------------------------------------ commands

    def _nexara(self) -> tuple[str, str]:
        """(shell prefix, the remote nexara as a shell word): configured, else on PATH, else our venv.

        Unconfigured, the lookup runs inside the same remote command rather than as
        a command of its own: one shell start per call instead of two on a new link
        (the remote ~/.bashrc runs for each, often 0.1 s or more with pyenv).
        """
        if self.remote_nexara:
            return "", _shell_path(self.remote_nexara)
        missing = shlex.quote(f"nexara: not installed on {self.name} (run `nexara remote install "
                              f"{self.name}`, or give --remote-nexara PATH)")
        prefix = ('N=$(command -v nexara 2>/dev/null) || N="$HOME/' + DEFAULT_VENV + '/bin/nexara"; '
                  '[ -x "$N" ] || { echo ' + missing + ' >&2; exit 127; }; ')
        return prefix, '"$N"'

    def command_line(self, argv: Sequence[str], env: dict[str, str] | None = None) -> str:
        """The remote shell command for `nexara <argv>`: every word quoted."""
        prefix, nexara = self._nexara()
        words = ["exec"]
        env = {**self.env, **(env or {})}
        if env:
            words.append("env")
            words += [shlex.quote(f"{k}={v}") for k, v in env.items()]
        words.append(nexara)
        words += [shlex.quote(str(a)) for a in argv]
        return prefix + " ".join(words)

    def _open(self, command: str) -> Any:
        client = self._ensure()
        try:
            chan = client.get_transport().open_session(timeout=self.connect_timeout)
            chan.exec_command(command)
        except Exception as exc:
            if not self._alive():
                raise _LinkLost(str(exc)) from exc
            raise NexaraError(f"{self.name}: cannot run a command ({exc})") from exc
        chan.shutdown_write()
        chan.settimeout(1.0)
        return chan

    def _lines(self, chan: Any, err: bytearray) -> Iterator[bytes]:
        """Complete stdout lines as they arrive; raises _LinkLost if the link dies first."""
        buf = b""
        while True:
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
                del err[:-_STDERR_KEEP]
            try:
                data = chan.recv(65536)
            except TimeoutError:
                if not chan.get_transport().is_active():
                    raise _LinkLost("transport closed") from None
                continue
            except (OSError, EOFError) as exc:
                raise _LinkLost(str(exc)) from exc
            if not data:
                break
            buf += data
            if b"\n" in buf:
                *lines, buf = buf.split(b"\n")
                yield from lines
        status = chan.recv_exit_status()
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        if status == -1 and not chan.get_transport().is_active():
            raise _LinkLost("no exit status")
        if buf:
            yield buf  # a last line without newline, from a finished command

    def exec_capture(self, command: str, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run a raw shell command (already quoted!) and return (rc, stdout, stderr)."""
        chan = self._open(command)
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
                        raise NexaraError(f"{self.name}: connection lost while running a command") from None
                    if deadline and time.monotonic() > deadline:
                        raise NexaraError(f"{self.name}: command timed out after {timeout} s") from None
                    continue
                if not data:
                    break
                out += data
            rc = chan.recv_exit_status()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
        finally:
            chan.close()
        return rc, bytes(out), bytes(err)

    def run(self, argv: Sequence[str], timeout: float | None = None) -> RunResult:
        try:
            rc, out, err = self.exec_capture(self.command_line(argv), timeout)
        except _LinkLost as exc:
            raise NexaraError(f"{self.name}: connection lost while running nexara {argv[:1]}") from exc
        return RunResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def stream(self, argv: Sequence[str], *, detach: bool | None = None) -> Iterator[dict[str, Any]]:
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
            chan = self._open(self.command_line(argv))
            try:
                for line in self._lines(chan, err):
                    ev = parse_line(line)
                    if ev is not None:
                        saw_error = saw_error or ev.get("type") == "error"
                        yield ev
                rc = chan.recv_exit_status()
            finally:
                chan.close()
        except _LinkLost as exc:
            raise NexaraError(f"{self.name}: connection lost during `nexara {argv[0]}` (run long work "
                              f"with `nexara job start --host {self.name} -- …`)") from exc
        if rc != 0 and not saw_error:
            raise NexaraError(command_failed(self.name, argv, rc, bytes(err)))

    def _start_attached(self, argv: list[str]) -> Iterator[tuple[int, bytes | dict[str, Any]]]:
        """Start a job and follow it in one remote command; yields (0, job event), then raw lines.

        After a dropped link it goes on with `attach` from the byte offset reached.
        """
        cmd = self.command_line(["job", "start", "--json", "--attach", "--", *argv])
        job_id: str | None = None
        pos = 0
        err = bytearray()
        try:
            chan = self._open(cmd)
            try:
                for line in self._lines(chan, err):
                    if job_id is None:
                        ev = parse_line(line)
                        if ev and ev.get("type") == "error":
                            raise NexaraError(str(ev.get("message")))
                        if not (ev and ev.get("type") == "job" and ev.get("id")):
                            continue
                        job_id = str(ev["id"])
                        yield 0, event("job", id=job_id, host=self.name)
                        continue
                    pos += len(line) + 1
                    yield pos, line
                rc = chan.recv_exit_status()
            finally:
                chan.close()
        except _LinkLost as exc:
            if job_id is None:
                raise NexaraError(f"{self.name}: connection lost while starting `nexara {argv[0]}`; "
                                  f"see `nexara job list --host {self.name}`") from exc
            yield from self.attach_raw(job_id, pos)
            return
        if job_id is None or rc != 0:
            raise NexaraError(command_failed(self.name, ["job"], rc, bytes(err)))

    def _stream_job(self, argv: list[str]) -> Iterator[dict[str, Any]]:
        saw_error = False
        end: dict[str, Any] = {}
        job_id = None
        try:
            for _, item in self._start_attached(argv):
                if isinstance(item, dict):
                    job_id = item["id"]
                    yield item
                    continue
                ev = parse_line(item)
                if ev is None:
                    continue
                if ev.get("type") == "job_end":
                    end = ev
                    continue
                saw_error = saw_error or ev.get("type") == "error"
                yield ev
        except KeyboardInterrupt:
            if job_id:
                with contextlib.suppress(Exception):
                    self.cancel_job(job_id)
            raise
        if end.get("status") != "finished" and not saw_error:
            raise NexaraError(f"nexara {argv[0]} on {self.name} (job {job_id}) ended "
                              f"{end.get('status', 'unexpectedly')} (rc {end.get('rc')}); "
                              f"see the job's stderr.log on the host")

    # ------------------------------------------------------------ jobs

    def start_job(self, argv: Sequence[str], env: dict[str, str] | None = None) -> str:
        cmd = self.command_line(["job", "start", "--json", "--", *[str(a) for a in argv]], env)
        rc, out, err = self.exec_capture(cmd, timeout=60)
        for line in out.splitlines():
            ev = parse_line(line)
            if ev and ev.get("type") == "job" and ev.get("id"):
                return str(ev["id"])
            if ev and ev.get("type") == "error":
                raise NexaraError(str(ev.get("message")))
        raise NexaraError(command_failed(self.name, ["job"], rc, err))

    def attach_raw(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[tuple[int, bytes]]:
        """(offset_after_line, raw line) from the host's log, re-attaching after a dropped link."""
        pos = offset
        while True:
            argv = ["job", "attach", job_id, "--from", str(pos), "--json"]
            if not follow:
                argv.append("--no-follow")
            err = bytearray()
            try:
                chan = self._open(self.command_line(argv))
                try:
                    for line in self._lines(chan, err):
                        pos += len(line) + 1
                        yield pos, line
                    rc = chan.recv_exit_status()
                finally:
                    chan.close()
            except _LinkLost:
                continue  # _open → _ensure reconnects with backoff, or gives up with an error
            if rc != 0:
                raise NexaraError(command_failed(self.name, ["job", "attach"], rc, bytes(err)))
            return

    def attach(self, job_id: str, offset: int = 0, follow: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
        for pos, line in self.attach_raw(job_id, offset, follow):
            ev = parse_line(line)
            if ev is not None:
                yield pos, ev

    def jobs(self) -> list[JobInfo]:
        rc, out, err = self.exec_capture(self.command_line(["job", "list", "--json"]), timeout=60)
        if rc != 0:
            raise NexaraError(command_failed(self.name, ["job"], rc, err))
        fields = set(JobInfo.__dataclass_fields__)
        infos = []
        for line in out.splitlines():
            ev = parse_line(line)
            if ev and ev.get("type") == "job":
                infos.append(JobInfo(**{k: v for k, v in ev.items() if k in fields}))
        return infos

    def cancel_job(self, job_id: str) -> None:
        rc, _, err = self.exec_capture(self.command_line(["job", "cancel", job_id, "--json"]), timeout=60)
        if rc != 0:
            raise NexaraError(command_failed(self.name, ["job"], rc, err))

    # ------------------------------------------------------------ files (SFTP)

    def _with_sftp(self, what: str, path: str, fn: Callable[[Any], Any]) -> Any:
        for attempt in (0, 1):
            try:
                with self._lock:
                    self._ensure()
                    if self._sftp is None:
                        self._sftp = self._client.open_sftp()
                    sftp = self._sftp
                return fn(sftp)
            except FileNotFoundError:
                raise
            except OSError as exc:
                if attempt == 0 and not self._alive():
                    continue
                if exc.errno is not None or exc.strerror:
                    raise NexaraError(f"{self.name}:{path}: cannot {what} ({exc.strerror or exc})") from exc
                raise NexaraError(f"{self.name}:{path}: cannot {what} ({exc})") from exc
            except EOFError as exc:
                if attempt == 0:
                    self._sftp = None
                    continue
                raise NexaraError(f"{self.name}:{path}: cannot {what} (connection lost)") from exc
        raise AssertionError("unreachable")

    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        def read(sftp: Any) -> bytes:
            with sftp.open(_sftp_path(path), "rb") as fh:
                fh.seek(offset)
                fh.prefetch()
                return fh.read() if length is None else fh.read(length)

        try:
            return self._with_sftp("read", path, read)
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{path}: no such file") from exc

    def write_file(self, path: str, data: bytes) -> None:
        p = _sftp_path(path)
        tmp = f"{p}.nexara-{os.getpid()}.tmp"

        def write(sftp: Any) -> None:
            with sftp.open(tmp, "wb") as fh:
                fh.write(data)
            sftp.posix_rename(tmp, p)

        try:
            self._with_sftp("write", path, write)
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{path}: folder does not exist") from exc

    def stat_file(self, path: str) -> tuple[int, float] | None:
        def stat(sftp: Any) -> tuple[int, float]:
            st = sftp.stat(_sftp_path(path))
            return int(st.st_size), float(st.st_mtime)

        try:
            return self._with_sftp("stat", path, stat)
        except FileNotFoundError:
            return None

    def list_dir(self, path: str) -> list[FileEntry] | None:
        import stat as st_mode

        def listing(sftp: Any) -> list[FileEntry] | None:
            p = _sftp_path(path)
            if not st_mode.S_ISDIR(sftp.stat(p).st_mode or 0):
                return None
            return [FileEntry(a.filename, int(a.st_size or 0), float(a.st_mtime or 0),
                              st_mode.S_ISDIR(a.st_mode or 0)) for a in sftp.listdir_attr(p)]

        try:
            return self._with_sftp("list", path, listing)
        except FileNotFoundError:
            return None

    def remove_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already gone: the goal is reached
            self._with_sftp("remove", path, lambda sftp: sftp.remove(_sftp_path(path)))

    def upload(self, local: Path, remote: str) -> None:
        """Copy a local file to the host (e.g. the wheel for `remote install`)."""
        try:
            self._with_sftp("upload", remote, lambda sftp: sftp.put(str(local), _sftp_path(remote)))
        except FileNotFoundError as exc:
            raise NexaraError(f"{self.name}:{remote}: folder does not exist") from exc


class _RefusePolicy:
    """Unknown host key → UnknownHostKey (remembered on the host for accept_host_key)."""

    def __init__(self, host: SSHHost):
        self.host = host

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        exc = UnknownHostKey(hostname, key, self.host.target.known_hosts)
        self.host.pending_host_key = exc
        raise exc


def _load_key(path: str, passphrase: str | None) -> Any:
    """A private key file of any type; PasswordRequiredException if it is encrypted and no passphrase."""
    import paramiko

    try:
        return paramiko.PKey.from_path(path, passphrase.encode() if passphrase else None)
    except TypeError as exc:  # cryptography's way of saying "encrypted, no password given"
        if "password" in str(exc).lower():
            raise paramiko.PasswordRequiredException(str(exc)) from exc
        raise


def _host_id(t: Target) -> str:
    return t.hostname if t.port == 22 else f"[{t.hostname}]:{t.port}"


def _shell_path(path: str) -> str:
    """Quote a path for the remote shell, keeping a leading ~/ meaning the remote home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _sftp_path(path: str) -> str:
    """SFTP paths are relative to the remote home; `~/x` means the same."""
    if path == "~":
        return "."
    return path[2:] if path.startswith("~/") else path
