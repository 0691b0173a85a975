"""Picking the reference clip whose decoder configuration rebuilds a lost index.

untrunc asks the user for "a similar, working video". Across thousands of
files nobody can answer that, so the dataset answers it: its healthy MP4/MOV
clips are grouped by what the scan store already knows (codec, resolution,
frame rate), and one or two of each group are opened to read their decoder
configuration (avcC/hvcC: codec, profile, parameter sets, NAL length size).
A configuration fits a broken file when

1. the first pictures in the file's `mdat` parse against its SPS/PPS
   (a slice names a PPS it has, first_mb lies inside its picture size, the
   NAL length size frames the units exactly), and
2. those pictures decode with it cleanly on a fresh decoder (no error, no
   concealment, the reference's width and height).

Among the configurations that fit, one from the same encoder wins (the
encoder's SEI, e.g. x264's option string, is identical), then one from the
same folder. `--reference REL` skips the search but not the check.
Configurations are read once per run and shared by every broken file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from core.records import FileResult, Verdict
from core.repair.rebuild_index import DecoderConfig, RebuildError, read_config, walk

PROBE_PICTURES = 3
PROBE_SKIP_BYTES = 1 << 20  # a configuration that finds no picture in the first MB does not fit
PER_GROUP = 2
_MOV_CONTAINERS = ("mov", "mp4")


@dataclass
class Pick:
    config: DecoderConfig
    rel: str  # the reference, relative to ROOT ("" for the file's own index)
    why: str


def _encoder_tag(nals: Iterable[bytes], codec: str) -> bytes | None:
    """The user-data-unregistered SEI text of the first picture (x264/x265 write their options there)."""
    for nal in nals:
        t = nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F
        if (codec == "h264" and t == 6) or (codec == "hevc" and t == 39):
            body = nal[1:] if codec == "h264" else nal[2:]
            if body and body[0] == 5:  # payload type 5: user_data_unregistered
                return body[:4096]
    return None


def _split_nals(data: bytes, length_size: int) -> list[bytes]:
    out, i = [], 0
    while i + length_size <= len(data):
        n = int.from_bytes(data[i:i + length_size], "big")
        out.append(data[i + length_size:i + length_size + n])
        i += length_size + n
    return out


def _first_packet(path: str) -> bytes:
    import av

    try:
        with av.open(path) as c:
            for pkt in c.demux(c.streams.video[0]):
                if pkt.size:
                    return bytes(pkt)
    except (av.error.FFmpegError, IndexError, OSError):
        pass
    return b""


def trial_decode(cfg: DecoderConfig, units: list[bytes]) -> str | None:
    """None if the access units decode cleanly with cfg on a fresh decoder, else why not."""
    import av
    import av.logging as avlog

    ctx = cast(av.VideoCodecContext, av.CodecContext.create(cfg.codec, "r"))
    ctx.extradata = cfg.extradata
    ctx.thread_count = 1
    old = avlog.get_level()
    avlog.set_level(avlog.ERROR)
    try:
        with avlog.Capture(local=False) as logs:
            frames = []
            try:
                for data in units:
                    frames.extend(ctx.decode(av.Packet(data)))
                frames.extend(ctx.decode(None))
            except av.error.FFmpegError as exc:
                return f"decoder refused the pictures: {exc}"
        if any(name == cfg.codec for _, name, _ in logs):
            return "decoder errors: " + next(m for _, name, m in logs if name == cfg.codec).strip()
    finally:
        avlog.set_level(old)
    if not frames:
        return "no picture decoded"
    if any(f.is_corrupt for f in frames):
        return "pictures decoded concealed"
    f = frames[0]
    if cfg.width and cfg.height and (f.width, f.height) != (cfg.width, cfg.height):
        return f"pictures are {f.width}x{f.height}, the reference {cfg.width}x{cfg.height}"
    return None


def probe(path: str, cfg: DecoderConfig) -> tuple[list[bytes], str | None]:
    """(the first pictures' bytes, None) if cfg fits the file's mdat, else ([], why not)."""
    try:
        res = walk(path, cfg, max_units=PROBE_PICTURES, max_skip=PROBE_SKIP_BYTES)
    except (RebuildError, OSError) as exc:
        return [], str(exc)
    units = [u for u in res.units if u.first is not None]
    if not units or not units[0].keyframe:
        return [], "no picture parses against its parameter sets"
    with open(path, "rb") as fh:
        data = []
        for u in units:
            parts = []
            for n in u.nals:
                fh.seek(n.offset)
                parts.append(fh.read(n.size))
            data.append(b"".join(parts))
    why = trial_decode(cfg, data)
    return (data, None) if why is None else ([], why)


class ReferencePicker:
    """The dataset's decoder configurations, read lazily, once."""

    def __init__(self, root: Path, results: Iterable[FileResult], named: str | None = None):
        self.root = Path(root)
        self.named = named
        self._results = [r for r in results if r.verdict in (Verdict.OK, Verdict.WARNING)
                         and (r.codec or "") in ("h264", "hevc")
                         and any(c in (r.container or "") for c in _MOV_CONTAINERS)]
        self._results.sort(key=lambda r: (r.verdict is not Verdict.OK, r.path))  # clean clips first
        self._configs: list[tuple[str, DecoderConfig, bytes | None]] | None = None

    def _load(self) -> list[tuple[str, DecoderConfig, bytes | None]]:
        if self._configs is not None:
            return self._configs
        groups: dict[tuple[object, ...], list[FileResult]] = {}
        for r in self._results:
            g = groups.setdefault((r.codec, r.width, r.height, r.fps), [])
            if len(g) < PER_GROUP:
                g.append(r)
        seen: set[tuple[object, ...]] = set()
        out = []
        for members in groups.values():
            for r in members:
                path = str(self.root / r.path)
                try:
                    cfg = read_config(path)
                except RebuildError:
                    continue
                tag = _encoder_tag(_split_nals(_first_packet(path), cfg.length_size), cfg.codec)
                if (cfg.key(), tag) in seen:
                    continue
                seen.add((cfg.key(), tag))
                out.append((r.path, cfg, tag))
        self._configs = out
        return out

    @property
    def known(self) -> int:
        return len(self._load())

    def pick(self, path: str, rel: str, own: DecoderConfig | None = None) -> Pick:
        """The configuration that rebuilds `path` (RebuildError saying why none does)."""
        if own is not None:
            data, why = probe(path, own)
            if why is None:
                return Pick(own, "", "the file's own decoder configuration (its moov is intact, "
                                     "only the sample table is wrong)")
        if self.named:
            ref_path = os.path.join(self.root, self.named)
            cfg = read_config(ref_path)
            _, why = probe(path, cfg)
            if why is not None:
                raise RebuildError(f"--reference {self.named}: its configuration does not fit: {why}")
            return Pick(cfg, self.named, "named with --reference; its configuration decodes the first pictures")
        fits: list[tuple[int, int, str, DecoderConfig]] = []
        last_why = "the dataset has no healthy H.264/HEVC MP4/MOV clip to borrow a configuration from"
        folder = rel.rpartition("/")[0]
        configs = self._load()
        for i, (ref_rel, cfg, tag) in enumerate(configs):
            data, why = probe(path, cfg)
            if why is not None:
                last_why = f"no healthy clip's configuration fits (last tried {ref_rel}: {why})"
                continue
            same_encoder = tag is not None and _encoder_tag(
                _split_nals(data[0], cfg.length_size), cfg.codec) == tag
            score = (2 if same_encoder else 0) + (1 if ref_rel.rpartition("/")[0] == folder else 0)
            fits.append((score, i, ref_rel, cfg))
            if score >= 2:
                break  # the same encoder: good enough (and most broken files share one)
        if not fits:
            raise RebuildError(last_why)
        score, i, ref_rel, cfg = max(fits, key=lambda f: f[0])
        configs.insert(0, configs.pop(i))  # tried first for the next file: most come from one encoder
        why = (f"{cfg.codec} {cfg.profile} {cfg.width}x{cfg.height}, NAL length {cfg.length_size}: "
               "its parameter sets parse and decode the first pictures cleanly")
        if score >= 2:
            why += "; same encoder settings (identical encoder SEI)"
        return Pick(cfg, ref_rel, why)
