"""Incremental readers for the three kinds of training log the monitor understands.

Each parser is fed the bytes of a growing file in whatever chunks arrive (a
local read, an SFTP read at an offset, a job's event stream) and returns what
became complete: `EpochRecord`s and `RunEvent`s. A partial last line is held
until its newline arrives, so a chunk boundary in the middle of a number never
produces a wrong value, and the same file read in one piece or in a thousand
pieces gives the same records.

- `JsonlParser`: our trainer's events (`epoch`, `train_start`, `train_end`,
  `job_end`), from a job's events.jsonl or RUN_DIR/epochs.jsonl.
- `CsvParser`: a Keras `CSVLogger` file (0-based `epoch` column, sorted metric
  columns, `NA` for missing values).
- `ConsoleParser`: what `model.fit(verbose=1|2)` printed, progress-bar
  redraws (`\\r`, `\\b`), ANSI colours and all, Keras 2 or Keras 3 layout.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from typing import Any, Protocol

from core.errors import NexaraError
from core.events import parse_line
from core.monitor.records import EpochRecord, RunEvent, from_metrics

Item = EpochRecord | RunEvent

# A console line being redrawn for an hour-long epoch grows by a few hundred bytes
# per redraw; only the text after the last carriage return can ever be visible,
# so a held partial line is cut back to that.
_MAX_HELD = 1 << 16


class Parser(Protocol):
    format: str

    def feed(self, chunk: bytes) -> list[Item]: ...

    def finish(self) -> list[Item]: ...


class _LineParser:
    """Splits a byte stream into complete lines; subclasses handle one line at a time."""

    format = ""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self._held = b""

    def feed(self, chunk: bytes) -> list[Item]:
        data = self._held + chunk
        lines = data.split(b"\n")
        self._held = lines.pop()
        if len(self._held) > _MAX_HELD:
            cut = self._held.rfind(b"\r")
            if cut > 0:
                self._held = self._held[cut:]
        out: list[Item] = []
        for raw in lines:
            out.extend(self._line(raw.decode("utf-8", "replace")))
        return out

    @property
    def held(self) -> int:
        """Bytes fed but not yet parsed (a partial last line): a resume offset excludes them."""
        return len(self._held)

    def finish(self) -> list[Item]:
        """The source is complete: a last line without a newline counts too (a killed writer)."""
        held, self._held = self._held, b""
        out = self._line(held.decode("utf-8", "replace")) if held.strip() else []
        return out + self._end()

    def _line(self, line: str) -> list[Item]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _end(self) -> list[Item]:
        return []


class JsonlParser(_LineParser):
    """Our own events; unknown types and torn lines are ignored, as every reader of events does."""

    format = "jsonl"

    def _line(self, line: str) -> list[Item]:
        ev = parse_line(line)
        return self.handle_event(ev) if ev is not None else []

    @staticmethod
    def handle_event(ev: Mapping[str, Any]) -> list[Item]:
        kind = ev.get("type")
        if kind == "epoch":
            return [EpochRecord.from_event(dict(ev))]
        if kind in ("train_start", "train_end", "job_end", "error"):
            return [RunEvent(str(kind), {k: v for k, v in ev.items() if k not in ("v", "type")})]
        return []


class CsvParser(_LineParser):
    """A Keras CSVLogger file: the first line names the columns, `epoch` counts from 0."""

    format = "csv"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self._header: list[str] | None = None
        self._epoch_col = -1
        self._line_no = 0

    def _line(self, line: str) -> list[Item]:
        self._line_no += 1
        line = line.rstrip("\r")
        if not line.strip():
            return []
        row = next(csv.reader([line]))
        if self._header is None:
            self._header = [c.strip() for c in row]
            if "epoch" not in self._header:
                raise NexaraError(f"{self.source or 'csv'}: no 'epoch' column in the header line "
                                  f"(is this a Keras CSVLogger file?)")
            self._epoch_col = self._header.index("epoch")
            return []
        if row == self._header:  # CSVLogger(append=True) on a new run may repeat the header
            return []
        if len(row) != len(self._header):
            return []  # a torn or foreign line: skip rather than misalign columns
        try:
            epoch0 = int(float(row[self._epoch_col]))
        except ValueError:
            return []
        metrics: dict[str, float] = {}
        for name, cell in zip(self._header, row, strict=True):
            if name == "epoch":
                continue
            cell = cell.strip()
            if not cell or cell.upper() == "NA":
                continue
            try:
                metrics[name] = float(cell)
            except ValueError:
                continue
        return [from_metrics(epoch0 + 1, metrics)]

    def finish(self) -> list[Item]:
        """A CSV row without its line end may be cut inside a number: drop it rather than misread it."""
        self._held = b""
        return []


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_EPOCH_HEADER = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*(\d+)\s*$")
_STEPS = re.compile(r"^\s*(\d+)\s*/\s*(\d+|Unknown)\b")
_METRIC = re.compile(
    r"(?:^|\s)([A-Za-z_][\w.]*):\s+([-+]?(?:nan|inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))(?=\s|$)",
    re.IGNORECASE,
)
_PER_UNIT = re.compile(r"(?:^|\s)(\d+(?:\.\d+)?)(us|ms|s)/(step|epoch|sample)\b")
_ELAPSED = re.compile(r"(?:\]|━|\d/\d+|Unknown)\s*-?\s*(\d+(?::\d{2}){0,2})s?\s")
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def visible_text(raw: str) -> str:
    """What a terminal would show for one printed line: colours gone, redraws applied."""
    raw = raw.rstrip("\r")
    if "\r" in raw:
        raw = raw[raw.rfind("\r") + 1:]
    raw = _ANSI.sub("", raw)
    if "\b" in raw:
        out: list[str] = []
        for ch in raw:
            if ch == "\b":
                if out:
                    out.pop()
            else:
                out.append(ch)
        raw = "".join(out)
    return raw.strip()


def _seconds(text: str, steps: int | None) -> float | None:
    """Epoch seconds from Keras' timing fields.

    `473ms/epoch` (Keras 2, verbose=2) is exact. Otherwise the elapsed field
    (`6/6 - 41s -`, `6/6 ━━━ 41s 35ms/step`) is whole seconds, so for short
    epochs steps x per-step time is the better figure (Keras 3 leaves the first,
    tracing step out of the per-step time, so it is used only below 5 s).
    """
    per_step = None
    for value, unit, what in _PER_UNIT.findall(text):
        sec = float(value) * _UNIT_S[unit]
        if what == "epoch":
            return sec
        if what == "step":
            per_step = sec
    elapsed = None
    m = _ELAPSED.search(text)
    if m:
        elapsed = 0.0
        for part in m.group(1).split(":"):
            elapsed = elapsed * 60 + int(part)
    if elapsed is not None and elapsed >= 5:
        return elapsed
    if per_step is not None and steps:
        return round(per_step * steps, 3)
    return elapsed


class ConsoleParser(_LineParser):
    """Keras `model.fit` console output.

    An epoch starts at `Epoch N/M`. Its record is the complete progress line
    that finishes it: the counter at its target (`6/6`), an unknown target
    (`12/Unknown`, first epoch of a dataset without a length), or a line
    carrying `val_` metrics. If mid-epoch lines were printed on lines of their
    own, the last one before the next header is used when none finished.
    Other lines (`Epoch 5: val_accuracy improved…`, warnings, the script's own
    prints) are ignored.
    """

    format = "console"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self._epoch: int | None = None
        self._epochs: int | None = None
        self._done = True
        self._pending: EpochRecord | None = None

    def _line(self, line: str) -> list[Item]:
        text = visible_text(line)
        if not text:
            return []
        m = _EPOCH_HEADER.match(text)
        if m:
            out = self._flush_pending()
            self._epoch, self._epochs = int(m.group(1)), int(m.group(2))
            self._done = False
            return out
        if self._epoch is None or self._done:
            return []
        steps_m = _STEPS.match(text)
        if not steps_m:
            return []
        metrics: dict[str, float] = {}
        for name, value in _METRIC.findall(text):
            if name.upper() == "ETA":
                continue
            metrics[name] = float(value)
        if not metrics:
            return []
        current = int(steps_m.group(1))
        target = None if steps_m.group(2) == "Unknown" else int(steps_m.group(2))
        rec = from_metrics(self._epoch, metrics, epochs=self._epochs,
                           seconds=_seconds(text, current))
        # Keras redraws progress in place (\r) and ends the epoch's line with \n, so a complete
        # line is normally the epoch's end; only where it could not redraw (no terminal on
        # Windows) are there complete mid-epoch lines, and those stop short of their target.
        final = (target is None or current >= target) or any(k.startswith("val_") for k in metrics)
        if final:
            self._done = True
            self._pending = None
            return [rec]
        self._pending = rec
        return []

    def _flush_pending(self) -> list[Item]:
        rec, self._pending = self._pending, None
        if rec is not None and not self._done:
            self._done = True
            return [rec]
        return []

    def _end(self) -> list[Item]:
        return []


def sniff(head: bytes, name: str = "") -> str | None:
    """The format of a log from its first bytes: 'jsonl', 'csv' or 'console'.

    None while there is not yet a complete first line to judge by (an empty
    file a script has only just opened).
    """
    text = head.decode("utf-8", "replace")
    lines = [ln for ln in text.split("\n")]
    complete = lines[:-1] if not text.endswith("\n") else lines
    first = next((ln.strip() for ln in complete if ln.strip()), None)
    if first is None:
        if re.search(r"Epoch\s+\d+\s*/\s*\d+", text):
            return "console"
        return None
    if first.startswith("{"):
        return "jsonl"
    cols = [c.strip() for c in first.split(",")]
    if "epoch" in cols and len(cols) >= 2:
        return "csv"
    if name.lower().endswith(".csv"):
        return "csv"
    return "console"


def make_parser(fmt: str, source: str = "") -> _LineParser:
    if fmt in ("jsonl", "events"):
        return JsonlParser(source)
    if fmt == "csv":
        return CsvParser(source)
    if fmt == "console":
        return ConsoleParser(source)
    raise NexaraError(f"{source}: unknown log format {fmt!r} (expected jsonl, csv or console)")


def parse_bytes(data: bytes, fmt: str | None = None, source: str = "") -> list[Item]:
    """Parse a complete log in one go (tests, `--once` on a finished file)."""
    fmt = fmt or sniff(data, source) or "console"
    p = make_parser(fmt, source)
    return p.feed(data) + p.finish()
