"""Records that cross module and process boundaries.

Every record here is a dataclass with a lossless `to_dict`/`from_dict`, because
results travel through worker processes, SQLite, JSON-lines event logs and SSH.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.compat import StrEnum


class Verdict(StrEnum):
    """The one definition of a verdict: the engine, the wire (`core.events`) and the TUI share it."""

    OK = "ok"
    WARNING = "warning"  # cosmetic messages only: usable
    DAMAGED = "damaged"  # some frames concealed, still usable for training
    CORRUPT = "corrupt"  # unusable

    @property
    def usable(self) -> bool:
        return self is not Verdict.CORRUPT


VERDICT_ORDER = [Verdict.OK, Verdict.WARNING, Verdict.DAMAGED, Verdict.CORRUPT]

LEVELS = ("quick", "standard", "full")


def level_rank(level: str) -> int:
    return LEVELS.index(level)


_FIELDS: dict[type, frozenset[str]] = {}


@dataclass
class FileResult:
    """The integrity verdict for one file, with everything needed to explain it."""

    path: str  # relative to ROOT, POSIX separators
    split: str
    cls: str
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # raw FFmpeg log lines, capped
    frames_decoded: int = 0
    frames_corrupt: int = 0
    frames_expected: int | None = None
    packets_failed: int = 0
    duration_s: float | None = None  # declared by the container
    decoded_s: float | None = None  # end of the last real picture, from the time line's start
    size: int = 0
    mtime_ns: int = 0
    seconds: float = 0.0  # wall time spent checking
    level: str = "standard"
    codec: str | None = None
    container: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    coverage: float | None = None  # share of the video time line covered by real pictures
    positions_served: int | None = None  # of `positions`, how many got a real picture (core.sampling)
    positions: int | None = None
    measured: str | None = None  # the level that measured it ("full" when standard measured fully)
    # Set when this file is a verified repaired copy (core.repair): strategy, batch, seconds kept
    # and the original's result under "from" (its verdict, reasons, size…); None otherwise.
    repair: dict[str, Any] | None = None
    # core.fingerprint.Fingerprint of a usable clip, from the worker to the store's
    # fingerprint table; never in to_dict() (events, reports and the result JSON stay as they were).
    fingerprint: Any = field(default=None, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        return self.verdict.usable

    def to_dict(self) -> dict[str, Any]:
        fp = self.fingerprint
        self.fingerprint = None  # asdict would deep-copy it only for us to drop it
        try:
            d = asdict(self)
        finally:
            self.fingerprint = fp
        d.pop("fingerprint", None)
        d["verdict"] = self.verdict.value
        d["class"] = d.pop("cls")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileResult:
        d = dict(d)
        if "class" in d:
            d["cls"] = d.pop("class")
        d["verdict"] = Verdict(d["verdict"])
        known = _FIELDS.get(cls)
        if known is None:  # once per class: fields() was a third of an unchanged rescan's parsing
            known = _FIELDS[cls] = frozenset(f.name for f in fields(cls))
        return cls(**{k: v for k, v in d.items() if k in known})
