"""Where and as whom to connect: a host name read against ~/.ssh/config (Paramiko's SSHConfig).

A name is an ssh config alias or `user@host[:port]`. Of the config, we use
HostName, Port, User, IdentityFile, UserKnownHostsFile, ProxyJump (a chain
`a,b` means: reach b through a, then the target through b, as `ssh -J a,b`
does) and ProxyCommand (run by `paramiko.ProxyCommand`; `none` means none).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NexaraError

if TYPE_CHECKING:
    import paramiko


@dataclass
class Target:
    """A resolved host."""

    name: str
    hostname: str
    port: int = 22
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    proxy_jump: list[str] = field(default_factory=list)  # hops, first to last
    proxy_command: str | None = None
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")

    @property
    def host_id(self) -> str:
        """The name known_hosts files this host under."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def ssh_config_path() -> Path:
    return Path(os.environ.get("NEXARA_SSH_CONFIG") or Path.home() / ".ssh" / "config").expanduser()


def load_ssh_config(path: Path | None = None) -> paramiko.SSHConfig:
    import paramiko

    path = path or ssh_config_path()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except FileNotFoundError:
        return paramiko.SSHConfig()
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read ssh config ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - Paramiko's parser raises assorted types on bad lines
        raise NexaraError(f"{path}: cannot parse ssh config ({exc})") from exc


def ssh_aliases(path: Path | None = None) -> list[str]:
    """Concrete host aliases in the ssh config (for the TUI's host picker)."""
    return sorted(h for h in load_ssh_config(path).get_hostnames() if not any(c in h for c in "*?!"))


def split_jumps(value: str | None) -> list[str]:
    """ProxyJump's hops; `none` (OpenSSH's "no jump") is no hop."""
    if not value or value.strip().lower() == "none":
        return []
    hops = [h.strip() for h in value.split(",")]
    if any(not h for h in hops):
        raise NexaraError(f"ProxyJump {value!r}: an empty hop")
    return [h.removeprefix("ssh://") for h in hops]


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
    proxy_command = cfg.get("proxycommand")
    if proxy_command is not None and proxy_command.strip().lower() == "none":
        proxy_command = None
    try:
        cfg_port = int(cfg.get("port", 22))
    except ValueError:
        raise NexaraError(f"{name}: Port {cfg.get('port')!r} in the ssh config is not a number") from None
    return Target(
        name=name, hostname=cfg.get("hostname", host), port=port or cfg_port,
        user=user or cfg.get("user") or getpass.getuser(),
        identity_files=[os.path.expanduser(p) for p in cfg.get("identityfile", [])],
        proxy_jump=split_jumps(cfg.get("proxyjump")),
        proxy_command=proxy_command,
        known_hosts=kh or Path.home() / ".ssh" / "known_hosts",
    )
