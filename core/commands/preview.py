"""`nexara preview ROOT REL`: a few small frames sampled across one clip.

For the review screens: the TUI shows these (half-block images) next to a
file's verdict so the user can see what `damaged` means before deciding. It
uses the same sampler as training (`core.sampling`), so what the preview
shows missing is what the trainer would miss. Frames travel as base64 raw RGB,
small enough to cross SSH in one event.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.errors import NexaraError
from core.events import event

MAX_FRAMES = 64
MAX_WIDTH = 640


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preview",
        help="sample a few small frames across one clip (what the trainer would get)",
        description="Decode FRAMES frames evenly across ROOT/REL with the training sampler, "
                    "scaled to WIDTH pixels wide, and say which positions have no decodable frame.",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder")
    p.add_argument("rel", metavar="REL", help="the clip, relative to ROOT")
    p.add_argument("--frames", type=int, default=8, metavar="N", help=f"frames to sample (1-{MAX_FRAMES}, default 8)")
    p.add_argument("--width", type=int, default=48, metavar="W", help=f"frame width in pixels (8-{MAX_WIDTH}, default 48)")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def resolve_inside(root: Path, rel: str) -> Path:
    """ROOT/REL, refusing anything that resolves outside ROOT (`..`, absolute paths, symlinks out)."""
    from core.dataset import DatasetError, check_root

    try:
        root = check_root(root)
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise NexaraError(f"{rel}: outside {root}; refusing")
    if not path.is_file():
        raise NexaraError(f"{root / rel}: no such file")
    return path


def _dims(path: Path) -> tuple[int, int] | None:
    import av

    try:
        with av.open(str(path)) as c:
            if c.streams.video:
                vs = c.streams.video[0]
                if vs.width and vs.height:
                    return vs.width, vs.height
    except Exception:
        return None
    return None


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.integrity import check_path
    from core.sampling import sample_frames

    if not 1 <= args.frames <= MAX_FRAMES:
        raise NexaraError(f"--frames {args.frames}: must be between 1 and {MAX_FRAMES}")
    if not 8 <= args.width <= MAX_WIDTH:
        raise NexaraError(f"--width {args.width}: must be between 8 and {MAX_WIDTH}")
    path = resolve_inside(Path(args.root).expanduser(), args.rel)
    dims = _dims(path)
    size = None
    if dims:
        w = args.width
        size = (w, max(2, round(w * dims[1] / dims[0])))
    sampled = sample_frames(path, args.frames, size=size)
    frames: list[dict[str, Any]] = []
    for t, f in zip(sampled.times, sampled.frames, strict=True):
        if f is None:
            frames.append({"t": round(t, 3), "missing": True})
        else:
            frames.append({"t": round(t, 3), "w": int(f.shape[1]), "h": int(f.shape[0]),
                           "rgb": base64.b64encode(f.tobytes()).decode("ascii")})
    messages = check_path(path, "standard").messages
    if sampled.error and sampled.error not in messages:
        messages = [sampled.error, *messages]
    yield event("preview", path=args.rel, duration_s=round(sampled.duration_s, 3),
                frames=frames, messages=messages)


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    for ev in events:
        if ev.get("type") != "preview" or getattr(args, "json", False):
            continue
        frames = ev["frames"]
        got = [f["t"] for f in frames if not f.get("missing")]
        missing = [f["t"] for f in frames if f.get("missing")]
        print(f"{ev['path']}: {len(got)}/{len(frames)} frames decoded across {ev.get('duration_s', 0)} s")
        if got:
            print(f"  decoded at: {', '.join(f'{t:g}' for t in got)} s")
        if missing:
            print(f"  missing at: {', '.join(f'{t:g}' for t in missing)} s")
        for m in ev.get("messages", [])[:10]:
            print(f"  {m}")
    return 0
