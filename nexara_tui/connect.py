"""Opening a host from the TUI, asking the user what SSH needs to know.

Runs in a worker thread (an SSH handshake takes seconds). When the host key
is unknown, the user sees its fingerprint and must accept it explicitly (never
a silent auto-add); when a key file is encrypted, the passphrase is asked for
in a modal. The thread blocks on the modal's answer; the UI stays live.
Written against `core.hosts.open_host` keyword arguments (`on_state`,
`passphrase_callback`) and duck-types the host-key exception, so it keeps
working if the SSH layer's exception classes change shape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from rich.markup import escape

from core.errors import NexaraError
from nexara_tui.screens.prompts import ConfirmScreen, PromptScreen


def ask_from_thread(app: Any, screen: Any, timeout: float | None = None) -> Any:
    """Push a modal from a worker thread and wait for its result."""
    done = threading.Event()
    box: list[Any] = []

    def answered(result: Any) -> None:
        box.append(result)
        done.set()

    app.call_from_thread(app.push_screen, screen, answered)
    done.wait(timeout)
    return box[0] if box else None


def unknown_host_key(exc: BaseException) -> tuple[str, str] | None:
    """(hostname, fingerprint) if `exc` says the host key is unknown, else None."""
    name = type(exc).__name__.lower()
    fp = getattr(exc, "fingerprint", None)
    if fp and ("unknown" in name or "unknown" in str(exc).lower()) and "changed" not in name:
        host = (getattr(exc, "host_id", None) or getattr(exc, "hostname", None)
                or getattr(exc, "host", None) or "this host")
        return str(host), str(fp)
    return None


def describe_error(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(msg).strip().splitlines()[0] if str(msg).strip() else type(exc).__name__


def open_interactive(app: Any, name: str, opener: Callable[..., Any],
                     on_state: Callable[..., None] | None = None) -> Any:
    """Open host `name` with `opener(name, **kwargs)`, prompting as needed. Raises on failure."""

    def passphrase(*args: Any, **_kw: Any) -> str | None:
        what = str(args[0]) if args else "your SSH key"
        answer = ask_from_thread(app, PromptScreen(f"Passphrase for {what}:", password=True))
        if answer is None:
            raise NexaraError(f"{name}: passphrase not given")
        return answer

    kwargs: dict[str, Any] = {}
    if name not in ("", "local"):
        kwargs["passphrase_callback"] = passphrase
        if on_state is not None:
            kwargs["on_state"] = on_state
    try:
        host = opener(name, **kwargs)
    except TypeError as exc:
        if not (kwargs and "unexpected keyword" in str(exc)):
            raise
        host = opener(name)  # an opener without prompt support: open plainly
    connect = getattr(host, "connect", None)
    if not callable(connect):
        return host  # LocalHost: nothing to connect
    for _ in range(3):
        try:
            connect()  # SSHHost connects lazily; do it here, where we can ask the user
            return host
        except Exception as exc:
            unknown = unknown_host_key(exc)
            if unknown is None:
                with contextlib.suppress(Exception):
                    host.close()
                raise
            where, fp = unknown
            ok = ask_from_thread(app, ConfirmScreen(
                f"The host key of [b]{escape(where)}[/b] is not in ~/.ssh/known_hosts.\n\n"
                f"Key: [b]{escape(str(getattr(exc, 'key_type', '')))} {escape(fp)}[/b]\n\n"
                "Compare it with the one your provider shows. Accept it and save it?"))
            if not ok:
                with contextlib.suppress(Exception):
                    host.close()
                raise NexaraError(f"{where}: host key {fp} not accepted; not connected") from exc
            accept = getattr(exc, "accept", None) or getattr(host, "accept_host_key", None)
            accept()
    raise NexaraError(f"{name}: could not connect")
