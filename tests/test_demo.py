"""The demo generator: layout, ground truth, real damage, learnable classes, CLI."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.demo import (
    DAMAGE_KINDS,
    GROUND_TRUTH_NAME,
    MARKER_NAME,
    GroundTruth,
    apply_damage,
    make_damaged,
    make_demo,
    render_frames,
    write_clip,
)
from core.errors import NexaraError
from core.sampling import sample_frames


def test_demo_layout_and_ground_truth(demo_dataset):
    root, gt = demo_dataset.root, demo_dataset.ground_truth
    for split in ("train", "val", "test"):
        for label in ("violent", "nonviolent"):
            assert (root / split / label).is_dir()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {
        GROUND_TRUTH_NAME, MARKER_NAME}
    assert on_disk == set(gt.files)
    assert {e.damage for e in gt.files.values()} == set(DAMAGE_KINDS)
    raw = json.loads((root / GROUND_TRUTH_NAME).read_text(encoding="utf-8"))
    assert raw["version"] == 1
    entry = next(iter(raw["files"].values()))
    assert {"damage", "usable", "expected_verdicts", "expected_reasons"} <= set(entry)
    assert GroundTruth.load(root).files == gt.files
    # Every container and odd names are represented among the clean clips.
    assert {e.container for e in gt.files.values()} >= {"mp4", "mkv", "webm", "avi"}
    assert any(" " in rel for rel in gt.files) and any(not rel.isascii() for rel in gt.files)


def test_default_demo_has_a_realistic_damage_share():
    from core.demo import DAMAGE_PLAN

    n_clean = 2 * 16 + 4 * 7  # train: 16 per class; val and test: ceil(40 %)
    n_damaged = sum(len(v) for v in DAMAGE_PLAN.values())
    share = n_damaged / (n_clean + n_damaged)
    assert 0.25 <= share <= 0.35
    assert len(DAMAGE_PLAN[("train", "violent")]) > len(DAMAGE_PLAN[("train", "nonviolent")])


def test_demo_is_deterministic(tmp_path):
    kinds = ["truncated_tail", "html_page", "bitflip_packet"]
    a = make_demo(tmp_path / "a", clips_per_class=1, seed=3, kinds=kinds)
    b = make_demo(tmp_path / "b", clips_per_class=1, seed=3, kinds=kinds)
    assert a.files == b.files
    c = make_demo(tmp_path / "c", clips_per_class=1, seed=4, kinds=kinds)
    assert set(c.files) != set(a.files)  # the seed picks names (and content)
    html = [rel for rel, e in a.files.items() if e.damage == "html_page"]
    assert (tmp_path / "a" / html[0]).read_bytes() == (tmp_path / "b" / html[0]).read_bytes()


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine.txt").write_text("the user's data", encoding="utf-8")
    with pytest.raises(NexaraError, match="refusing"):
        make_demo(tmp_path, clips_per_class=1, kinds=[])
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "the user's data"
    with pytest.raises(NexaraError, match="unknown damage kind"):
        make_demo(tmp_path / "x", kinds=["melted"])


def test_damage_is_done_to_real_bytes(tmp_path):
    clean = write_clip(tmp_path / "clean.mp4", seed=9, faststart=True)
    original = clean.read_bytes()
    for kind in ("truncated_tail", "bitflip_packet", "sample_table_broken"):
        p = tmp_path / f"{kind}.mp4"
        p.write_bytes(original)
        apply_damage(p, kind, random.Random(1))
        damaged = p.read_bytes()
        if kind == "truncated_tail":
            assert damaged == original[: int(len(original) * 0.97)]
        else:
            assert len(damaged) == len(original)
            assert 0 < sum(x != y for x, y in zip(original, damaged, strict=True)) < 300
    assert make_damaged(tmp_path / "z.mp4", "zero_byte").stat().st_size == 0
    assert make_damaged(tmp_path / "h.mp4", "html_page").read_bytes().startswith(b"<!DOCTYPE html>")


def test_chapter_damage_makes_ffmpeg_print_the_users_message(tmp_path):
    import av
    import av.logging as avlog

    p = make_damaged(tmp_path / "chap.mp4", "chapter_ref_missing", seed=1)
    old = avlog.get_level()
    avlog.set_level(avlog.WARNING)
    try:
        with avlog.Capture(local=False) as logs, av.open(str(p)) as c:
            n = sum(len(pk.decode()) for pk in c.demux(c.streams.video[0]))
    finally:
        avlog.set_level(old)
    assert any("Referenced QT chapter track not found" in m for _, _, m in logs)
    assert n == 50  # and every frame still decodes


def _clip_stats(path: Path) -> tuple[float, float]:
    s = sample_frames(path, 12, size=(64, 48))
    g = [f.astype(np.float32).mean(axis=2) for f in s.frames if f is not None]
    motion = float(np.mean([np.abs(a - b).mean() for a, b in zip(g, g[1:], strict=False)]))
    hf = float(np.mean([np.abs(np.diff(x, axis=1)).mean() for x in g]))
    return motion, hf


def test_classes_differ_learnably_per_frame_and_over_time(tmp_path):
    stats = {label: [_clip_stats(write_clip(tmp_path / f"{label}{i}.mp4", label, seed=i, seconds=1.0))
                     for i in range(3)] for label in ("violent", "nonviolent")}
    v_motion = min(m for m, _ in stats["violent"])
    n_motion = max(m for m, _ in stats["nonviolent"])
    v_hf = min(h for _, h in stats["violent"])
    n_hf = max(h for _, h in stats["nonviolent"])
    assert v_motion > 3 * n_motion
    assert v_hf > 3 * n_hf


def test_render_frames_shape():
    frames = list(render_frames("violent", 40, 30, 3, 25.0, 0))
    assert len(frames) == 3 and frames[0].shape == (30, 40, 3) and frames[0].dtype == np.uint8


def test_bench_shaped_clip(tmp_path):
    import av

    p = write_clip(tmp_path / "bench.mp4", "nonviolent", size=(640, 360), fps=30, seconds=2.0,
                   keyframe_s=1.0, audio=True, seed=1)
    with av.open(str(p)) as c:
        vs = c.streams.video[0]
        assert (vs.width, vs.height, vs.average_rate) == (640, 360, 30)
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
        keys = [pk.pts for pk in c.demux(vs) if pk.is_keyframe]
    assert len(keys) == 2


def test_cli_demo_make(tmp_path, capsys):
    out = tmp_path / "cli demo"
    assert main(["demo", "make", str(out), "--clips-per-class", "1", "--kinds", "zero_byte", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["type"] == "demo" and events[-1]["files"] == 8 and events[-1]["damaged"] == 2
    assert any(e["type"] == "progress" for e in events)
    assert (out / GROUND_TRUTH_NAME).exists()
    # A rerun replaces the demo in place.
    assert main(["demo", "make", str(out), "--clips-per-class", "1", "--kinds", "none"]) == 0
    assert len(GroundTruth.load(out).files) == 6
    assert main(["demo", "make", str(tmp_path / "y"), "--kinds", "melted"]) == 2


def test_cli_demo_verify_agrees_with_ground_truth(demo_dataset, capsys):
    assert main(["demo", "verify", str(demo_dataset.root), "--level", "standard"]) == 0
    out = capsys.readouterr().out
    n = len(demo_dataset.ground_truth.files)
    assert f"{n}/{n} files agree with the ground truth at standard" in out


def test_demo_make_deletes_only_what_it_wrote(tmp_path, capsys):
    """Issue 11 #3: a rerun deleted whatever DIR/ground_truth.json named, `../victim.txt` and
    absolute paths included. Now only files the marker lists, inside DIR, unchanged since written."""
    from core.demo import MARKER_NAME

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    absolute = tmp_path / "abs.txt"
    absolute.write_text("keep me too", encoding="utf-8")
    # The old attack: a ground truth naming files outside DIR, and no marker: refused outright.
    out = tmp_path / "demo"
    out.mkdir()
    (out / GROUND_TRUTH_NAME).write_text(json.dumps({"version": 1, "files": {
        "../victim.txt": {"damage": "clean", "usable": True, "expected_verdicts": ["ok"], "expected_reasons": []},
        str(absolute): {"damage": "clean", "usable": True, "expected_verdicts": ["ok"], "expected_reasons": []},
    }}), encoding="utf-8")
    assert main(["demo", "make", str(out), "--clips-per-class", "1", "--kinds", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a Nexara demo" in err[0]
    assert victim.read_text(encoding="utf-8") == "keep me" and absolute.exists()

    # A real demo, then a forged marker that names outside files, a symlink, and a file the
    # user changed: a rerun removes none of them.
    real = tmp_path / "real"
    make_demo(real, clips_per_class=1, kinds=[])
    marker = json.loads((real / MARKER_NAME).read_text(encoding="utf-8"))
    mine = next(rel for rel in marker["files"] if rel.endswith(".mp4"))
    (real / mine).write_bytes(b"the user's own edit")
    os.symlink(victim, real / "train" / "violent" / "link.mp4")
    for name, p in (("../victim.txt", victim), (str(absolute), absolute),
                    ("train/violent/link.mp4", real / "train" / "violent" / "link.mp4")):
        st = p.stat()
        marker["files"][name] = [st.st_size, st.st_mtime_ns]
    (real / MARKER_NAME).write_text(json.dumps(marker), encoding="utf-8")
    (real / "train" / "violent" / "notes.txt").write_text("user notes", encoding="utf-8")
    make_demo(real, clips_per_class=1, kinds=[])
    assert victim.read_text(encoding="utf-8") == "keep me" and absolute.exists()
    assert (real / "train" / "violent" / "link.mp4").is_symlink()
    assert (real / "train" / "violent" / "notes.txt").read_text(encoding="utf-8") == "user notes"
    assert (real / mine).exists()  # changed by the user: not the generator's any more, kept (then rewritten)


@pytest.mark.parametrize("content", [
    "[1, 2]", "null", "\"text\"", "{\"files\": []}", "{\"files\": {\"a.mp4\": 1}}",
    "{\"files\": {\"a.mp4\": {\"damage\": 3, \"usable\": true, \"expected_verdicts\": [], \"expected_reasons\": []}}}",
    "{\"files\": {\"a.mp4\": {\"damage\": \"clean\"}}}",
    "{\"files\": {\"a.mp4\": {\"damage\": \"clean\", \"usable\": true, \"expected_verdicts\": [1],"
    " \"expected_reasons\": []}}}",
    "{\"version\": \"one\", \"files\": {}}",
    "{\"files\": {\"a.mp4\": {\"damage\": \"clean\", \"usable\": true, \"expected_verdicts\": [],"
    " \"expected_reasons\": [], \"extra\": 1}}}",
    "{not json",
])
def test_wrong_shaped_ground_truth_is_one_line(tmp_path, capsys, content):
    """Issue 11 #11: `demo verify` on a wrong-shaped ground_truth.json printed a traceback."""
    (tmp_path / GROUND_TRUTH_NAME).write_text(content, encoding="utf-8")
    assert main(["demo", "verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and GROUND_TRUTH_NAME in err[0] and "Traceback" not in err[0], err


@pytest.mark.parametrize("content", ["[1]", "{\"nexara_demo\": 1, \"files\": {\"a\": \"x\"}}", "{bad"])
def test_wrong_shaped_marker_is_one_line(tmp_path, capsys, content):
    from core.demo import MARKER_NAME

    (tmp_path / MARKER_NAME).write_text(content, encoding="utf-8")
    assert main(["demo", "make", str(tmp_path), "--kinds", "none", "--clips-per-class", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and MARKER_NAME in err[0], err


def test_every_new_shape_is_what_its_ground_truth_says(tmp_path):
    """The shapes added for measured verdicts, each checked at standard and full and by the sampler."""
    from core.demo.damage import _base_spec
    from core.demo.synth import CONTAINERS
    from core.integrity import check_path
    from core.sampling import DEFAULT_THRESHOLDS

    for kind in ("still_image", "single_frame", "cover_art_only", "zero_filled_middle", "preallocated",
                 "hevc_dropped_refs", "avi_lost_index", "ts_packet_loss", "audio_outlasts_video"):
        dk = DAMAGE_KINDS[kind]
        p = make_damaged(tmp_path / f"{kind}{CONTAINERS[_base_spec(kind)['container']][0]}", kind, seed=3)
        for level in ("standard", "full"):
            r = check_path(p, level)
            assert r.verdict.value in dk.verdicts and set(dk.reasons) <= set(r.reasons), (kind, level, r.reasons)
        assert sample_frames(p, DEFAULT_THRESHOLDS.positions).usable == dk.usable, kind
