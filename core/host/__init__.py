"""Where the engine runs: this machine or the GPU box, behind one `Host` protocol.

    base.py   the protocol (`Host`), `RunResult`, `JobInfo`, `LogLine`
    local.py  `LocalHost`: subprocesses and local files; jobs from `core.jobs`
    ssh/      `SSHHost`: trust.py (known_hosts, host keys), target.py (~/.ssh/config),
              connection.py (the one connection: jump hosts, keepalive, the only
              reconnect with backoff), host.py (commands, jobs, SFTP)

Importing `core.host` loads the protocol only: no Paramiko, no engine module.
`open_host` picks and imports the implementation.
"""

from __future__ import annotations

from typing import Any

from core.host.base import (
    AnyOf,
    FileEntry,
    Host,
    JobInfo,
    LinkWatcher,
    LogLine,
    RunResult,
    StopFlag,
    command_failed,
    temp_list_on,
)


def open_host(name: str | None, remote_nexara: str | None = None, **kwargs: Any) -> Host:
    """'local' (or None) → LocalHost; anything else → SSHHost for that alias or user@host[:port].

    Per-host settings (`remote_nexara`, `env`) come from Nexara's config file
    (`[hosts.NAME]`); an explicit `remote_nexara` argument wins. Extra keyword
    arguments go to `SSHHost` (e.g. `passphrase_callback`, `on_state`).
    """
    from core.config import load_config

    if not name or name == "local":
        from core.host.local import LocalHost

        hc = load_config().hosts.get("local")
        return LocalHost(env=hc.env if hc else None)
    from core.host.ssh import SSHHost

    return SSHHost(name, remote_nexara=remote_nexara, **kwargs)


__all__ = ["AnyOf", "FileEntry", "Host", "StopFlag", "JobInfo", "LinkWatcher", "LogLine", "RunResult", "command_failed", "open_host",
           "temp_list_on"]
