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
from core.schema import SchemaError, convert
from core.tomlfile import read_toml


@dataclass
class HostTable:
    """The schema of a `[hosts.NAME]` table (env values may be TOML numbers: they become strings)."""

    remote_nexara: str | None = None
    env: dict[str, str | int | float] = field(default_factory=dict)


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


def load_config(path: Path | None = None) -> Config:
    """Read the config file; defaults if it does not exist, a one-line error if it is broken."""
    path = path or config_path()
    raw = read_toml(path, "Nexara config", missing_ok=True)
    if raw is None:
        return Config(path=path)
    try:
        tables = convert(dict[str, HostTable], raw.get("hosts", {}), ("hosts",))
    except SchemaError as exc:
        if len(exc.path) < 2:
            raise NexaraError(f"{path}: [hosts] must be a table of [hosts.NAME] tables") from None
        table = f"[hosts.{exc.path[1]}]"
        leaf = ".".join(str(p) for p in exc.path[2:])
        if exc.unknown:
            raise NexaraError(f"{path}: {table}: unknown key '{leaf}'") from None
        raise NexaraError(f"{path}: {table}: {leaf + ' ' if leaf else ''}{exc.problem}") from None
    hosts = {name: HostConfig(t.remote_nexara, {k: str(v) for k, v in t.env.items()})
             for name, t in tables.items()}
    return Config(path=path, hosts=hosts, raw=raw)
