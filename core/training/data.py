"""Which clips training uses: the usable verdicts of the last scan.

Training never walks the dataset itself: the scan store already says which
clips decode (`ok`, `warning`, and `damaged` unless `include_damaged = false`),
so a clip the scan judged `corrupt`, or one that was quarantined, is never fed
to the backbone. A dataset that was never scanned is refused, not guessed at.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.errors import NexaraError
from core.records import Verdict
from core.training.config import TrainConfig


@dataclass(frozen=True)
class Clip:
    """One usable clip and its binary label (1 = the config's positive class)."""

    rel: str
    split: str
    cls: str
    label: int
    size: int
    mtime_ns: int


@dataclass
class ClipSet:
    """The usable clips of a dataset, by split, with the two class names."""

    root: Path
    classes: list[str]  # [negative, positive]: index == label
    by_split: dict[str, list[Clip]]

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> usable clips, splits in train/val/test order."""
        order = {"train": 0, "val": 1, "test": 2}
        return {
            s: dict(sorted(Counter(c.cls for c in self.by_split[s]).items()))
            for s in sorted(self.by_split, key=lambda s: (order.get(s, 3), s))
        }

    def split(self, name: str) -> list[Clip]:
        return self.by_split.get(name, [])


def usable_clips(root: Path, cfg: TrainConfig) -> ClipSet:
    """The usable clips under ROOT according to its scan store; raises if there is none."""
    from core.store import ScanStore

    root = Path(root).expanduser()
    if not root.is_dir():
        raise NexaraError(f"{root}: no such directory")
    root = root.resolve()
    if not ScanStore.exists_for(root):
        raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first")
    with ScanStore.for_root(root) as store:
        results = list(store.results())
    if not results:
        raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first")
    allowed = {Verdict.OK, Verdict.WARNING}
    if cfg.include_damaged:
        allowed.add(Verdict.DAMAGED)
    kept = [r for r in results if r.verdict in allowed]
    classes_seen = sorted({r.cls for r in results})
    if cfg.positive_class not in classes_seen:
        raise NexaraError(
            f"{root}: positive_class '{cfg.positive_class}' is not a class of this dataset "
            f"(classes: {', '.join(classes_seen)})"
        )
    negatives = [c for c in classes_seen if c != cfg.positive_class]
    if len(negatives) != 1:
        raise NexaraError(
            f"{root}: binary training needs exactly two classes, found {len(classes_seen)} "
            f"({', '.join(classes_seen)})"
        )
    classes = [negatives[0], cfg.positive_class]
    by_split: dict[str, list[Clip]] = {}
    for r in kept:
        by_split.setdefault(r.split, []).append(
            Clip(r.path, r.split, r.cls, classes.index(r.cls), r.size, r.mtime_ns)
        )
    return ClipSet(root, classes, by_split)


def require_both_classes(clips: ClipSet, split: str) -> None:
    """Refuse to train (or evaluate) on a split where a class has no usable clip, naming it."""
    have = Counter(c.cls for c in clips.split(split))
    for cls in clips.classes:
        if have.get(cls, 0) == 0:
            raise NexaraError(
                f"{clips.root}: no usable clips in {split}/{cls} — refusing to train "
                f"without a '{cls}' class (rescan, restore, or add clips)"
            )
