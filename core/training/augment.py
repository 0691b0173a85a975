"""Views of a clip: training augmentation and test-time augmentation (TTA).

A view is one spatial/temporal transformation drawn once per clip and applied
to all of its frames (flipping frame 3 but not frame 4 would be motion the
clip never had). Views are deterministic functions of (seed, clip, view index),
so a resumed extraction regenerates exactly the views it would have made.

Temporal shifts pick neighbouring positions from an oversampled decode (see
`core.training.frames`): with oversample 3, shift -1/+1 moves every sampled
position a third of a slice earlier/later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from core.errors import NexaraError

OVERSAMPLE = 3  # decode positions per plain position when any view shifts in time


@dataclass(frozen=True)
class ViewSpec:
    """One transformation of a whole clip. The default is the original clip."""

    flip: bool = False
    crop: tuple[float, float, float] | None = None  # (side fraction, y position 0..1, x position 0..1)
    brightness: float = 1.0
    shift: int = 0  # -1 earlier, 0, +1 later (needs an oversampled decode)

    @property
    def needs_oversample(self) -> bool:
        return self.shift != 0


TTA_VIEWS: dict[str, ViewSpec] = {
    "original": ViewSpec(),
    "flip": ViewSpec(flip=True),
    "crop_center": ViewSpec(crop=(0.8, 0.5, 0.5)),
    "crop_top_left": ViewSpec(crop=(0.8, 0.0, 0.0)),
    "crop_bottom_right": ViewSpec(crop=(0.8, 1.0, 1.0)),
    "shift_early": ViewSpec(shift=-1),
    "shift_late": ViewSpec(shift=1),
    "bright": ViewSpec(brightness=1.2),
    "dark": ViewSpec(brightness=0.8),
}


def tta_specs(names: list[str]) -> list[ViewSpec]:
    """The TTA views named in the config; an unknown name is an error naming it."""
    unknown = [n for n in names if n not in TTA_VIEWS]
    if unknown:
        raise NexaraError(
            f"config key 'tta_views': unknown view(s) {', '.join(unknown)} "
            f"(known: {', '.join(TTA_VIEWS)})"
        )
    if not names:
        raise NexaraError("config key 'tta_views': needs at least one view")
    return [TTA_VIEWS[n] for n in names]


def _rng(seed: int, rel: str, view: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\0{rel}\0{view}".encode("utf-8", "surrogateescape")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def random_view(seed: int, rel: str, view: int) -> ViewSpec:
    """The augmentation drawn for view `view` (>= 1) of clip `rel`: one draw for the whole clip."""
    rng = _rng(seed, rel, view)
    return ViewSpec(
        flip=bool(rng.random() < 0.5),
        crop=(float(rng.uniform(0.75, 0.95)), float(rng.random()), float(rng.random())),
        brightness=float(rng.uniform(0.75, 1.25)),
        shift=int(rng.integers(-1, 2)),
    )


def render(fine: np.ndarray, n: int, oversample: int, spec: ViewSpec) -> np.ndarray:
    """`(n, S, S, 3)` uint8: the view `spec` of a clip decoded at `n * oversample` positions."""
    mid = oversample // 2
    shift = spec.shift if oversample > 1 else 0
    idx = np.clip(np.arange(n) * oversample + mid + shift, 0, len(fine) - 1)
    frames = fine[idx]
    if spec.crop is not None:
        import cv2

        side_frac, fy, fx = spec.crop
        h, w = frames.shape[1:3]
        ch, cw = max(1, round(h * side_frac)), max(1, round(w * side_frac))
        y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
        frames = np.stack([
            cv2.resize(f[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
            for f in frames
        ])
    if spec.flip:
        frames = frames[:, :, ::-1]
    if spec.brightness != 1.0:
        frames = np.clip(frames.astype(np.float32) * spec.brightness, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frames)
