"""`nexara`: every capability of the engine as a subcommand.

Each subcommand lives in `core/commands/<name>.py` and follows one protocol, so
that local, `--json` and `--host` runs share one code path:

- `register(sub)` adds its parser and calls `p.set_defaults(cmd=<module>)`;
- `events(args) -> Iterable[dict]` does the work where the data is and yields
  events (see `core.events`); it raises `NexaraError` for bad input;
- `render(events, args) -> int` consumes the stream on the user's side: human
  output with rich unless `args.json` (the dispatcher then prints the events
  itself), and any local files (`--report`, `--csv`, `--write-config`);
- or, for commands that only make sense on the user's side (tui, remote, job
  control), a plain `run(args) -> int`;
- optionally `remote_events(host, argv, args) -> Iterable[dict]`, used instead
  of `host.stream(argv)` with `--host` when the command needs more than one
  remote step (quarantine: plan there, confirm here, move there).

With `--host H` the dispatcher runs the same command on H as `nexara … --json`
and feeds the events it sends back to the local `render`. Options that name a
local output file are listed in `p.set_defaults(client_options=(...))` and are
not forwarded. Abbreviated options are refused (`allow_abbrev=False`): the
forwarded argv is the user's, and `--hos gpu` must not slip past the filter
that strips `--host gpu`.

Bad arguments are one line naming the option (`number()` checks that a value
is a finite number in range), never argparse's usage block.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from core import __version__
from core.errors import NexaraError
from core.events import Event, EventType, as_event, emit, event, raise_on_error

N = TypeVar("N", int, float)

COMMAND_MODULES = (
    "demo", "scan", "results", "preview", "decide", "dupes", "ingest", "quarantine", "restore",
    "repair", "extract", "train", "evaluate", "monitor", "job", "remote", "tui", "redownload",
)


def add_common(p: argparse.ArgumentParser, *, json_output: bool = True, host: bool = True) -> None:
    """The options every engine command takes."""
    if json_output:
        p.add_argument("--json", action="store_true", help="one JSON event per line on stdout, for machines")
    if host:
        p.add_argument("--host", metavar="H", help="run on H (an ~/.ssh/config alias or user@host[:port])")
        p.add_argument("--remote-nexara", metavar="PATH", help="the nexara executable to run on H")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and no abbreviated options (subparsers inherit both)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("nexara").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"nexara: {where}{message} (see `{self.prog} --help`)\n")


def number(kind: type[N], *, gt: float | None = None, ge: float | None = None,
           lt: float | None = None, le: float | None = None) -> Callable[[str], N]:
    """An argparse `type`: a finite `kind` within the bounds, or an error saying what is wrong.

    `float("nan")` parses, and NaN passes every `x <= 0` check written to refuse
    bad values (`--timeout nan` once disabled the per-file time limit): here
    NaN and infinities are refused before any bound is looked at.
    """
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        for bound, ok, sign in ((gt, lambda b: value > b, ">"), (ge, lambda b: value >= b, ">="),
                                (lt, lambda b: value < b, "<"), (le, lambda b: value <= b, "<=")):
            if bound is not None and not ok(bound):
                raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {sign} {bound:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nexara",
        description="Rescue and train on large, messy video datasets.",
    )
    parser.add_argument("--version", action="version", version=f"nexara {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"core.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"core.commands.{name}":
                continue  # not written yet
            raise
        mod.register(sub)
    return parser


def remote_argv(argv: Sequence[str], client_options: Iterable[str]) -> list[str]:
    """The argv to run on the host: without --host/--remote-nexara and local-only outputs, with --json.

    Exact names suffice: the parser refuses abbreviations, so an option that got
    this far is spelled out (`--host H` or `--host=H`).
    """
    strip = {"--host", "--remote-nexara", *client_options}
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in strip:
            skip = "=" not in a
            continue
        out.append(a)
    if "--json" not in out:
        out.append("--json")
    return out


def _echo_json(events: Iterable[Event], emitted: list[Event]) -> Iterator[Event]:
    """Print each event as it passes; remember the last one to know if an error was shown."""
    for ev in events:
        emit(ev)
        emitted[:] = [ev]
        yield ev


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an unwritable local output before the work starts, not after a two-hour scan."""
    import os
    from pathlib import Path

    for opt in getattr(args, "client_options", ()):
        value = getattr(args, opt.lstrip("-").replace("-", "_"), None)
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_dir():
            raise NexaraError(f"{path}: {opt} names a directory, not a file")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent  # the first folder that exists is created from
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise NexaraError(f"{path}: cannot write {opt} here ({parent} is not a writable folder)")


def dispatch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    cmd = args.cmd
    if not hasattr(cmd, "events"):
        return cmd.run(args)
    check_outputs(args)
    host_name = getattr(args, "host", None)
    stream: Iterable[Event]
    if host_name and host_name != "local":
        from core.host import open_host

        host = open_host(host_name, remote_nexara=getattr(args, "remote_nexara", None))
        forwarded = remote_argv(argv, getattr(args, "client_options", ()))
        # A command that must talk to the user between remote steps (quarantine's
        # "move these? [y/N]") drives the host itself through `remote_events`.
        remote_events = getattr(cmd, "remote_events", None)
        stream = _typed(remote_events(host, forwarded, args)) if remote_events else host.stream(forwarded)
    else:
        stream = _typed(cmd.events(args))
    if getattr(args, "json", False):
        # Machines get every event, including the error, and the exit code. An
        # error raised by `render` itself (a local --report that cannot be written)
        # never went through the stream, so it is emitted here: never a silent exit.
        emitted: list[Event] = []
        try:
            return int(cmd.render(raise_on_error(_echo_json(_guard(stream), emitted)), args))
        except NexaraError as exc:
            if not (emitted and emitted[-1]["type"] == EventType.ERROR):
                emit(event("error", message=exc.message, exit_code=exc.exit_code))
                print(f"nexara: {exc.message}", file=sys.stderr)
            return exc.exit_code
    return int(cmd.render(raise_on_error(stream), args))


def _typed(stream: Iterable[Mapping[str, Any]]) -> Iterator[Event]:
    """A command's own events (made with `event()`), seen through the contract."""
    for ev in stream:
        yield as_event(ev)


def _guard(stream: Iterable[Event]) -> Iterator[Event]:
    """Turn a NexaraError raised by the engine into an `error` event."""
    try:
        yield from stream
    except NexaraError as exc:
        yield as_event(event("error", message=exc.message, exit_code=exc.exit_code))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    # The subcommand's own argv, for forwarding to a host.
    sub_argv = argv[argv.index(args.command):] if args.command in argv else argv
    try:
        return dispatch(args, sub_argv)
    except NexaraError as exc:
        if getattr(args, "json", False):
            emit(event("error", message=exc.message, exit_code=exc.exit_code))
        print(f"nexara: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nexara: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # The last line of defence: one line naming the file, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"nexara: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
