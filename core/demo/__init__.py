"""A demo dataset of real encoded clips, damaged the ways scraped datasets break.

Split by job: `synth` encodes clean clips (and the shapes that only look like
clips: a still image, a single frame, cover art alone), `damage` breaks real
encoded bytes and says what a correct scanner must answer (`DAMAGE_KINDS`),
`dataset` lays out the demo with its ground truth and the marker that makes a
rerun safe, `copies` makes copies the ways footage gets copied (re-encoded,
shrunk, cut, remuxed, stamped) and plants a few in the full demo. MP4 box surgery uses the one box walker, `core.mp4box`, that the
integrity check uses too. This package re-exports the public names, so callers
import from `core.demo`.
"""

from core.demo.copies import PLANT_MIN_CLIPS, plant_duplicates, reencode, remux
from core.demo.damage import (
    DAMAGE_KINDS,
    HTML_PAGE,
    DamageKind,
    apply_damage,
    damage_audio,
    damage_bitflip_packet,
    damage_bitflip_stream,
    damage_chapter_ref,
    damage_sample_table,
    damage_truncate,
    make_damaged,
)
from core.demo.dataset import (
    CLEAN_VARIANTS,
    DAMAGE_PLAN,
    GROUND_TRUTH_NAME,
    LABELS,
    MARKER_NAME,
    SIZES,
    SPLITS,
    GroundTruth,
    GroundTruthEntry,
    check_against,
    demo_stats,
    iter_make_demo,
    make_demo,
)
from core.demo.synth import CODECS, CONTAINERS, render_frames, write_clip
from core.mp4box import Box, find_boxes, iter_boxes, video_trak

__all__ = [
    "CLEAN_VARIANTS", "CODECS", "PLANT_MIN_CLIPS", "plant_duplicates", "reencode", "remux", "CONTAINERS", "DAMAGE_KINDS", "DAMAGE_PLAN", "GROUND_TRUTH_NAME", "HTML_PAGE",
    "LABELS", "MARKER_NAME", "SIZES", "SPLITS", "Box", "DamageKind", "GroundTruth", "GroundTruthEntry",
    "apply_damage", "check_against", "damage_audio", "damage_bitflip_packet", "damage_bitflip_stream",
    "damage_chapter_ref", "damage_sample_table", "damage_truncate", "demo_stats", "find_boxes", "iter_boxes",
    "iter_make_demo", "make_damaged", "make_demo", "render_frames", "video_trak", "write_clip",
]
