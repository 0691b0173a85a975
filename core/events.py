"""JSON-lines events: the one wire format between the engine and its faces.

Every engine command can emit its work as a stream of events (one JSON object
per line, each with `v` (schema version), `type` and `t` (unix time)). The same
stream is printed by `--json`, written to a detached job's `events.jsonl`,
carried over SSH, and rendered by the CLI and the TUI. Readers ignore unknown
keys and unknown types, so adding either is not a breaking change; removing or
changing the meaning of a key is, and bumps `SCHEMA_VERSION`.

Common types: `progress` (done, total, rate, eta_s), `file` (result: a
FileResult dict), `summary`, `log` (message), `error` (message, exit_code),
`epoch` (training record), `job_end` (rc).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from core.errors import NexaraError

SCHEMA_VERSION = 1


def event(type_: str, **fields: Any) -> dict[str, Any]:
    return {"v": SCHEMA_VERSION, "type": type_, "t": round(time.time(), 3), **fields}


def dumps(ev: dict[str, Any]) -> str:
    # ensure_ascii keeps every line 7-bit clean: file names with newlines or
    # odd bytes cannot split a record, whatever the transport.
    return json.dumps(ev, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)


def emit(ev: dict[str, Any], out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    out.write(dumps(ev) + "\n")
    out.flush()


def parse_line(line: str | bytes) -> dict[str, Any] | None:
    """One event from one line, or None for a blank or torn line."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line:
        return None
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return None
    return ev if isinstance(ev, dict) and "type" in ev else None


def raise_on_error(events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pass events through, turning an `error` event back into a NexaraError."""
    for ev in events:
        if ev.get("type") == "error":
            raise NexaraError(ev.get("message", "unknown error"), int(ev.get("exit_code", 2)))
        yield ev


def drain(events: Iterable[dict[str, Any]]) -> int:
    """Consume a stream whose events the dispatcher already printed (`--json`); exit 0.

    Errors still surface: the stream raises them (see `raise_on_error`).
    """
    for _ in events:
        pass
    return 0
