"""`nexara tui [ROOT]`: the terminal UI, on this machine or driving a host over SSH.

Runs only on the user's side (a plain `run`, never forwarded with --host): the
app itself talks to the host. Textual is imported inside `run`, so `nexara
--help` and every other command stay fast and `core` never imports Textual at
module level.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import NexaraError
from core.records import LEVELS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tui",
        help="open the terminal UI (scan, decide, quarantine, monitor)",
        description=(
            "Open Nexara's terminal UI on ROOT. With --host the engine runs on that machine "
            "(an ~/.ssh/config alias or user@host[:port]) and ROOT is a path there. "
            "Inside tmux, `set -s escape-time 0` removes the escape-key lag."
        ),
    )
    p.add_argument("root", metavar="ROOT", nargs="?", help="the dataset folder (on the host)")
    p.add_argument("--host", metavar="H", help="drive H over SSH instead of this machine")
    p.add_argument("--remote-nexara", metavar="PATH", help="the nexara executable to run on H")
    p.add_argument("--scan", action="store_true", help="start a scan of ROOT at once")
    p.add_argument("--level", choices=LEVELS, default="standard",
                   help="scan level for s / --scan (cycle with l in the app)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run the scans started here on a Dask cluster (tcp://HOST:8786 or local:N; "
                        "see `nexara scan --help`)")
    p.set_defaults(cmd=sys.modules[__name__])


def _local_root(root: str) -> str:
    p = Path(root).expanduser()
    if not p.exists():
        raise NexaraError(f"{root}: no such directory")
    if not p.is_dir():
        raise NexaraError(f"{root}: not a directory (expected a dataset folder)")
    return str(p.resolve())


def run(args: argparse.Namespace) -> int:
    host_name = args.host or "local"
    root = args.root
    if args.scan and not root:
        raise NexaraError("--scan needs ROOT (nexara tui ROOT --scan)")
    if root and host_name == "local":
        root = _local_root(root)
    remote_nexara = args.remote_nexara

    def opener(name: str, **kwargs):
        from core.host import open_host

        return open_host(name, remote_nexara=remote_nexara if name == host_name else None, **kwargs)

    from nexara_tui.app import NexaraApp

    if args.cluster:
        from core.cluster import parse_target

        parse_target(args.cluster)  # a malformed address: one line now, not a failed job later
    app = NexaraApp(root=root, host_name=host_name, scan_on_start=args.scan, level=args.level,
                    host_opener=opener, cluster=args.cluster)
    app.run()
    return int(app.return_code or 0)
