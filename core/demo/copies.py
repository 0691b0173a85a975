"""Copies of clips made the ways scraped footage gets copied, and the demo's planted duplicates.

Every copy is decoded from the original's bytes and re-encoded with PyAV (or
remuxed packet for packet), so what the fingerprint sees is what a re-upload
gives: another quality, another size, a cut head, another container, a logo.
The duplicates tests, the threshold benchmark and `nexara demo make` use them.

`plant_duplicates` is the demo's hook (called once from `core.demo.dataset.iter_make_demo`):
a full demo (every damage kind) of at least PLANT_MIN_CLIPS clips per class
gets a remuxed copy of a train clip in test (leakage), a downscaled re-encode
of a train clip next to it (a redundant copy) and a byte-identical copy in val
(an exact copy), all clean and listed in the ground truth, with `duplicates`
(copy → original) beside it.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

PLANT_MIN_CLIPS = 4


def reencode(
    src: Path | str,
    dst: Path | str,
    crf: int = 32,
    scale: float = 1.0,
    trim_head_s: float = 0.0,
    trim_tail_s: float = 0.0,
    box: bool = False,
    container: str = "mp4",
    gop: int | None = None,
) -> Path:
    """Decode `src`, optionally cut, shrink and stamp a box, encode H.264 at `crf` into `dst`."""
    import av

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp:
        vs = inp.streams.video[0]
        rate = vs.average_rate or Fraction(25)
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(vs)]
    n_head = round(trim_head_s * float(rate))
    n_tail = round(trim_tail_s * float(rate))
    frames = frames[n_head:len(frames) - n_tail if n_tail else None]
    h, w = frames[0].shape[:2]
    ow, oh = (max(16, int(w * scale)) // 2 * 2, max(16, int(h * scale)) // 2 * 2)
    fmt = {"mp4": "mp4", "mkv": "matroska", "mov": "mov"}[container]
    with av.open(str(dst), "w", format=fmt) as out:
        st = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast",
                                                           "x264-params": "scenecut=0"})
        st.width, st.height, st.pix_fmt = ow, oh, "yuv420p"
        st.codec_context.gop_size = gop or max(1, round(float(rate)))
        for i, rgb in enumerate(frames):
            if box:
                rgb = rgb.copy()
                bh, bw = max(2, h // 7), max(2, w // 7)
                rgb[h - bh - 2:h - 2, w - bw - 2:w - 2] = (255, 255, 255)  # a white logo box
                rgb[h - bh:h - 4, w - bw:w - 4] = (200, 30, 30)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if (ow, oh) != (w, h):
                frame = frame.reformat(width=ow, height=oh)
            frame.pts = i
            frame.time_base = 1 / rate
            out.mux(st.encode(frame))
        out.mux(st.encode(None))
    return dst


def remux(src: Path | str, dst: Path | str) -> Path:
    """The same packets in another container (by `dst`'s extension): no re-encode."""
    import av

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ins = inp.streams.video[0]
        ost = out.add_stream_from_template(ins)
        for pkt in inp.demux(ins):
            if pkt.dts is None:
                continue
            pkt.stream = ost
            out.mux(pkt)
    return dst


def plant_duplicates(root: Path | str, candidates: list[str], clips_per_class: int,
                     kinds: list[str] | None = None) -> dict[str, str]:
    """Write the demo's planted copies (see module doc); returns copy → original (rel paths).

    `candidates`: the clean H.264 MP4 clips of the demo (relative paths) to copy from.
    Part of the full demo only: a demo restricted to some damage kinds (`kinds` not
    None, e.g. the clean datasets the training tests build) gets none. The caller
    lists the copies in the ground truth and the demo's marker.
    """
    root = Path(root)
    if clips_per_class < PLANT_MIN_CLIPS or kinds is not None:
        return {}

    def first_clean(folder: str) -> str | None:
        return next((rel for rel in sorted(candidates) if rel.startswith(folder + "/")), None)

    planted: dict[str, str] = {}
    leak = first_clean("train/violent")
    if leak:
        copy = "test/violent/reupload_of_training_clip.mkv"
        remux(root / leak, root / copy)
        planted[copy] = leak
    near = first_clean("train/nonviolent")
    if near:
        copy = "train/nonviolent/nonviolent_small_reencode.mp4"
        reencode(root / near, root / copy, crf=34, scale=0.5)
        planted[copy] = near
    exact = first_clean("val/violent")
    if exact:
        copy = exact.rsplit(".", 1)[0] + " (1).mp4"
        shutil.copyfile(root / exact, root / copy)
        planted[copy] = exact
    return dict(sorted(planted.items()))
