"""Bad input gives one clear line; views and frame filling do what training relies on."""

from __future__ import annotations

import numpy as np
import pytest

from core.cli import main
from core.errors import NexaraError
from core.training.augment import OVERSAMPLE, ViewSpec, random_view, render, tta_specs
from core.training.frames import clip_frames, fill_gaps
from core.training.train import train
from tests.training_fixtures import make_dataset, scan_into_store, tiny_config


def test_unscanned_dataset_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(NexaraError, match=r"no scan yet for .*d — run `nexara scan .*d` first"):
        list(train(tmp_path / "d", tiny_config(), tmp_path / "run"))


def test_class_without_usable_clips_refuses_to_train_naming_it(tmp_path):
    root = make_dataset(tmp_path / "data", clips_per_class=2)
    for clip in (root / "train" / "violent").iterdir():
        clip.write_bytes(b"<html>not a video</html>")  # our own test copy: every one corrupt
    scan_into_store(root)
    with pytest.raises(NexaraError, match=r"no usable clips in train/violent"):
        list(train(root, tiny_config(), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_unknown_config_key_fails_before_anything_starts(tmp_path, capsys):
    assert main(["train", str(tmp_path), "--set", "dropout=0.3"]) == 2
    assert "unknown config key 'dropout'" in capsys.readouterr().err


def test_weights_file_that_does_not_fit_names_the_file_and_backbone(tmp_path):
    from core.training.backbone import build_backbone

    tiny = build_backbone(tiny_config())
    wrong = tmp_path / "tiny.weights.h5"
    tiny.model.save_weights(str(wrong))
    cfg = tiny_config("backbone=MobileNetV2", "backbone_alpha=0.35", f"backbone_weights='{wrong}'")
    with pytest.raises(NexaraError) as err:
        build_backbone(cfg)
    assert str(wrong) in err.value.message and "MobileNetV2" in err.value.message
    assert "\n" not in err.value.message
    missing = tiny_config(f"backbone_weights='{tmp_path / 'nope.h5'}'", "backbone=MobileNetV2")
    with pytest.raises(NexaraError, match="nope.h5: no such weights file"):
        build_backbone(missing)
    with pytest.raises(NexaraError, match="unknown backbone 'ResNet9000'"):
        build_backbone(tiny_config("backbone=ResNet9000"))


def test_fill_gaps_uses_the_nearest_decoded_frame():
    a, b = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    out = fill_gaps([None, a, None, None, b, None])
    assert [int(f[0, 0, 0]) for f in out] == [0, 0, 0, 1, 1, 1]
    assert fill_gaps([None, None]) is None


def test_views_are_one_draw_per_clip_and_reproducible(tmp_path):
    clip = make_dataset(tmp_path / "d", clips_per_class=1) / "train" / "violent"
    path = next(p for p in clip.iterdir() if p.suffix in {".mp4", ".mkv", ".avi", ".webm", ".mov"})
    fine = clip_frames(path, 4, 32, OVERSAMPLE)
    assert fine.shape == (12, 32, 32, 3)
    plain = clip_frames(path, 4, 32, 1)
    # The oversampled decode's middle positions are exactly the plain positions.
    assert np.array_equal(render(fine, 4, OVERSAMPLE, ViewSpec()), plain)
    assert np.array_equal(render(fine, 4, OVERSAMPLE, ViewSpec(shift=-1)), fine[[0, 3, 6, 9]])
    assert np.array_equal(render(fine, 4, OVERSAMPLE, ViewSpec(flip=True)), plain[:, :, ::-1])
    assert random_view(1, "a.mp4", 1) == random_view(1, "a.mp4", 1)
    assert random_view(1, "a.mp4", 1) != random_view(1, "a.mp4", 2)
    # Brightness applies to every frame of the clip alike.
    dark = render(fine, 4, OVERSAMPLE, ViewSpec(brightness=0.5)).astype(int)
    assert np.allclose(dark, plain.astype(int) // 2, atol=1)


def test_unknown_tta_view_is_named():
    with pytest.raises(NexaraError, match="unknown view.*sideways"):
        tta_specs(["original", "sideways"])
