"""Whom we trust: host keys checked against known_hosts, never accepted silently.

Host keys are checked against known_hosts (`~/.ssh/known_hosts`, or the
alias's `UserKnownHostsFile`). An unknown key raises `UnknownHostKey` carrying
its SHA256 fingerprint; nothing is saved until the caller calls `accept()`
(or `SSHHost.accept_host_key`). A key that differs from the saved one raises
`HostKeyChanged` and is never accepted here. There is no AutoAddPolicy.

known_hosts is read here, not by Paramiko's `HostKeys.load`, because OpenSSH's
format has markers Paramiko does not know: one `@cert-authority` or `@revoked`
line made every connection fail with "Incorrect padding". As OpenSSH does,
`@cert-authority` lines are skipped (we verify plain host keys, not host
certificates) and `@revoked` keys are refused whichever host offers them;
a line that cannot be read is skipped, not fatal.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import NexaraError

if TYPE_CHECKING:
    import paramiko


class UnknownHostKey(NexaraError):
    """The host offered a key that known_hosts does not list. Call `accept()` to trust it."""

    def __init__(self, host_id: str, key: paramiko.PKey, known_hosts: Path):
        self.host_id = host_id
        self.key = key
        self.key_type = key.get_name()
        self.fingerprint: str = key.fingerprint  # "SHA256:…", as `ssh-keygen -l` prints it
        self.known_hosts = known_hosts
        super().__init__(
            f"{host_id}: unknown host key {self.key_type} {self.fingerprint}; check it and accept "
            f"it explicitly (`nexara remote trust HOST`) to save it to {known_hosts}", 3)

    def accept(self) -> None:
        """Append this key to known_hosts (created with mode 600 if missing)."""
        save_host_key(self.known_hosts, self.host_id, self.key)


class HostKeyChanged(NexaraError):
    """The host's key differs from the one in known_hosts: refused, never overwritten here."""

    def __init__(self, host_id: str, got: paramiko.PKey, expected: paramiko.PKey, known_hosts: Path):
        self.host_id = host_id
        self.fingerprint: str = got.fingerprint
        self.expected_fingerprint: str = expected.fingerprint
        self.known_hosts = known_hosts
        super().__init__(
            f"WARNING: host key for {host_id} has CHANGED (now {got.get_name()} {got.fingerprint}, "
            f"known_hosts has {expected.fingerprint}); someone may be intercepting the connection. "
            f"Refusing to connect. If the host was really reinstalled, remove the old key with "
            f"`ssh-keygen -R '{host_id}' -f {known_hosts}`", 3)


class HostKeyRevoked(NexaraError):
    """The host offered a key that known_hosts marks `@revoked`: refused, as OpenSSH does."""

    def __init__(self, host_id: str, key: paramiko.PKey, known_hosts: Path):
        self.host_id = host_id
        self.fingerprint: str = key.fingerprint
        super().__init__(
            f"{host_id}: host key {key.get_name()} {key.fingerprint} is marked @revoked in "
            f"{known_hosts}; refusing to connect", 3)


def save_host_key(known_hosts: Path, host_id: str, key: paramiko.PKey) -> None:
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"{host_id} {key.get_name()} {key.get_base64()}\n")


@dataclass
class KnownHosts:
    """What a known_hosts file says: trusted (host pattern, key) pairs and revoked keys."""

    path: Path
    trusted: list[tuple[str, paramiko.PKey]] = field(default_factory=list)
    revoked: list[paramiko.PKey] = field(default_factory=list)
    skipped: int = 0  # lines that are neither (cert authorities, unreadable keys, unknown key types)

    def is_revoked(self, key: paramiko.PKey) -> bool:
        blob = key.asbytes()
        return any(r.asbytes() == blob for r in self.revoked)

    def install(self, client: paramiko.SSHClient) -> None:
        """Hand the trusted keys that are not revoked to a Paramiko client."""
        keys = client.get_host_keys()
        for host, key in self.trusted:
            if not self.is_revoked(key):
                keys.add(host, key.get_name(), key)


def _key(key_type: str, b64: str) -> paramiko.PKey | None:
    import paramiko

    try:
        blob = base64.b64decode(b64.encode("ascii"), validate=True)
        return paramiko.PKey.from_type_string(key_type, blob)
    except (binascii.Error, ValueError, UnicodeEncodeError, paramiko.SSHException):
        return None  # unreadable, or a type Paramiko does not know: skip, as OpenSSH warns and goes on
    except Exception:  # noqa: BLE001 - cryptography's assorted errors for a mangled key blob
        return None


def load_known_hosts(path: Path) -> KnownHosts:
    """Parse an OpenSSH known_hosts file (missing: empty). A NexaraError only if it cannot be read."""
    kh = KnownHosts(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return kh
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read known_hosts ({exc.strerror or exc})") from exc
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = fields.pop(0) if fields[0].startswith("@") else None
        if marker not in (None, "@revoked") or len(fields) < 3:
            kh.skipped += 1  # @cert-authority (host certificates are not used here) or too short
            continue
        hosts, key_type, b64 = fields[:3]
        key = _key(key_type, b64)
        if key is None:
            kh.skipped += 1
        elif marker == "@revoked":
            kh.revoked.append(key)
        else:
            kh.trusted.extend((h, key) for h in hosts.split(",") if h)
    return kh


class RefusePolicy:
    """Paramiko's missing-host-key hook: a revoked key is refused, an unknown one raises UnknownHostKey.

    The UnknownHostKey is also handed to `on_unknown` (the host keeps it for
    `accept_host_key`).
    """

    def __init__(self, known: KnownHosts, on_unknown: Any = None):
        self.known = known
        self.on_unknown = on_unknown

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if self.known.is_revoked(key):
            raise HostKeyRevoked(hostname, key, self.known.path)
        exc = UnknownHostKey(hostname, key, self.known.path)
        if self.on_unknown is not None:
            self.on_unknown(exc)
        raise exc
