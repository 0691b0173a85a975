"""Opening a host from the TUI, asking the user what SSH needs to know.

Runs in a worker thread (an SSH handshake takes seconds). When the host key
is unknown, the user sees its fingerprint and must accept it explicitly (never
a silent auto-add); when a key file is encrypted, the passphrase is asked for
in a modal. The thread blocks on the modal's answer; the UI stays live.

Written against the `Host` protocol (`connect`) and the SSH layer's own
exception (`core.host.ssh.UnknownHostKey`, which carries the fingerprint and
`accept()`); `open_host` keyword arguments are `on_state` and
`passphrase_callback`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Protocol, TypeVar

from rich.markup import escape
from textual.app import App
from textual.screen import Screen

from core.errors import NexaraError
from core.host import Host, LinkWatcher
from core.host.ssh.trust import UnknownHostKey
from nexara_tui.screens.prompts import ConfirmScreen, PromptScreen

R = TypeVar("R")


class HostOpener(Protocol):
    """`core.host.open_host`, or a test's stand-in with the same keywords."""

    def __call__(self, name: str, **kwargs: Any) -> Host: ...


def ask_from_thread(app: App[object], screen: Screen[R], timeout: float | None = None) -> R | None:
    """Push a modal from a worker thread and wait for its result."""
    done = threading.Event()
    box: list[R | None] = []

    def answered(result: R | None) -> None:
        box.append(result)
        done.set()

    app.call_from_thread(app.push_screen, screen, answered)
    done.wait(timeout)
    return box[0] if box else None


def describe_error(exc: BaseException) -> str:
    msg = exc.message if isinstance(exc, NexaraError) else (str(exc) or type(exc).__name__)
    return msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__


def open_interactive(app: App[object], name: str, opener: HostOpener,
                     on_state: LinkWatcher | None = None) -> Host:
    """Open host `name` with `opener(name, **kwargs)`, prompting as needed. Raises on failure."""

    def passphrase(what: str) -> str | None:
        answer = ask_from_thread(app, PromptScreen(f"Passphrase for {what}:", password=True))
        if answer is None:
            raise NexaraError(f"{name}: passphrase not given")
        return answer

    if name in ("", "local"):
        return opener(name)
    kwargs: dict[str, object] = {"passphrase_callback": passphrase}
    if on_state is not None:
        kwargs["on_state"] = on_state
    host = opener(name, **kwargs)
    for _ in range(3):
        try:
            host.connect()  # an SSHHost connects lazily; do it here, where we can ask the user
            return host
        except UnknownHostKey as exc:
            ok = ask_from_thread(app, ConfirmScreen(
                f"The host key of [b]{escape(exc.host_id)}[/b] is not in ~/.ssh/known_hosts.\n\n"
                f"Key: [b]{escape(exc.key_type)} {escape(exc.fingerprint)}[/b]\n\n"
                "Compare it with the one your provider shows. Accept it and save it?"))
            if not ok:
                with contextlib.suppress(Exception):
                    host.close()
                raise NexaraError(f"{exc.host_id}: host key {exc.fingerprint} not accepted; "
                                  "not connected") from exc
            exc.accept()
        except BaseException:
            with contextlib.suppress(Exception):
                host.close()
            raise
    raise NexaraError(f"{name}: could not connect")
