"""Helpers for the repair tests: real damaged clips, a real scan, independent decode checks.

Every clip is encoded by the demo generator and damaged in its bytes
(`core.demo.make_damaged`, `write_clip`, `damage_truncate`); the checks that
a repaired clip "decodes end to end" use two decoders that are not the scan
engine: OpenCV (first, middle and last frame by index) and PyAV (every frame,
with FFmpeg's log captured: no error line, no concealed frame).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

from core.dataset import QUARANTINE_DIR
from core.demo import damage_truncate, make_damaged, write_clip
from core.journal import JOURNAL_NAME, REPAIR_DIR, REPAIR_STAGING

# x264 with B-frames forced and a B-pyramid: display order differs from decode order.
BFRAMES = {"x264-params": "scenecut=0:bframes=3:b-adapt=0:b-pyramid=normal"}


def scan(root: Path, level: str = "standard") -> None:
    from core.scan import scan as run_scan

    for _ in run_scan(root, level=level, workers=1):
        pass


def add_references(root: Path, folder: str = "train/violent", seconds: float = 2.0) -> list[str]:
    """Healthy clips a lost index can borrow from: the demo's H.264 160x120 25 fps, plus decoys
    (another resolution, HEVC, Matroska) that must not be picked for an H.264 160x120 file."""
    d = root / folder
    rels = []
    for name, kw in [("ref_h264.mp4", {}),
                     ("ref_small.mp4", {"size": (178, 98), "fps": 12.5}),
                     ("ref_hevc.mp4", {"codec": "hevc"}),
                     ("ref_mkv.mkv", {"container": "mkv"})]:
        write_clip(d / name, "nonviolent", faststart=False, seconds=seconds, seed=101, **kw)
        rels.append(f"{folder}/{name}")
    return rels


def damaged(root: Path, rel: str, kind: str, seed: int = 1, seconds: float = 3.0) -> Path:
    return make_damaged(root / rel, kind, label="violent", seed=seed, seconds=seconds)


def cut_copy(clean: Path, out: Path, fraction: float) -> Path:
    """A copy of `clean` cut to `fraction` of its bytes (a download that stopped)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clean, out)
    damage_truncate(out, fraction)
    return out




def flip_between(path: Path, t0: float, t1: float, seed: int = 0) -> int:
    """Flip bits all through the video packets shown between t0 and t1 s (keyframes included):
    a stretch of the picture destroyed, the footage around it intact. Returns packets hit."""
    import av

    rng = random.Random(seed)
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        spans = [(int(p.pos), int(p.size)) for p in c.demux(vs)
                 if p.size and p.pts is not None and t0 <= float(p.pts * vs.time_base) < t1]
    data = bytearray(path.read_bytes())
    for pos, size in spans:
        for i in range(pos + 8, pos + size, 16):
            data[rng.randrange(i, min(i + 16, pos + size))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return len(spans)


def pyav_frames(path: Path) -> list:
    """Every decoded frame as RGB arrays; AssertionError on any decoder error or concealed frame."""
    import av
    import av.logging as avlog

    old = avlog.get_level()
    avlog.set_level(avlog.ERROR)
    try:
        with avlog.Capture(local=False) as logs, av.open(str(path)) as c:
            vs = c.streams.video[0]
            vs.codec_context.thread_count = 1
            frames = []
            for f in c.decode(vs):
                assert not f.is_corrupt, f"{path.name}: concealed frame at pts {f.pts}"
                frames.append(f.to_ndarray(format="rgb24"))
        errors = [m for lvl, name, m in logs if lvl <= avlog.ERROR]
        assert not errors, f"{path.name}: decoder errors: {errors[:3]}"
    finally:
        avlog.set_level(old)
    return frames


def opencv_first_middle_last(path: Path) -> int:
    """OpenCV opens the clip and reads its first, middle and last frame by index; returns the count."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        assert cap.isOpened(), f"{path.name}: OpenCV cannot open it"
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        assert n > 0, f"{path.name}: OpenCV sees no frames"
        for idx in (0, n // 2, n - 1):
            cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
            ok, frame = cap.read()
            assert ok and frame is not None and frame.size, f"{path.name}: OpenCV cannot read frame {idx} of {n}"
        return n
    finally:
        cap.release()


def assert_decodes_end_to_end(path: Path, min_frames: int = 1) -> int:
    frames = pyav_frames(path)
    n_cv = opencv_first_middle_last(path)
    assert len(frames) >= min_frames, f"{path.name}: {len(frames)} frames"
    assert abs(n_cv - len(frames)) <= 1, f"{path.name}: OpenCV counts {n_cv}, PyAV decodes {len(frames)}"
    return len(frames)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, str]:
    """rel → sha256 of every file; quarantined ones as `Q:<rel>`; the journal and the repair
    folders (generated copies: staged, or moved aside) left out."""
    out = {}
    skip = (f"{QUARANTINE_DIR}/{REPAIR_DIR}/", f"{REPAIR_STAGING}/")
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if rel == f"{QUARANTINE_DIR}/{JOURNAL_NAME}" or rel.startswith(skip):
                continue
            key = "Q:" + rel[len(QUARANTINE_DIR) + 1:] if rel.startswith(QUARANTINE_DIR + "/") else rel
            out[key] = sha(p)
    return out


def mdat_with_junk(clean: Path, out: Path, rng: random.Random) -> int:
    """An MP4 with no moov whose mdat holds the clean clip's video samples with random non-video
    chunks between them (noise, zero padding, AAC-like bytes); returns the number of samples."""
    import av

    with av.open(str(clean)) as c:
        samples = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    body = bytearray()
    for s in samples:
        if rng.random() < 0.6:
            kind = rng.choice(("noise", "zeros", "aacish"))
            n = rng.randrange(1, 3000)
            if kind == "noise":
                body += rng.randbytes(n)
            elif kind == "zeros":
                body += bytes(n)
            else:  # mono AAC raw frames start with 0x00/0x01 then the global gain
                for _ in range(rng.randrange(1, 6)):
                    body += bytes([rng.choice((0, 1)), rng.randrange(100, 160)]) + rng.randbytes(rng.randrange(80, 400))
        body += s
    ftyp = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    mdat = (8 + len(body)).to_bytes(4, "big") + b"mdat" + bytes(body)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(ftyp + mdat)
    return len(samples)
