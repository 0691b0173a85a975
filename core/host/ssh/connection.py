"""One SSH connection to a host, kept alive, and the only place a dropped link is brought back.

Links drop (Wi-Fi, laptop lid). Keepalives go out every few seconds and a
watcher thread probes the link; a dead link is re-established with backoff
(`_reconnect`: 0.25 s doubling to 10 s, for up to `reconnect_timeout`) and
each change of state (`LinkState`: connected / reconnecting / disconnected)
is reported to the watchers (the TUI header). Nothing above this module
retries a connection or sleeps between attempts: a command that lost its
link gets `LinkLost`, calls `open_channel` again, and that call waits here
until the link is back or given up on.

The target may sit behind jump hosts (ProxyJump `a,b`: a connection to `b`
made through `a`, whose channel carries the connection to the target) or a
ProxyCommand (its stdin/stdout carry the connection).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from core.errors import NexaraError
from core.events import LinkState
from core.host.base import LinkWatcher, StopFlag
from core.host.ssh.target import Target, resolve_target
from core.host.ssh.trust import (
    HostKeyChanged,
    HostKeyRevoked,
    RefusePolicy,
    UnknownHostKey,
    load_known_hosts,
)

if TYPE_CHECKING:
    import paramiko

T = TypeVar("T")
READ_TIMEOUT_S = 0.25  # a channel read wakes this often to notice a dead link or a stop request
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 10.0
_STDERR_KEEP = 64 * 1024


class LinkLost(Exception):
    """The transport died under a running command: open a channel again (that reconnects)."""


class Stopped(Exception):
    """The caller's stop event was set while it waited on the link."""


def cli_passphrase(path: str) -> str | None:
    """Ask on the terminal for a key's passphrase (None without a terminal)."""
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"passphrase for {path}: ")


class Connection:
    """A Paramiko client for `target`, through its jump hosts; see the module docstring."""

    def __init__(
        self,
        target: Target,
        *,
        ssh_config: Path | None = None,
        known_hosts: Path | None = None,
        passphrase_callback: Callable[[str], str | None] | None = cli_passphrase,
        keepalive: float = 5.0,
        reconnect_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        jumps: list[str] | None = None,
        watch_link: bool = True,
    ):
        self.target = target
        self.name = target.name
        self.jumps = list(target.proxy_jump if jumps is None else jumps)
        self.ssh_config = ssh_config
        self.known_hosts_override = known_hosts
        self.passphrase_callback = passphrase_callback
        self.keepalive = keepalive
        self.reconnect_timeout = reconnect_timeout
        self.connect_timeout = connect_timeout
        self.state = LinkState.DISCONNECTED
        self.state_message = "not connected"
        self.pending_host_key: UnknownHostKey | None = None
        self.jump: Connection | None = None  # the last hop, itself connected through the earlier ones
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._pkeys: dict[str, paramiko.PKey] = {}
        self._watchers: list[LinkWatcher] = []
        self._lock = threading.RLock()
        self._closed = False
        self._closing = threading.Event()
        self._watch_link = watch_link
        self._monitor: threading.Thread | None = None

    # ------------------------------------------------------------ state

    def watch(self, callback: LinkWatcher) -> None:
        self._watchers.append(callback)

    def _set_state(self, state: LinkState, message: str) -> None:
        changed = (state, message) != (self.state, self.state_message)
        self.state, self.state_message = state, message
        if changed:
            for cb in list(self._watchers):
                with contextlib.suppress(Exception):
                    cb(state, message)

    def transport(self) -> paramiko.Transport | None:
        return self._client.get_transport() if self._client else None

    def alive(self) -> bool:
        t = self.transport()
        return bool(t and t.is_active())

    # ------------------------------------------------------------ connecting

    def _load_keys(self) -> tuple[list[paramiko.PKey], list[str]]:
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
                self._pkeys[path] = load_key(path, None)
                keys.append(self._pkeys[path])
            except paramiko.PasswordRequiredException:
                locked.append(path)
            except (paramiko.SSHException, ValueError, OSError) as exc:
                raise NexaraError(f"{path}: cannot read SSH key ({exc})") from exc
        return keys, locked

    def _sock(self) -> Any:
        """What carries the connection: a channel through the last jump host, a ProxyCommand, or None."""
        t = self.target
        if self.jumps:
            if self.jump is None or not self.jump.alive():
                if self.jump is not None:
                    self.jump.close()
                hop = resolve_target(self.jumps[-1], self.ssh_config, self.known_hosts_override)
                self.jump = Connection(
                    hop, ssh_config=self.ssh_config, known_hosts=self.known_hosts_override,
                    passphrase_callback=self.passphrase_callback, keepalive=self.keepalive,
                    reconnect_timeout=0, connect_timeout=self.connect_timeout,
                    jumps=self.jumps[:-1], watch_link=False)
                try:
                    self.jump.connect_once()
                except UnknownHostKey as exc:
                    self.pending_host_key = exc  # accept_host_key() trusts the hop's key
                    raise
                except NexaraError as exc:
                    raise NexaraError(f"{t.name}: jump host {hop.name}: {exc.message}", exc.exit_code) from exc
            jt = self.jump.transport()
            assert jt is not None
            try:
                return jt.open_channel("direct-tcpip", (t.hostname, t.port), ("127.0.0.1", 0),
                                       timeout=self.connect_timeout)
            except Exception as exc:  # noqa: BLE001 - paramiko's ChannelException and friends
                raise NexaraError(f"{t.name}: jump host {self.jump.name} cannot reach "
                                  f"{t.hostname}:{t.port} ({exc})") from exc
        if t.proxy_command:
            import paramiko

            try:
                return paramiko.ProxyCommand(t.proxy_command)
            except Exception as exc:  # noqa: BLE001 - a command that cannot start
                raise NexaraError(f"{t.name}: ProxyCommand {t.proxy_command!r} failed ({exc})") from exc
        return None

    def connect_once(self) -> None:
        """One attempt to connect (or re-connect); raises on any failure."""
        import paramiko

        t = self.target
        known = load_known_hosts(t.known_hosts)
        sock = self._sock()
        client = paramiko.SSHClient()
        known.install(client)

        def remember(exc: UnknownHostKey) -> None:
            self.pending_host_key = exc

        # Duck-typed: subclassing Paramiko's policy would import Paramiko with this module.
        client.set_missing_host_key_policy(cast("paramiko.MissingHostKeyPolicy", RefusePolicy(known, remember)))
        keys, locked = self._load_keys()
        # Explicit IdentityFile keys first, then ssh-agent / ~/.ssh/id_* (None).
        attempts: list[paramiko.PKey | None] = list(keys)
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
            except (UnknownHostKey, HostKeyRevoked):
                client.close()
                raise
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise HostKeyChanged(t.host_id, exc.key, exc.expected_key, t.known_hosts) from None
            except (paramiko.AuthenticationException, paramiko.SSHException) as exc:
                if not isinstance(exc, paramiko.AuthenticationException) and \
                        "authentication methods" not in str(exc):
                    client.close()
                    raise
                last = exc
                client.close()
                if sock is not None:  # a used channel or proxy cannot carry a second handshake
                    sock = self._sock()
        else:
            for path in locked:
                pw = self.passphrase_callback(path) if self.passphrase_callback else None
                if not pw:
                    continue
                try:
                    self._pkeys[path] = load_key(path, pw)
                except (paramiko.SSHException, ValueError) as exc:
                    raise NexaraError(f"{path}: wrong passphrase or unreadable key ({exc})") from exc
                self.connect_once()  # now with the unlocked key
                return
            client.close()
            raise NexaraError(f"{t.name}: authentication failed for {t.address} "
                              f"({last}); check IdentityFile / ssh-agent")
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(max(1, int(self.keepalive)))
        old, self._client, self._sftp = self._client, client, None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
        self._set_state(LinkState.CONNECTED, t.address)
        if self._watch_link and (self._monitor is None or not self._monitor.is_alive()):
            self._monitor = threading.Thread(target=self._watch, name=f"ssh-watch-{t.name}", daemon=True)
            self._monitor.start()

    def ensure(self, stop: StopFlag | None = None) -> paramiko.SSHClient:
        """A live client: connects the first time, and brings a dropped link back (with backoff)."""
        with self._lock:
            if self._closed:
                raise NexaraError(f"{self.name}: connection closed")
            if self.alive():
                assert self._client is not None
                return self._client
            if self._client is None:
                try:
                    self.connect_once()
                except NexaraError as exc:
                    self._set_state(LinkState.DISCONNECTED, exc.message)
                    raise
                except Exception as exc:  # noqa: BLE001 - paramiko and sockets raise assorted types
                    msg = f"{self.name}: cannot connect to {self.target.hostname}:{self.target.port} ({exc})"
                    self._set_state(LinkState.DISCONNECTED, msg)
                    raise NexaraError(msg) from exc
            else:
                self._reconnect(stop)
            assert self._client is not None
            return self._client

    def _reconnect(self, stop: StopFlag | None) -> None:
        """The one reconnect loop: backoff from BACKOFF_FIRST_S doubling to BACKOFF_MAX_S."""
        self._set_state(LinkState.RECONNECTING, f"link to {self.name} lost; reconnecting")
        deadline = time.monotonic() + self.reconnect_timeout
        delay = BACKOFF_FIRST_S
        while True:
            try:
                self.connect_once()
                return
            except (UnknownHostKey, HostKeyChanged, HostKeyRevoked) as exc:
                self._set_state(LinkState.DISCONNECTED, exc.message)
                raise
            except Exception as exc:  # noqa: BLE001 - any failure to connect: try again
                if self._closed or time.monotonic() + delay > deadline:
                    msg = (f"{self.name}: connection lost and not re-established within "
                           f"{self.reconnect_timeout:.0f} s ({exc})")
                    self._set_state(LinkState.DISCONNECTED, msg)
                    raise NexaraError(msg) from exc
                self._set_state(LinkState.RECONNECTING,
                                f"reconnecting to {self.name} in {delay:.1f} s ({exc})")
                if self._pause(delay, stop):
                    raise Stopped() from None
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _pause(self, seconds: float, stop: StopFlag | None) -> bool:
        """Wait `seconds`; True at once if the caller's `stop` is set or the connection closes."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if stop is not None and stop.is_set():
                return True
            if self._closing.wait(min(left, 0.1)):
                return True
        return bool(stop is not None and stop.is_set())

    def _probe(self) -> bool:
        """True if the peer answers a global request within 3 keepalive periods."""
        t = self.transport()
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
        while not self._closing.wait(min(1.0, self.keepalive)):
            if not self.alive():
                with contextlib.suppress(Exception):
                    self.ensure()
                continue
            if time.monotonic() - last_probe >= self.keepalive:
                last_probe = time.monotonic()
                if not self._probe() and not self._closed:
                    t = self.transport()
                    if t is not None:
                        t.close()  # unresponsive: drop it; the next round reconnects

    # ------------------------------------------------------------ channels and SFTP

    def open_channel(self, command: str, stop: StopFlag | None = None) -> paramiko.Channel:
        """Run `command` on the host; its channel reads time out every READ_TIMEOUT_S."""
        client = self.ensure(stop)
        try:
            transport = client.get_transport()
            assert transport is not None
            chan = transport.open_session(timeout=self.connect_timeout)
            chan.exec_command(command)
        except Exception as exc:  # noqa: BLE001 - a link that died between ensure and here
            if not self.alive():
                raise LinkLost(str(exc)) from exc
            raise NexaraError(f"{self.name}: cannot run a command ({exc})") from exc
        chan.shutdown_write()
        chan.settimeout(READ_TIMEOUT_S)
        return chan

    def lines(self, chan: paramiko.Channel, err: bytearray,
              stop: StopFlag | None = None) -> Iterator[bytes]:
        """Complete stdout lines as they arrive; LinkLost if the link dies first, Stopped on `stop`."""
        buf = b""
        while True:
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
                del err[:-_STDERR_KEEP]
            try:
                data = chan.recv(65536)
            except TimeoutError:
                if stop is not None and stop.is_set():
                    raise Stopped() from None
                if not chan.get_transport().is_active():
                    raise LinkLost("transport closed") from None
                continue
            except (OSError, EOFError) as exc:
                raise LinkLost(str(exc)) from exc
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
            raise LinkLost("no exit status")
        if buf:
            yield buf  # a last line without newline, from a finished command

    def sftp(self, what: str, path: str, fn: Callable[[paramiko.SFTPClient], T]) -> T:
        """`fn(sftp)`, once more on a fresh link if the first try lost it; one-line errors."""
        for attempt in (0, 1):
            try:
                with self._lock:
                    client = self.ensure()
                    if self._sftp is None:
                        self._sftp = client.open_sftp()
                    sftp = self._sftp
                return fn(sftp)
            except FileNotFoundError:
                raise
            except OSError as exc:
                if attempt == 0 and not self.alive():
                    continue
                raise NexaraError(f"{self.name}:{path}: cannot {what} ({exc.strerror or exc})") from exc
            except EOFError as exc:
                if attempt == 0:
                    self._sftp = None
                    continue
                raise NexaraError(f"{self.name}:{path}: cannot {what} (connection lost)") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed = True
        self._closing.set()
        with self._lock:
            for obj in (self._sftp, self._client, self.jump):
                if obj is not None:
                    with contextlib.suppress(Exception):
                        obj.close()
            self._sftp = self._client = self.jump = None
        self._set_state(LinkState.DISCONNECTED, "closed")


def load_key(path: str, passphrase: str | None) -> paramiko.PKey:
    """A private key file of any type; PasswordRequiredException if it is encrypted and no passphrase."""
    import paramiko

    # Bytes, whatever the stubs say: cryptography decrypts with bytes, and Paramiko passes them on.
    password: Any = passphrase.encode() if passphrase else None
    try:
        return paramiko.PKey.from_path(path, password)
    except TypeError as exc:  # cryptography's way of saying "encrypted, no password given"
        if "password" in str(exc).lower():
            raise paramiko.PasswordRequiredException(str(exc)) from exc
        raise
