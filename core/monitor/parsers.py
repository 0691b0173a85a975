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
        self._misaligned = False

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
            # Skipped rather than misaligned. CSVLogger(append=True) keeps the first fit's
            # header, so a later fit that logs other metrics (no LR scheduler: no
            # learning_rate) writes rows of another width: say so once per streak.
            was, self._misaligned = self._misaligned, True
            if was:
                return []
            return [RunEvent("notice", {"message": (
                f"{self.source or 'csv'} line {self._line_no}: {len(row)} fields where the header "
                f"has {len(self._header)} (a later fit logged other metrics?) — such rows are skipped")})]
        self._misaligned = False
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
_PER_UNIT = re.compile(r"(?:^|\s)(\d+(?:\.\d+)?)(us|ms|s)/(step|epoch|sample)\b")
# The pieces of a whole Keras progress line, split at " - " (Keras 2 and 3, verbose 1 and 2):
# `8/8 ━━━━ 1s 39ms/step`, `6/6 [====]`, `1s 35ms/step`, `ETA: 2s`, `473ms/epoch`, `loss: 0.59`.
_PER = r"\d+(?:\.\d+)?(?:us|ms|s)/(?:step|epoch|sample)"
_CLOCK = r"(?:ETA:\s*)?\d+(?::\d{2}){0,2}s?"
_HEAD = re.compile(rf"^(\d+)\s*/\s*(\d+|Unknown)(?:\s*\[[=>.]*\]|\s*━+)?(?:\s+{_CLOCK})?(?:\s+{_PER})?$")
_TIMING = re.compile(rf"^(?:{_CLOCK}(?:\s+{_PER})?|{_PER})$")
_METRIC_PIECE = re.compile(
    r"^([A-Za-z_][\w.]*):\s+(?:([-+]?(?:nan|inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))|\[[^\]]*\])$",
    re.IGNORECASE,
)
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


def progress_metrics(text: str) -> dict[str, float] | None:
    """The metrics of a whole Keras progress line, or None if any piece of it is not Keras'.

    Other output landing on the progress line (a warning printed while the bar
    was being redrawn: `loss: 0.5175 - recall: 1.0000/path/x.py:22: UserWarning…`)
    leaves a piece that is neither a counter, a timing nor `name: number`, so a
    line cut that way is never taken for an epoch's summary.
    """
    head, *pieces = [p.strip() for p in text.strip().split(" - ")]
    if not _HEAD.match(head):
        return None
    metrics: dict[str, float] = {}
    for piece in pieces:
        m = _METRIC_PIECE.match(piece)
        if m:
            if m.group(2) is not None:
                metrics[m.group(1)] = float(m.group(2))
            continue
        if not _TIMING.match(piece):
            return None
    return metrics


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

    An epoch starts at `Epoch N/M`. Its record is the whole progress line
    that finishes it: the counter at its target (`6/6`), an unknown target
    (`12/Unknown`, first epoch of a dataset without a length), or a line
    carrying `val_` metrics. If mid-epoch lines were printed on lines of their
    own, the last one before the next header is used when none finished.
    Other lines (`Epoch 5: val_accuracy improved…`, warnings, the script's own
    prints) are ignored, and so is a progress line that other output cut
    (`progress_metrics`): under a terminal, stderr warnings land in the middle of
    the bar being redrawn, and the epoch's real summary line comes after them.
    """

    format = "console"

    def __init__(self, source: str = "") -> None:
        super().__init__(source)
        self._epoch: int | None = None
        self._epochs: int | None = None
        self._done = True
        self._pending: EpochRecord | None = None
        self.seen_header = False  # an `Epoch N/M` line: this is Keras output

    def _line(self, line: str) -> list[Item]:
        text = visible_text(line)
        if not text:
            return []
        m = _EPOCH_HEADER.match(text)
        if m:
            self.seen_header = True
            out = self._flush_pending()
            self._epoch, self._epochs = int(m.group(1)), int(m.group(2))
            self._done = False
            return out
        if self._epoch is None or self._done:
            return []
        steps_m = _STEPS.match(text)
        if not steps_m:
            return []
        metrics = progress_metrics(text)
        if not metrics:
            return []  # no figures yet, or a line cut by other output
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
    """The format of a log from its first bytes: 'jsonl', 'csv', 'console', 'tensorboard' or 'unknown'.

    None while there is not yet enough to judge by (an empty file a script has
    only just opened). Binary data is a TensorBoard events file (a TFRecord whose
    first header checks out) or 'unknown'; text is never 'unknown' here, since a
    console log may start with pages of warnings before its first epoch.
    """
    if b"\x00" in head[:4096]:
        if len(head) < 12:
            return None
        from core.monitor.tensorboard import looks_like_tfrecord

        return "tensorboard" if looks_like_tfrecord(head) else "unknown"
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
    raise NexaraError(f"{source}: {UNKNOWN_FORMAT}")


UNKNOWN_FORMAT = ("not a training log in a known format (Keras CSVLogger CSV, Keras console output, "
                  "our JSON lines, TensorBoard events)")


def parse_bytes(data: bytes, fmt: str | None = None, source: str = "") -> list[Item]:
    """Parse a complete log in one go (tests, `--once` on a finished file)."""
    fmt = fmt or sniff(data, source) or "console"
    p = make_parser(fmt, source)
    return p.feed(data) + p.finish()
