"""The demo dataset: layout, ground truth, and the marker that makes reruns safe.

`make_demo` writes `DIR/{train,val,test}/{violent,nonviolent}/`,
`DIR/ground_truth.json` (what a correct scanner must answer for each file) and
`DIR/.nexara-demo` (every file the generator wrote, with its size and mtime).
A rerun deletes only files the marker lists that are still exactly as written,
inside DIR; a non-empty DIR without the marker is refused.
"""

from __future__ import annotations

import json
import math
import random
import stat
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.demo.copies import plant_duplicates
from core.demo.damage import DAMAGE_KINDS, _base_spec, apply_damage, write_base
from core.demo.synth import CONTAINERS
from core.errors import NexaraError
from core.fsops import write_text_atomic

GROUND_TRUTH_NAME = "ground_truth.json"
LABELS = ("violent", "nonviolent")
SPLITS = ("train", "val", "test")



@dataclass
class GroundTruthEntry:
    damage: str
    usable: bool
    expected_verdicts: list[str]
    expected_reasons: list[str]
    container: str = ""
    codec: str = ""


@dataclass
class GroundTruth:
    version: int = 1
    files: dict[str, GroundTruthEntry] = field(default_factory=dict)
    # The planted copies (core.demo.copies): copy → original, both relative paths; the copies
    # are in `files` too (clean, usable). Written only when there are some.
    duplicates: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version,
                             "files": {k: asdict(v) for k, v in sorted(self.files.items())}}
        if self.duplicates:
            d["duplicates"] = dict(sorted(self.duplicates.items()))
        return d

    def write(self, root: Path) -> Path:
        p = Path(root) / GROUND_TRUTH_NAME
        write_text_atomic(p, json.dumps(self.to_dict(), indent=1, ensure_ascii=False))
        return p

    @classmethod
    def load(cls, root: Path) -> GroundTruth:
        """Read DIR/ground_truth.json; any file of the wrong shape is one NexaraError line."""
        p = Path(root) / GROUND_TRUTH_NAME
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NexaraError(f"{p}: no ground truth here (run `nexara demo make`)") from exc
        except (OSError, ValueError) as exc:
            raise NexaraError(f"{p}: unreadable ground truth: {exc}") from exc
        return cls.from_dict(d, p)

    @classmethod
    def from_dict(cls, d: Any, where: Path | str = GROUND_TRUTH_NAME) -> GroundTruth:
        def bad(what: str) -> NexaraError:
            return NexaraError(f"{where}: not a Nexara ground truth ({what})")

        if not isinstance(d, dict):
            raise bad(f"expected an object, found {type(d).__name__}")
        version = d.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad("'version' must be an integer")
        files = d.get("files")
        if not isinstance(files, dict):
            raise bad("'files' must be an object of path: entry")
        out: dict[str, GroundTruthEntry] = {}
        for rel, e in files.items():
            if not isinstance(e, dict):
                raise bad(f"entry {rel!r} must be an object")
            for key, typ in _ENTRY_TYPES.items():
                if key in _ENTRY_REQUIRED and key not in e:
                    raise bad(f"entry {rel!r} lacks {key!r}")
                if key in e and not _is(e[key], typ):
                    raise bad(f"entry {rel!r}: {key!r} must be {typ}")
            unknown = set(e) - set(_ENTRY_TYPES)
            if unknown:
                raise bad(f"entry {rel!r}: unknown key(s) {', '.join(sorted(unknown))}")
            out[rel] = GroundTruthEntry(**e)
        dups = d.get("duplicates", {})
        if not isinstance(dups, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in dups.items()):
            raise bad("'duplicates' must be an object of copy: original paths")
        return cls(version, out, dict(dups))


_ENTRY_TYPES = {"damage": "str", "usable": "bool", "expected_verdicts": "list[str]",
                "expected_reasons": "list[str]", "container": "str", "codec": "str"}
_ENTRY_REQUIRED = ("damage", "usable", "expected_verdicts", "expected_reasons")


def _is(value: Any, typ: str) -> bool:
    if typ == "str":
        return isinstance(value, str)
    if typ == "bool":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


# ----------------------------------------------------------------------------
# The marker: what the generator wrote, so a rerun deletes exactly that
# ----------------------------------------------------------------------------

MARKER_NAME = ".nexara-demo"


def _read_marker(root: Path) -> dict[str, tuple[int, int]] | None:
    """{rel: (size, mtime_ns)} of the files a previous `demo make` wrote; None if DIR has no marker."""
    p = root / MARKER_NAME
    if not p.exists():
        return None
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        files = d["files"]
        if d.get("nexara_demo") != 1 or not isinstance(files, dict):
            raise ValueError("not a demo marker")
        return {str(rel): (int(v[0]), int(v[1])) for rel, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise NexaraError(f"{p}: unreadable demo marker ({exc}); remove the folder or pick another") from exc


def _write_marker(root: Path, files: dict[str, tuple[int, int]]) -> None:
    write_text_atomic(root / MARKER_NAME, json.dumps({"nexara_demo": 1, "files": files}, ensure_ascii=False))


def _remove_previous(root: Path, files: dict[str, tuple[int, int]]) -> None:
    """Delete what the previous run wrote and nothing else: a plain relative path inside
    DIR, a regular file (not a symlink), still the size and mtime it was written with."""
    base = root.resolve()
    for rel, (size, mtime_ns) in files.items():
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            continue
        p = root / rel
        try:
            st = p.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            continue
        if not p.resolve().is_relative_to(base):
            continue
        p.unlink()


# Clean clip variants, cycled through so every container/codec/size/fps shows up.
CLEAN_VARIANTS: list[dict[str, Any]] = [
    {"container": "mp4", "codec": "h264", "audio": True},
    {"container": "mp4", "codec": "h264", "faststart": False},
    {"container": "mkv", "codec": "h264"},
    {"container": "webm", "codec": "vp9"},
    {"container": "avi", "codec": "mpeg4"},
    {"container": "mp4", "codec": "hevc"},
    {"container": "mp4", "codec": "h264", "size": (178, 98), "fps": 12.5},
    {"container": "mkv", "codec": "h264", "fps": 30.0, "audio": True},
]

# Where the damage goes: heavy in train/violent, as in the user's data.
DAMAGE_PLAN: dict[tuple[str, str], list[str]] = {
    ("train", "violent"): [k for k in DAMAGE_KINDS if k != "clean"],
    ("train", "nonviolent"): ["zero_byte", "truncated_tail", "audio_damage", "chapter_ref_missing"],
    ("val", "violent"): ["html_page", "bitflip_packet"],
    ("val", "nonviolent"): ["random_bytes"],
    ("test", "violent"): ["bitflip_stream", "truncated_moov_end"],
    ("test", "nonviolent"): ["truncated_faststart"],
}

SIZES = {
    "small": {"size": (160, 120), "fps": 25.0, "seconds": 2.0, "keyframe_s": 1.0},
    "bench": {"size": (640, 360), "fps": 30.0, "seconds": 8.0, "keyframe_s": 2.0},
}


def _name(label: str, i: int, ext: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return f"clip ünïcode {i:02d}{ext}"
    if r < 0.3:
        return f"{label} clip {i:02d} (copy){ext}"
    return f"{label}_{i:04d}{ext}"


def make_demo(
    root: Path | str,
    clips_per_class: int = 16,
    seed: int = 0,
    kinds: list[str] | None = None,
    size: str = "small",
    seconds: float | None = None,
) -> GroundTruth:
    """Write the demo dataset under ROOT and its ground truth; returns the ground truth.

    `clips_per_class` clean clips per class in train (40 % of that, at least
    one, in val and test); `kinds` restricts the damage kinds written (None = the
    full plan, [] = no damaged files). Deterministic for a given seed.
    """
    it = iter_make_demo(root, clips_per_class, seed, kinds, size, seconds)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value


def iter_make_demo(
    root: Path | str,
    clips_per_class: int = 16,
    seed: int = 0,
    kinds: list[str] | None = None,
    size: str = "small",
    seconds: float | None = None,
) -> Generator[tuple[int, int, str], None, GroundTruth]:
    """`make_demo`, yielding (done, total, rel) after each file; returns the ground truth."""
    if size not in SIZES:
        raise NexaraError(f"unknown demo size {size!r} (one of {', '.join(SIZES)})")
    if clips_per_class < 1:
        raise NexaraError(f"--clips-per-class {clips_per_class}: must be at least 1")
    if kinds is not None:
        unknown = [k for k in kinds if k not in DAMAGE_KINDS]
        if unknown:
            raise NexaraError(f"unknown damage kind(s): {', '.join(unknown)} (one of {', '.join(DAMAGE_KINDS)})")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise NexaraError(f"{root}: exists and is not a folder")
    previous = _read_marker(root) if root.is_dir() else None
    if root.is_dir() and previous is None and any(root.iterdir()):
        raise NexaraError(f"{root}: not empty and not a Nexara demo (no {MARKER_NAME}); refusing to write into it")
    if (root / "corrupted_videos").is_dir() and any((root / "corrupted_videos").iterdir()):
        raise NexaraError(f"{root}: holds quarantined clips (corrupted_videos/); run `nexara restore {root} --all` "
                          "first or pick another folder")
    spec = dict(SIZES[size])
    if seconds is not None:
        spec["seconds"] = float(seconds)
    rng = random.Random(seed)
    counter = 0
    jobs: list[tuple[Path, str, str, dict[str, Any], int]] = []
    for split in SPLITS:
        n_clean = clips_per_class if split == "train" else max(1, math.ceil(clips_per_class * 0.4))
        for label in LABELS:
            folder = root / split / label
            plan = DAMAGE_PLAN[(split, label)]
            if kinds is not None:
                plan = [k for k in plan if k in kinds]
            specs: list[tuple[str, dict[str, Any]]] = []
            for _ in range(n_clean):
                specs.append(("clean", CLEAN_VARIANTS[counter % len(CLEAN_VARIANTS)]))
                counter += 1
            specs.extend((k, _base_spec(k)) for k in plan)
            for i, (kind, variant) in enumerate(specs):
                v = {**spec, **variant}
                name = _name(label, i, CONTAINERS[v["container"]][0], rng)
                jobs.append((folder / name, label, kind, v, rng.randrange(1 << 30)))
    gt = GroundTruth()
    # A rerun replaces the previous demo's files, never anything else.
    if previous:
        _remove_previous(root, previous)
    root.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[int, int]] = {}
    _write_marker(root, written)  # first: a run killed half way is still recognised as ours
    for done, (path, label, kind, v, clip_seed) in enumerate(jobs, 1):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_base(path, kind, label, clip_seed, v)
        apply_damage(path, kind, random.Random(clip_seed))
        dk = DAMAGE_KINDS[kind]
        rel = path.relative_to(root).as_posix()
        st = path.stat()
        written[rel] = (st.st_size, st.st_mtime_ns)
        gt.files[rel] = GroundTruthEntry(
            kind, dk.usable, list(dk.verdicts), list(dk.reasons),
            v["container"], v["codec"] if v.get("video", True) else "",
        )
        if done % 16 == 0:
            _write_marker(root, written)
        yield done, len(jobs), rel
    # duplicates hook (issue 15, core.demo.copies): a few planted copies, one across splits
    clean = [rel for rel, e in gt.files.items() if e.damage == "clean" and e.container == "mp4"
             and e.codec == "h264"]
    gt.duplicates = plant_duplicates(root, clean, clips_per_class, kinds)
    for rel in gt.duplicates:
        gt.files[rel] = GroundTruthEntry("clean", True, ["ok"], [], "mkv" if rel.endswith(".mkv") else "mp4",
                                         "h264")
        st = (root / rel).stat()
        written[rel] = (st.st_size, st.st_mtime_ns)
    gt.write(root)
    st = (root / GROUND_TRUTH_NAME).stat()
    written[GROUND_TRUTH_NAME] = (st.st_size, st.st_mtime_ns)
    _write_marker(root, written)
    return gt


def check_against(gt: GroundTruth, results: dict[str, Any], level: str) -> list[str]:
    """Where scan results disagree with the ground truth: one line per file (empty: all agree).

    `results` maps a relative path to a FileResult. The verdict must be one the
    ground truth allows and usable/unusable must match at every level; the
    expected reason codes must be present at `full`, and at `standard` where the
    verdict is not `ok` (standard may miss damage hidden in non-key frames).
    """
    problems = []
    for rel, e in sorted(gt.files.items()):
        r = results.get(rel)
        if r is None:
            problems.append(f"{rel}: no result")
            continue
        v = r.verdict.value
        if r.usable != e.usable:
            problems.append(f"{rel} ({e.damage}): usable={r.usable}, expected {e.usable} [{v} {r.reasons}]")
        elif level != "quick" and v not in e.expected_verdicts:
            problems.append(f"{rel} ({e.damage}): verdict {v}, expected one of {e.expected_verdicts}")
        elif (level == "full" or (level == "standard" and v != "ok")) and not set(e.expected_reasons) <= set(r.reasons):
            problems.append(f"{rel} ({e.damage}): reasons {r.reasons}, expected {e.expected_reasons}")
    return problems


def demo_stats(gt: GroundTruth) -> dict[str, Any]:
    total = len(gt.files)
    damaged = sum(e.damage != "clean" for e in gt.files.values())
    unusable = sum(not e.usable for e in gt.files.values())
    return {"files": total, "damaged": damaged, "unusable": unusable,
            "kinds": sorted({e.damage for e in gt.files.values()})}


