"""App-wide state that outlives any one screen.

Kept out of the widgets so a screen can be rebuilt (or swapped by a later
helper) without losing what the user did: quarantine approvals survive leaving
the quarantine screen, the last scan summary is there for the decision screen
before it has ever been shown, and every header reads the same host line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.events import LinkState

LINK_STATES = tuple(LinkState)  # the one vocabulary the host's connection and every header share


@dataclass
class AppState:
    host_name: str = "local"
    link_state: LinkState = LinkState.CONNECTED
    link_detail: str = ""  # e.g. the last connection error, one line
    root: str | None = None  # the dataset root, a path ON THE HOST
    level: str = "standard"
    approvals: set[str] = field(default_factory=set)  # relative paths approved for quarantine
    dupe_approvals: set[str] = field(default_factory=set)  # duplicate copies approved (Duplicates view)
    last_summary: dict[str, Any] | None = None  # core.summary.Summary.to_dict() of the last scan
    last_scan_level: str | None = None
    scan_running: bool = False
    cluster: str | None = None  # `--cluster` for scans started here: tcp://host:port or local:N
    scan_share: int | None = None  # percent done of the running scan, for the headers
