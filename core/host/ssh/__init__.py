"""`SSHHost` and what a caller needs to handle its errors; Paramiko is imported only on connecting.

    trust.py       known_hosts (with @cert-authority / @revoked), UnknownHostKey, HostKeyChanged
    target.py      an alias or user@host[:port] read against ~/.ssh/config (ProxyJump, ProxyCommand)
    connection.py  the connection: jump hosts, keepalive, the only reconnect with backoff
    host.py        SSHHost: commands, detached jobs under a client-chosen id, SFTP
"""

from __future__ import annotations

from core.host.ssh.connection import Connection, LinkLost
from core.host.ssh.host import DEFAULT_VENV, DETACH_COMMANDS, SSHHost, sftp_path, shell_path
from core.host.ssh.target import Target, resolve_target, ssh_aliases, ssh_config_path
from core.host.ssh.trust import HostKeyChanged, HostKeyRevoked, UnknownHostKey, load_known_hosts

__all__ = [
    "DEFAULT_VENV", "DETACH_COMMANDS", "Connection", "HostKeyChanged", "HostKeyRevoked", "LinkLost",
    "SSHHost", "Target", "UnknownHostKey", "load_known_hosts", "resolve_target", "sftp_path",
    "shell_path", "ssh_aliases", "ssh_config_path",
]
