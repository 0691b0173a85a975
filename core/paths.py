"""Where Nexara keeps its own state, which is never inside the user's dataset.

The state directory follows XDG (`~/.local/state/nexara`) and can be moved with
`NEXARA_STATE_DIR`; tests point it at a temporary directory.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def state_dir() -> Path:
    env = os.environ.get("NEXARA_STATE_DIR")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = Path(xdg) / "nexara" if xdg else Path.home() / ".local" / "state" / "nexara"
    base.mkdir(parents=True, exist_ok=True)
    return base


def jobs_dir() -> Path:
    d = state_dir() / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def store_path_for(root: Path) -> Path:
    """One SQLite file per dataset, named by the dataset's resolved path."""
    resolved = str(Path(root).resolve())
    digest = hashlib.sha1(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = Path(resolved).name or "root"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
    d = state_dir() / "stores"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{safe}-{digest}.sqlite"
