"""The shared frame sampler, on clean and on real damaged clips."""

from __future__ import annotations

import numpy as np
import pytest

from core.dataset import discover
from core.demo import make_damaged, write_clip
from core.integrity import check_file
from core.records import Verdict
from core.sampling import sample_frames, sample_times


def test_sample_times_are_even_and_inside_the_clip():
    ts = sample_times(2.0, 4)
    assert ts == [0.25, 0.75, 1.25, 1.75]
    assert sample_times(2.0, 0) == []
    assert sample_times(0.0, 3) == [0.0, 0.0, 0.0]
    ts = sample_times(8.0, 20)
    assert len(ts) == 20 and all(0 < t < 8.0 for t in ts) and ts == sorted(ts)


@pytest.mark.parametrize("container,codec", [("mp4", "h264"), ("webm", "vp9"), ("avi", "mpeg4"), ("mkv", "h264")])
def test_clean_clip_gives_every_frame_resized(tmp_path, container, codec):
    p = write_clip(tmp_path / f"c.{container}", "nonviolent", container=container, codec=codec,
                   size=(178, 98), fps=12.5, seconds=2.0, seed=1)
    s = sample_frames(p, 20, size=(32, 24))
    assert s.found == 20 and s.error is None
    assert all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in s.frames)
    assert s.decodable_range[0] < 0.2 and s.decodable_range[1] > 1.8
    # Each frame is the one nearest its position, so the times follow the positions.
    assert all(abs(ft - t) <= 0.08 for ft, t in zip(s.frame_times, s.times, strict=True))
    full = sample_frames(p, 3)
    assert full.frames[0].shape == (98, 178, 3)


def test_long_gop_clip_seeks_correctly(tmp_path):
    """8 s, keyframe every 2 s (the user's shape): positions past the first GOP must be reached."""
    p = write_clip(tmp_path / "long.mp4", "violent", size=(96, 64), fps=30, seconds=8.0,
                   keyframe_s=2.0, audio=True, seed=2)
    s = sample_frames(p, 5)
    assert s.found == 5
    assert [round(t, 1) for t in s.frame_times] == [0.8, 2.4, 4.0, 5.6, 7.2]
    # Different positions of chaotic content give different pictures.
    assert np.abs(s.frames[0].astype(int) - s.frames[4].astype(int)).mean() > 10


def test_truncated_clip_misses_only_the_missing_part(tmp_path):
    p = make_damaged(tmp_path / "t.mp4", "truncated_faststart", seed=4)
    s = sample_frames(p, 10)
    assert s.found >= 4 and s.frames[0] is not None
    assert s.frames[-1] is None and s.frames[-2] is None
    assert s.decodable_range[1] < 1.2


@pytest.mark.parametrize("kind", ["zero_byte", "html_page", "random_bytes", "truncated_moov_end",
                                  "no_video_stream", "sample_table_broken"])
def test_unusable_files_give_no_frames_and_no_exception(tmp_path, kind):
    p = make_damaged(tmp_path / f"{kind}.mp4", kind, seed=5)
    s = sample_frames(p, 8)
    assert len(s.frames) == 8 and s.found == 0


def test_damaged_verdict_means_the_sampler_gets_most_frames(demo_dataset):
    """The promise behind `damaged`: a training extractor sampling 20 frames gets (most of) them."""
    damaged = usable_checked = 0
    for v in discover(demo_dataset.root).videos:
        for level in ("standard", "full"):
            r = check_file(demo_dataset.root, v, level)
            if r.verdict is Verdict.CORRUPT:
                continue
            s = sample_frames(demo_dataset.root / v.rel, 20, size=(32, 32))
            usable_checked += 1
            if r.verdict is Verdict.DAMAGED:
                damaged += 1
                assert s.found >= 16, (v.rel, r.reasons, s.found)
            else:
                assert s.found == 20, (v.rel, r.verdict, s.found)
    assert damaged >= 2 and usable_checked >= 20


def test_preview_command_sends_small_frames_and_refuses_escapes(demo_dataset, capsys):
    import base64
    import json

    from core.cli import main

    gt = demo_dataset.ground_truth
    rel = next(r for r, e in gt.files.items() if e.damage == "truncated_faststart")
    assert main(["preview", str(demo_dataset.root), rel, "--frames", "6", "--width", "16", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["type"] == "preview" and ev["path"] == rel and len(ev["frames"]) == 6
    got = [f for f in ev["frames"] if not f.get("missing")]
    assert got and ev["frames"][-1].get("missing") is True
    f = got[0]
    assert f["w"] == 16 and len(base64.b64decode(f["rgb"])) == f["w"] * f["h"] * 3
    assert any("partial file" in m for m in ev["messages"])

    clean = next(r for r, e in gt.files.items() if e.damage == "clean")
    assert main(["preview", str(demo_dataset.root), clean, "--frames", "3"]) == 0
    assert "3/3 frames decoded" in capsys.readouterr().out
    assert main(["preview", str(demo_dataset.root), "../ground_truth.json"]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["preview", str(demo_dataset.root), "train/violent/nope.mp4"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_usable_means_preview_and_extract_get_real_frames(demo_dataset):
    """Issue 10's promise, on every demo damage kind: whatever the scan calls usable, the
    trainer's sampler, `extract` (clip_frames) and `preview` get real pictures from."""
    import json

    from core.cli import main
    from core.sampling import DEFAULT_THRESHOLDS
    from core.training.frames import clip_frames

    gt = demo_dataset.ground_truth.files
    kinds_seen = set()
    for v in discover(demo_dataset.root).videos:
        path = demo_dataset.root / v.rel
        for level in ("standard", "full"):
            r = check_file(demo_dataset.root, v, level)
            if not r.usable:
                continue
            kinds_seen.add(gt[v.rel].damage)
            s = sample_frames(path, DEFAULT_THRESHOLDS.positions, size=(24, 24))
            assert s.usable and s.found >= DEFAULT_THRESHOLDS.min_served, (v.rel, level, r.reasons, s.found)
            frames = clip_frames(path, 10, 32, oversample=3)
            assert frames is not None and frames.shape == (30, 32, 32, 3), v.rel
            assert float(frames.std()) > 1.0  # real pictures, not a blank fill
    assert kinds_seen == {k for k, e in ((e.damage, e) for e in gt.values()) if e.usable}
    rel = next(r for r, e in gt.items() if e.damage == "ts_packet_loss")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["preview", str(demo_dataset.root), rel, "--frames", "8", "--json"]) == 0
    ev = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert sum(not f.get("missing") for f in ev["frames"]) >= 7


def test_sampler_reaches_positions_in_mpegts_and_skips_failing_packets(tmp_path):
    """Issue 10 #1: 12/16 positions on an intact MPEG-TS before; 0 frames after the first bad packet."""
    from core.demo import CONTAINERS

    p = write_clip(tmp_path / f"c{CONTAINERS['ts'][0]}", "violent", container="ts", codec="h264",
                   seconds=3.0, seed=4)
    s = sample_frames(p, 16)
    assert s.found == 16 and s.usable
    # A zeroed stretch mid-clip: the packets there fail, the sampler goes on past them.
    data = bytearray(p.read_bytes())
    a = len(data) // 2
    data[a:a + 188 * 12] = bytes(188 * 12)
    q = tmp_path / "z.ts"
    q.write_bytes(bytes(data))
    z = sample_frames(q, 16)
    assert z.found >= 12 and z.frames[-1] is not None and z.error is None
