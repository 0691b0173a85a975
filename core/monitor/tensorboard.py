"""TensorBoard logs as epoch records: a run folder (`train/`, `validation/`) or one events file.

Why not `EventFileLoader`: it opens paths through `tf.io.gfile`, which means
importing TensorFlow wherever it is installed (seconds, and never in the TUI)
and local files only, while the monitor reads every log through a `Host` (SFTP
at an offset over SSH). So the bytes come from `Host.read_file` and only the
framing is done here: a TFRecord is `uint64 length, masked crc32c of it,
payload, masked crc32c of the payload` (12 + n + 4 bytes). The payload is an
`Event` protobuf decoded by `tensorboard`'s own generated classes, and tensors
by `tensorboard.util.tensor_util`, with tensorboard's checksum function; none
of it imports TensorFlow. This module is imported only when a TensorBoard log
is opened (it pulls numpy in), never for a CSV or by the TUI at start-up.

What becomes of the scalars, as Keras' `TensorBoard` callback writes them:
`epoch_<metric>` at step = epoch (0-based) in `train/` is `<metric>`, in
`validation/` `val_<metric>`; `epoch_learning_rate` is the lr; per-batch
(`batch_*`) and per-iteration (`evaluation_*_vs_iterations`) tags are not
epochs and are skipped; any other scalar tag (a user's own `tf.summary.scalar`,
`epoch_steps_per_second`) is kept as an extra column under its own name. A
scalar written as `simple_value` (TF1, PyTorch, tensorboardX) counts the same.

Runs: a second `fit()` with the same log folder adds new event files whose
steps start again at 0; that is a new run (numbered from 1, oldest first), as
with an appended CSVLogger file. Steps that go back but not to 0 (a resumed
fit) overwrite the steps they repeat.

Liveness: Keras' writers flush every 10 events or 2 minutes, each writer on its
own, so `train/` and `validation/` reach the disk at different moments and an
epoch's tags can be split across two flushes. An epoch is given out when every
log of its run holds it whole (the log has moved past it, or holds all the
tags it held for the epoch before); when the source is read to its end and
not followed, whatever is there. An epoch that gets more tags after it was
given out is given out again (same run and epoch), and `RunState` replaces it.
"""

from __future__ import annotations

import bisect
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from core.errors import NexaraError
from core.monitor.records import EpochRecord, from_metrics

EVENTS_NAME = re.compile(r"(^|\.)tfevents\.")  # events.out.tfevents.<time>.<host>.<pid>.<n>[.v2]
HEADER = 12  # uint64 length + uint32 masked crc
FOOTER = 4
# Scalar events are ~100 bytes; the checksum is pure Python (~0.6 µs a byte), so payloads
# above this (graphs, images, histograms: never scalars) are framed but not checksummed.
CRC_MAX = 64 << 10
VALIDATION_DIRS = {"validation": "val_", "val": "val_"}
TRAIN_DIRS = {"", "train"}


def is_events_name(name: str) -> bool:
    return bool(EVENTS_NAME.search(name))


def _crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return int(masked_crc32c(data))


def looks_like_tfrecord(head: bytes) -> bool:
    """True if `head` starts with a valid TFRecord header (length and its checksum)."""
    if len(head) < HEADER:
        return False
    (hcrc,) = struct.unpack_from("<I", head, 8)
    return _crc(head[:8]) == hcrc


def events_order(name: str) -> tuple[int, str]:
    """Event files in the order they were written: by the creation time in their name."""
    m = re.search(r"tfevents\.(\d+)", name)
    return (int(m.group(1)) if m else 0, name)


class RecordReader:
    """Incremental TFRecord framing: feed bytes in any chunks, get complete payloads."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._buf = b""
        self.consumed = 0  # bytes of the file framed so far

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        while len(buf) - pos >= HEADER:
            (length,) = struct.unpack_from("<Q", buf, pos)
            (hcrc,) = struct.unpack_from("<I", buf, pos + 8)
            if _crc(buf[pos:pos + 8]) != hcrc:
                raise NexaraError(f"{self.source}: damaged TensorBoard record at byte "
                                  f"{self.consumed + pos} (header checksum)")
            end = pos + HEADER + length + FOOTER
            if len(buf) < end:
                break  # the rest of this record has not been written yet
            payload = buf[pos + HEADER:pos + HEADER + length]
            if length <= CRC_MAX:
                (dcrc,) = struct.unpack_from("<I", buf, end - FOOTER)
                if _crc(payload) != dcrc:
                    raise NexaraError(f"{self.source}: damaged TensorBoard record at byte "
                                      f"{self.consumed + pos} (data checksum)")
            out.append(payload)
            pos = end
        self._buf = buf[pos:]
        self.consumed += pos
        return out

    @property
    def held(self) -> int:
        return len(self._buf)


@dataclass
class Scalars:
    """What one event carried that the monitor uses."""

    wall_time: float
    step: int
    values: list[tuple[str, float]] = field(default_factory=list)
    file_version: str = ""


class EventDecoder:
    """Event payloads -> scalars, remembering each tag's plugin (TF2 writes it on the first value only)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._plugin: dict[str, str] = {}

    def decode(self, payload: bytes) -> Scalars | None:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2

        try:
            ev = event_pb2.Event.FromString(payload)
        except DecodeError:
            return None  # an unchecksummed big record that is not an Event: nothing of ours
        what = ev.WhichOneof("what")
        if what == "file_version":
            return Scalars(ev.wall_time, int(ev.step), file_version=ev.file_version)
        if what != "summary":
            return None
        out = Scalars(ev.wall_time, int(ev.step))
        for value in ev.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin:
                self._plugin[value.tag] = plugin
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                out.values.append((value.tag, float(value.simple_value)))
            elif kind == "tensor" and self._plugin.get(value.tag) == "scalars":
                f = self._scalar(value.tensor)
                if f is not None:
                    out.values.append((value.tag, f))
        return out

    @staticmethod
    def _scalar(tensor: Any) -> float | None:
        from tensorboard.util import tensor_util

        try:
            arr = tensor_util.make_ndarray(tensor)
        except (TypeError, ValueError):
            return None
        if arr.size != 1 or arr.dtype.kind not in "fiub":
            return None
        return float(arr.reshape(()).item())


def metric_name(tag: str, prefix: str) -> str | None:
    """The record's name for a scalar tag, None for a tag that is not per epoch."""
    if tag.startswith("batch_") or tag.endswith("_vs_iterations"):
        return None
    name = tag[len("epoch_"):] if tag.startswith("epoch_") else tag
    return prefix + name if name else None


def group_prefix(group: str) -> str:
    """`train/` (or the folder itself) holds training scalars, `validation/` the val_ ones."""
    if group in TRAIN_DIRS:
        return ""
    return VALIDATION_DIRS.get(group, f"{group}_")


@dataclass
class _File:
    path: str
    group: str
    reader: RecordReader
    decoder: EventDecoder
    first_wall: float | None = None  # the file's file_version event: when its writer opened
    started_run: bool = False


@dataclass
class _Group:
    """One writer's folder (train/, validation/, or the log folder itself)."""

    run: int = 0  # the run its newest epoch data belongs to (0: none yet)
    last_step: dict[str, int] = field(default_factory=dict)  # per tag, in the current run
    tags: dict[tuple[int, int], set[str]] = field(default_factory=dict)  # (run, step) -> tags
    steps: dict[int, list[int]] = field(default_factory=dict)  # run -> its steps, sorted
    waiting_file: bool = False  # a file with no epoch data yet (a writer just opened)


@dataclass
class _Cell:
    metrics: dict[str, float] = field(default_factory=dict)
    wall: float | None = None  # when the training group wrote it


class TensorBoardLog:
    """Every events file of one TensorBoard log folder, merged into epoch records."""

    format = "tensorboard"

    def __init__(self, source: str) -> None:
        self.source = source
        self._files: dict[str, _File] = {}
        self._groups: dict[str, _Group] = {}
        self._cells: dict[tuple[int, int], _Cell] = {}
        self._steps: dict[int, list[int]] = {}  # run -> steps with any scalar, sorted
        self._emitted: dict[tuple[int, int], dict[str, float]] = {}
        self._run_start: dict[int, float] = {}
        self._dirty: set[tuple[int, int]] = set()

    def feed(self, path: str, group: str, data: bytes) -> None:
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = _File(path, group, RecordReader(path), EventDecoder(path))
            self._group(group).waiting_file = True
        for payload in f.reader.feed(data):
            sc = f.decoder.decode(payload)
            if sc is not None:
                self._event(f, sc)

    def _group(self, name: str) -> _Group:
        g = self._groups.get(name)
        if g is None:
            g = self._groups[name] = _Group()
        return g

    def _event(self, f: _File, sc: Scalars) -> None:
        if sc.file_version:
            f.first_wall = sc.wall_time if f.first_wall is None else f.first_wall
            return
        g = self._group(f.group)
        prefix = group_prefix(f.group)
        for tag, value in sc.values:
            name = metric_name(tag, prefix)
            if name is None:
                continue
            step = sc.step
            if g.run == 0 or (step == 0 and step <= g.last_step.get(tag, -1)):
                g.run += 1  # the first epoch data, or a fit that starts over at epoch 0
                g.last_step = {}
                if f.group in TRAIN_DIRS and f.first_wall is not None and not f.started_run:
                    self._run_start[g.run] = f.first_wall
                f.started_run = True
            g.waiting_file = False
            g.last_step[tag] = step
            key = (g.run, step)
            if key not in g.tags:
                g.tags[key] = set()
                _insort(g.steps.setdefault(g.run, []), step)
            g.tags[key].add(tag)
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = _Cell()
                _insort(self._steps.setdefault(g.run, []), step)
            cell.metrics[name] = value
            if f.group in TRAIN_DIRS and cell.wall is None:
                cell.wall = sc.wall_time
            self._dirty.add(key)

    @property
    def held(self) -> int:
        return sum(f.reader.held for f in self._files.values())

    def _complete(self, key: tuple[int, int]) -> bool:
        """Every log that writes for this run holds this epoch whole (see the module doc)."""
        run, step = key
        for g in self._groups.values():
            if g.run < run:
                if g.waiting_file and g.run == run - 1:
                    return False  # its writer for this run has opened, nothing written yet
                continue  # this log has no part in this run
            steps = g.steps.get(run)
            if not steps:
                continue
            if g.run > run or steps[-1] > step:
                continue  # it has moved on past this epoch
            have = g.tags.get(key)
            if not have:
                return False
            prev = _before(steps, step)
            if prev is not None and not g.tags[(run, prev)] <= have:
                return False
        return True

    def flush(self, final: bool = False) -> list[EpochRecord]:
        """The epochs that became whole (or, with `final`, everything) since the last flush."""
        out: list[EpochRecord] = []
        for key in sorted(self._dirty):
            if not final and not self._complete(key):
                continue
            cell = self._cells[key]
            if self._emitted.get(key) == cell.metrics:
                self._dirty.discard(key)
                continue
            run, step = key
            rec = from_metrics(step + 1, dict(cell.metrics), seconds=self._seconds(key))
            rec.run = run
            out.append(rec)
            self._emitted[key] = dict(cell.metrics)
            self._dirty.discard(key)
        return out

    def _seconds(self, key: tuple[int, int]) -> float | None:
        """Wall time from the previous epoch's scalars (or the writer's opening) to this one's."""
        run, step = key
        wall = self._cells[key].wall
        if wall is None:
            return None
        prev = _before(self._steps.get(run, []), step)
        start = self._cells[(run, prev)].wall if prev is not None else (
            self._run_start.get(run) if step == 0 else None)
        if start is None or not math.isfinite(wall - start) or wall < start:
            return None
        return round(wall - start, 3)


def _insort(steps: list[int], step: int) -> None:
    if not steps or step > steps[-1]:
        steps.append(step)  # the usual case: steps arrive in order
    else:
        bisect.insort(steps, step)


def _before(steps: list[int], step: int) -> int | None:
    """The highest of the sorted `steps` below `step`."""
    i = bisect.bisect_left(steps, step)
    return steps[i - 1] if i else None
