"""Nexara's own settings file (not the dataset's, not the training run's).

TOML at `$NEXARA_CONFIG`, else `$XDG_CONFIG_HOME/nexara/config.toml`
(`~/.config/nexara/config.toml`). A missing file means defaults. Known sections
are parsed into typed dataclasses; unknown sections are kept in `Config.raw`
so other parts of Nexara can add their own without touching this module.

    [hosts.gpubox]
    remote_nexara = "/workspace/venv/bin/nexara"   # which nexara runs there
    env = { NEXARA_STATE_DIR = "/workspace/.nexara" }
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.tomlfile import read_toml


@dataclass
class HostConfig:
    """Settings for one host, keyed by the name used with `--host`."""

    remote_nexara: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Config:
    path: Path
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def config_path() -> Path:
    env = os.environ.get("NEXARA_CONFIG")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "nexara" / "config.toml"


def _host(path: Path, name: str, data: Any) -> HostConfig:
    where = f"{path}: [hosts.{name}]"
    if not isinstance(data, dict):
        raise NexaraError(f"{where} must be a table")
    unknown = set(data) - {"remote_nexara", "env"}
    if unknown:
        raise NexaraError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rn = data.get("remote_nexara")
    if rn is not None and not isinstance(rn, str):
        raise NexaraError(f"{where}: remote_nexara must be a string")
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, (str, int, float)) for v in env.values()):
        raise NexaraError(f"{where}: env must be a table of strings")
    return HostConfig(remote_nexara=rn, env={str(k): str(v) for k, v in env.items()})


def load_config(path: Path | None = None) -> Config:
    """Read the config file; defaults if it does not exist, a one-line error if it is broken."""
    path = path or config_path()
    raw = read_toml(path, "Nexara config", missing_ok=True)
    if raw is None:
        return Config(path=path)
    hosts_raw = raw.get("hosts", {})
    if not isinstance(hosts_raw, dict):
        raise NexaraError(f"{path}: [hosts] must be a table of [hosts.NAME] tables")
    hosts = {name: _host(path, name, data) for name, data in hosts_raw.items()}
    return Config(path=path, hosts=hosts, raw=raw)
