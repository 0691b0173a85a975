"""The integrity engine on real damaged videos built by the demo generator."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from core.dataset import VideoFile, discover
from core.demo import (
    CLEAN_VARIANTS,
    CONTAINERS,
    DAMAGE_KINDS,
    check_against,
    make_damaged,
    write_clip,
)
from core.integrity import Thresholds, check_file, check_path
from core.records import Verdict

KINDS = [k for k in DAMAGE_KINDS if k != "clean"]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> dict[str, Path]:
    """One file per damage kind (violent content: the harder case for the encoder)."""
    d = tmp_path_factory.mktemp("damaged")
    return {k: make_damaged(d / f"{k} ü.mp4", k, label="violent", seed=11) for k in DAMAGE_KINDS}


@pytest.mark.parametrize("kind", list(DAMAGE_KINDS))
@pytest.mark.parametrize("level", ["standard", "full"])
def test_every_damage_kind_gets_the_expected_verdict(damaged, kind, level):
    dk = DAMAGE_KINDS[kind]
    r = check_path(damaged[kind], level)
    assert r.verdict.value in dk.verdicts, (kind, level, r.verdict, r.reasons, r.messages)
    assert r.usable == dk.usable
    if level == "full" or r.verdict is not Verdict.OK:
        assert set(dk.reasons) <= set(r.reasons), (kind, r.reasons, r.messages)
    if not dk.usable:
        assert r.messages, "an unusable file must say why"


@pytest.mark.parametrize("kind", list(DAMAGE_KINDS))
def test_quick_and_standard_reach_the_same_usable_decision_as_full(damaged, kind):
    full = check_path(damaged[kind], "full")
    assert check_path(damaged[kind], "standard").usable == full.usable
    assert check_path(damaged[kind], "quick").usable == full.usable


def test_full_sees_damage_hidden_in_one_p_frame(damaged):
    r = check_path(damaged["bitflip_packet"], "full")
    assert r.verdict is Verdict.DAMAGED
    assert r.frames_decoded >= 45 and r.frames_corrupt >= 1


def test_harmless_messages_never_cost_a_clip(damaged):
    """The user's rule: a chapter reference or broken audio must not throw a clip away."""
    for kind in ("chapter_ref_missing", "audio_damage"):
        for level in ("quick", "standard", "full"):
            assert check_path(damaged[kind], level).verdict in (Verdict.OK, Verdict.WARNING), (kind, level)
    r = check_path(damaged["chapter_ref_missing"], "full")
    assert any("Referenced QT chapter track not found" in m for m in r.messages)
    a = check_path(damaged["audio_damage"], "full")
    assert any(m.startswith("[aac]") for m in a.messages)


def test_truncation_is_measured_against_the_declared_duration(damaged):
    half = check_path(damaged["truncated_faststart"], "full")
    assert half.duration_s == pytest.approx(2.0, abs=0.05)
    assert half.decoded_s is not None and half.decoded_s < 1.2
    tail = check_path(damaged["truncated_tail"], "full")
    assert tail.decoded_s is not None and 1.6 < tail.decoded_s < 2.0


def test_thresholds_are_configurable(damaged):
    lenient = Thresholds(min_served_share=0.3)
    assert check_path(damaged["truncated_faststart"], "full").verdict is Verdict.CORRUPT
    assert check_path(damaged["truncated_faststart"], "full", lenient).verdict is Verdict.DAMAGED
    capped = check_path(damaged["bitflip_stream"], "full", Thresholds(max_messages=2))
    assert len(capped.messages) <= 3


@pytest.mark.parametrize("variant", CLEAN_VARIANTS, ids=lambda v: f"{v['container']}-{v['codec']}")
def test_clean_clips_in_every_container_are_ok(tmp_path, variant):
    p = write_clip(tmp_path / f"clip ünïcode{CONTAINERS[variant['container']][0]}", "violent",
                   seconds=1.0, seed=3, **variant)
    for level in ("quick", "standard", "full"):
        r = check_path(p, level)
        assert r.verdict is Verdict.OK, (variant, level, r.reasons, r.messages)
    assert r.codec == variant["codec"]
    assert r.width == variant.get("size", (160, 120))[0]
    assert r.fps == pytest.approx(variant.get("fps", 25.0), abs=0.01)
    # Matroska declares no frame count; its duration may include a longer audio track.
    assert r.frames_expected is not None and abs(r.frames_decoded - r.frames_expected) <= 3


def test_fields_are_filled(damaged, tmp_path):
    p = damaged["clean"]
    r = check_file(p.parent, VideoFile(p.name, "train", "violent", p.stat().st_size, 1), "full")
    assert (r.path, r.split, r.cls, r.size, r.level) == (p.name, "train", "violent", p.stat().st_size, "full")
    assert (r.width, r.height, r.codec) == (160, 120, "h264")
    assert "mp4" in (r.container or "")
    assert r.frames_decoded == 50 and r.frames_expected == 50 and r.seconds > 0
    assert pickle.loads(pickle.dumps(check_file)) is check_file


def test_bad_paths_give_a_verdict_not_an_exception(tmp_path):
    (tmp_path / "dir.mp4").mkdir()
    for name in ("dir.mp4", "missing.mp4"):
        r = check_file(tmp_path, VideoFile(name, "all", "x", 0, 0))
        assert r.verdict is Verdict.CORRUPT and r.reasons == ["unreadable"]
        assert len(r.messages) == 1 and name in r.messages[0]
    r = check_file(tmp_path, VideoFile("x.mp4", "all", "x", 0, 0), level="bogus")
    assert r.verdict is Verdict.CORRUPT and r.reasons == ["check_failed"]


def test_permission_denied_is_unreadable(tmp_path):
    p = write_clip(tmp_path / "secret.mp4", seconds=0.5)
    p.chmod(0)
    if os.geteuid() != 0:
        r = check_path(p)
    else:  # root reads anything: check as an unprivileged user in a forked child
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.setgid(65534)
                os.setuid(65534)
                os.write(wfd, pickle.dumps(check_path(p)))
            finally:
                os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd, "rb") as fh:
            data = fh.read()
        os.waitpid(pid, 0)
        r = pickle.loads(data)
    assert r.verdict is Verdict.CORRUPT and r.reasons == ["unreadable"]
    assert "permission denied" in r.messages[0]


@pytest.mark.parametrize("level", ["quick", "standard", "full"])
def test_demo_dataset_agrees_with_ground_truth(demo_dataset, level):
    listing = discover(demo_dataset.root)
    assert {v.rel for v in listing.videos} == set(demo_dataset.ground_truth.files)
    results = {v.rel: check_file(demo_dataset.root, v, level) for v in listing.videos}
    assert check_against(demo_dataset.ground_truth, results, level) == []


@pytest.mark.parametrize("codec,params", [
    ("h264", {"x264-params": "scenecut=0:open-gop=1:bframes=3", "preset": "medium"}),
    ("hevc", {"x265-params": "log-level=none:scenecut=0:open-gop=1:bframes=4", "preset": "medium"}),
])
def test_partial_decoding_never_invents_damage_on_open_gops(tmp_path, codec, params):
    """quick/standard skip packets; B-frames reaching across the gap must not read as damage."""
    p = write_clip(tmp_path / f"og-{codec}.mp4", "nonviolent", codec=codec, size=(160, 96), fps=30,
                   seconds=3.0, keyframe_s=1.0, seed=2, encoder_options=params)
    for level in ("quick", "standard", "full"):
        r = check_path(p, level)
        assert r.verdict is Verdict.OK, (codec, level, r.reasons, r.messages)
