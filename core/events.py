"""The contract between the engine and its faces: versioned JSON-lines events.

Every engine command emits its work as a stream of events — one JSON object
per line, each with `v` (schema version), `type` and `t` (unix time). The same
stream is printed by `--json`, written to a detached job's `events.jsonl`,
carried over SSH, and rendered by the CLI and the TUI. This module is the one
place that says what those objects are:

- `EventType`, `JobStatus`, `LinkState` (and `Verdict`, defined once in
  `core.records` and re-exported here) are `StrEnum`s: members are `str`s, so
  they compare equal to the strings on the wire and serialize as those strings.
- one `TypedDict` per event type, with `type` a `Literal` of its `EventType`,
  so a type checker narrows `Event` on `ev["type"] == EventType.FILE` and the
  keys a consumer reads are checked, not guessed. TypedDicts are plain dicts at
  run time: no conversion cost on a 100,000-file scan, and the bytes on the wire
  are exactly what they were before the types existed (tests/test_events.py).

Readers ignore unknown keys and unknown types, so adding either is not a
breaking change; removing or changing the meaning of a key is, and bumps
`SCHEMA_VERSION`. `parse_line` turns a known `type` into its `EventType`
member (equal to the string, so nothing downstream sees a difference) and
leaves an unknown one a plain string that matches no branch.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal, TypedDict, cast

from core.compat import StrEnum
from core.errors import NexaraError
from core.records import Verdict

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

SCHEMA_VERSION = 1


class EventType(StrEnum):
    """Every `type` the engine emits."""

    # scan and results
    START = "start"
    FILE = "file"
    PROGRESS = "progress"
    SUMMARY = "summary"
    RESULTS = "results"
    # any command
    LOG = "log"
    ERROR = "error"
    # jobs
    JOB = "job"
    JOB_END = "job_end"
    JOB_STARTED = "job_started"
    # decision, quarantine, restore
    DECISION = "decision"
    PLAN = "plan"
    PLANNED = "planned"
    MOVED = "moved"
    SKIPPED = "skipped"
    BATCH = "batch"
    RECOVERED = "recovered"
    QUARANTINE = "quarantine"
    JOURNAL_BATCH = "journal_batch"
    # repair (core.repair.session)
    REPAIR_PLAN = "repair_plan"
    CANDIDATE = "candidate"
    REPAIR_SUMMARY = "repair_summary"
    REPAIRED = "repaired"
    RESUMED = "resumed"
    # preview, demo
    PREVIEW = "preview"
    DEMO = "demo"
    DEMO_VERIFY = "demo_verify"
    # training
    TRAIN_START = "train_start"
    EPOCH = "epoch"
    TRAIN_END = "train_end"
    FEATURES = "features"
    EVALUATION = "evaluation"
    # machines
    GPU = "gpu"
    PROBE = "probe"
    REMOTE_CHECK = "remote_check"
    REMOTE_INSTALL = "remote_install"
    # a pass on a Dask cluster (core.cluster)
    CLUSTER = "cluster"
    # plan A (core.redownload)
    REDOWNLOAD_PLAN = "redownload_plan"
    REDOWNLOAD_START = "redownload_start"
    DOWNLOAD = "download"
    REDOWNLOAD_END = "redownload_end"
    # the same footage twice (core.dupes) and new clips in (core.ingest)
    DUPES = "dupes"
    INGEST_START = "ingest_start"
    INGEST_SCAN = "ingest_scan"
    INGEST_ITEM = "ingest_item"
    INGEST_PLAN = "ingest_plan"
    INGEST_SUMMARY = "ingest_summary"


class JobStatus(StrEnum):
    """A detached job's state (`core.jobs`): running, then exactly one of the ended ones."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # its wrapper died without recording an end (killed, machine rebooted)

    @property
    def ended(self) -> bool:
        return self is not JobStatus.RUNNING


ENDED_STATUSES = frozenset(s for s in JobStatus if s.ended)
_JOB_STATUSES = frozenset(s.value for s in JobStatus)


class LinkState(StrEnum):
    """The state of the link to a host, as the SSH connection reports it and every header shows it.

    One vocabulary for both sides: the connection emits these members, the TUI
    matches on them (there used to be a "down" on one side and a "disconnected"
    on the other).
    """

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"  # not connected: never was, closed, or given up on
    ERROR = "error"  # could not be opened at all (unknown key, bad auth, …)


# ---------------------------------------------------------------- payload records


@dataclass
class JobInfo:
    """A detached job as `job list` reports it."""

    id: str
    argv: list[str]
    status: JobStatus
    started: float
    ended: float | None = None
    rc: int | None = None
    pid: int | None = None
    log_size: int = 0
    # `cwd`, and `dir`: where the job lives on its host (its events.jsonl, stderr.log).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "argv": self.argv, "status": self.status, "started": self.started,
                "ended": self.ended, "rc": self.rc, "pid": self.pid, "log_size": self.log_size,
                "extra": self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "job") -> JobInfo:
        """From `to_dict()` (a `job` event): a one-line NexaraError naming `where` if the shape is wrong."""

        def num(key: str, kind: type, optional: bool = True) -> Any:
            v = d.get(key)
            if v is None and optional:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float) if kind is float else int):
                raise NexaraError(f"{where}: '{key}' must be {'a number' if kind is float else 'an integer'}"
                                  f"{' or null' if optional else ''}, not {v!r}")
            return kind(v)

        job_id, argv, status = d.get("id"), d.get("argv", []), d.get("status", "running")
        if not isinstance(job_id, str) or not job_id:
            raise NexaraError(f"{where}: 'id' must be a job id, not {job_id!r}")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise NexaraError(f"{where}: 'argv' must be a list of strings")
        if not isinstance(status, str) or status not in _JOB_STATUSES:
            raise NexaraError(f"{where}: 'status' must be one of {', '.join(JobStatus)}, not {status!r}")
        extra = d.get("extra", {})
        return cls(
            id=job_id, argv=list(argv), status=JobStatus(status),
            started=num("started", float, optional=False) if "started" in d else 0.0,
            ended=num("ended", float), rc=num("rc", int), pid=num("pid", int),
            log_size=num("log_size", int) or 0, extra=dict(extra) if isinstance(extra, dict) else {},
        )




# `class` is a keyword: the functional form is the only way to name that key.
FileResultDict = TypedDict("FileResultDict", {
    "path": str, "split": str, "class": str,
    "verdict": str,  # a Verdict value
    "reasons": list[str],
    "messages": NotRequired[list[str]], "frames_decoded": NotRequired[int],
    "frames_corrupt": NotRequired[int], "frames_expected": NotRequired["int | None"],
    "packets_failed": NotRequired[int], "duration_s": NotRequired["float | None"],
    "decoded_s": NotRequired["float | None"], "size": NotRequired[int],
    "mtime_ns": NotRequired[int], "seconds": NotRequired[float], "level": NotRequired[str],
    "codec": NotRequired["str | None"], "container": NotRequired["str | None"],
    "width": NotRequired["int | None"], "height": NotRequired["int | None"],
    "fps": NotRequired["float | None"],
    # a verified repaired copy (core.repair): strategy, batch, seconds, the original's result
    "repair": NotRequired["dict[str, Any] | None"],
})
"""`core.records.FileResult.to_dict()`: one file's verdict, as a `file` event carries it."""

_GroupCounts = TypedDict("_GroupCounts", {
    "split": str, "class": str, "total": int, "ok": int, "warning": int, "damaged": int,
    "corrupt": int,
})


class CountsDict(TypedDict):
    total: int
    ok: int
    warning: int
    damaged: int
    corrupt: int


class RecoveredByRepair(TypedDict):
    total: int
    by_class: dict[str, int]
    groups: list[dict[str, Any]]  # {"split", "class", "count"}


class SummaryDict(TypedDict):
    """`core.summary.Summary.to_dict()`."""

    groups: list[_GroupCounts]
    overall: CountsDict
    reasons: dict[str, int]
    recovered_by_repair: NotRequired[RecoveredByRepair]  # unusable clips usable again as repaired copies


class SkippedFile(TypedDict):
    path: str
    reason: str


class _Base(TypedDict):
    v: int
    t: float


# ---------------------------------------------------------------- one TypedDict per type


class StartEvent(_Base):
    """A scan begins: what it will report, and what it skipped (not videos)."""

    type: Literal[EventType.START]
    root: str
    level: str
    total: int
    cached: int
    to_check: int
    skipped: list[SkippedFile]
    notes: list[str]


class FileSource(TypedDict):
    """Where a clip came from (`core.provenance`), on `results` file events."""

    url: str | None
    how: str  # "info_json" | "manifest" | "name"
    id: str | None


class FileEvent(_Base):
    type: Literal[EventType.FILE]
    result: FileResultDict
    cached: bool
    source: NotRequired[FileSource]


class ProgressEvent(_Base):
    """Scan, extract, demo and heartbeat progress; only `done` is always there."""

    type: Literal[EventType.PROGRESS]
    done: int
    total: NotRequired[int | None]
    rate: NotRequired[float | None]
    eta_s: NotRequired[float | None]
    summary: NotRequired[SummaryDict]
    phase: NotRequired[str]
    split: NotRequired[str]
    path: NotRequired[str]


class SummaryEvent(_Base):
    """The end of a scan (`seconds`, `checked`, `cached`, `skipped`) or a `results` load (`shown`)."""

    type: Literal[EventType.SUMMARY]
    summary: NotRequired[SummaryDict]
    level: NotRequired[str | None]
    seconds: NotRequired[float]
    checked: NotRequired[int]
    cached: NotRequired[int]
    skipped: NotRequired[int]
    shown: NotRequired[int]
    levels: NotRequired[dict[str, int]]  # `results`: files per scan level (a store can mix them)
    quarantined: NotRequired[int]  # `results`: files moved out to the quarantine
    count: NotRequired[int]  # `job heartbeat`


class ResultsEvent(_Base):
    """Stored results follow (`nexara results`): the last scan's meta."""

    type: Literal[EventType.RESULTS]
    root: str
    last_scan: dict[str, Any]


class LogEvent(_Base):
    type: Literal[EventType.LOG]
    message: str


class ErrorEvent(_Base):
    """A one-line error; the command exits with `exit_code`."""

    type: Literal[EventType.ERROR]
    message: str
    exit_code: int


class JobEvent(_Base):
    """A job was started (id, host) or is listed (`job list`: the JobInfo fields)."""

    type: Literal[EventType.JOB]
    id: str
    host: NotRequired[str]
    argv: NotRequired[list[str]]
    status: NotRequired[str]
    started: NotRequired[float]
    ended: NotRequired[float | None]
    rc: NotRequired[int | None]
    pid: NotRequired[int | None]
    log_size: NotRequired[int]
    extra: NotRequired[dict[str, Any]]


class JobEndEvent(_Base):
    """The last line of every job's log, written by its wrapper (or by the reader that found it lost)."""

    type: Literal[EventType.JOB_END]
    rc: int | None
    status: str  # a JobStatus value


class JobStartedEvent(_Base):
    type: Literal[EventType.JOB_STARTED]
    job_id: str
    run_dir: str
    argv: list[str]


class DecisionEvent(_Base):
    type: Literal[EventType.DECISION]
    root: str
    decision: dict[str, Any]  # core.decision.Decision.to_dict()
    summary: SummaryDict
    quarantined: NotRequired[dict[str, Any]]  # what was moved out (core.commands.decide)


class PlanEvent(_Base):
    type: Literal[EventType.PLAN]
    dry_run: bool
    verdicts: list[str] | None
    reasons: list[str] | None
    files: NotRequired[list[dict[str, Any]]]


class PlannedEvent(_Base):
    type: Literal[EventType.PLANNED]
    rel: str
    size: int
    verdict: str
    reasons: list[str]


class MovedEvent(_Base):
    """One file moved (quarantine or restore): `core.quarantine.Outcome`."""

    type: Literal[EventType.MOVED]
    rel: str
    status: str
    size: NotRequired[int]
    reason: NotRequired[str]
    message: NotRequired[str]
    note: NotRequired[str]


class SkippedEvent(_Base):
    """One file not moved (or, by repair, not repaired), and why."""

    type: Literal[EventType.SKIPPED]
    rel: str
    status: NotRequired[str]
    reason: NotRequired[str]
    message: NotRequired[str]
    size: NotRequired[int]
    note: NotRequired[str]
    batch: NotRequired[str]  # repair: a file of this batch that was not put in place


class BatchEvent(_Base):
    """A finished batch; repair's (op "repair") also says what it recovered."""

    type: Literal[EventType.BATCH]
    batch: str | None
    op: str
    moved: int
    skipped: int
    bytes: int
    seconds: float
    repaired: NotRequired[int]
    seconds_recovered: NotRequired[float]
    seconds_present: NotRequired[float]
    corrupt_recovered: NotRequired[int]
    recovered_by_class: NotRequired[dict[str, int]]


class RecoveredEvent(_Base):
    """A batch interrupted by a crash, finished or rolled back by the next command."""

    type: Literal[EventType.RECOVERED]
    batch: str
    seq: NotRequired[int]
    op: NotRequired[str]
    rel: NotRequired[str]
    action: NotRequired[str]
    message: NotRequired[str]


class QuarantineEvent(_Base):
    type: Literal[EventType.QUARANTINE]
    files: int
    bytes: int
    pending: NotRequired[int]
    torn_bytes: NotRequired[int]
    bad_lines: NotRequired[int]


class JournalBatchEvent(_Base):
    type: Literal[EventType.JOURNAL_BATCH]
    batch: str


class RepairPlanEvent(_Base):
    """A repair run begins: how many flagged files it considers, and with which options."""

    type: Literal[EventType.REPAIR_PLAN]
    root: str
    count: int
    dry_run: bool
    min_seconds: float
    reference: str | None


class CandidateEvent(_Base):
    """What repair can do for one file (`core.repair.engine.Attempt.to_dict()`)."""

    type: Literal[EventType.CANDIDATE]
    rel: str
    split: str
    cls: str
    size: int
    mtime_ns: int
    before: dict[str, Any]  # the original's verdict, reasons, decoded_s, duration_s, size
    status: str  # "repairable" | "not_repairable" | "no_strategy"
    why: str
    strategy: str
    detail: str
    reference: str
    seconds_recovered: float
    seconds_present: float | None
    after: FileResultDict | None  # the verified candidate's result
    tried: list[dict[str, Any]]  # per strategy: result, why, verdict, seconds
    frames: NotRequired[list[dict[str, Any]]]  # with --preview-frames: the candidate's frames


class RepairSummaryEvent(_Base):
    """Totals over the candidates (`core.repair.session.Totals.to_dict()`)."""

    type: Literal[EventType.REPAIR_SUMMARY]
    dry_run: bool
    considered: int
    repairable: int
    no_strategy: int
    tried: int
    seconds_recovered: float
    seconds_present: float
    seconds_present_tried: float
    by_strategy: dict[str, int]
    why_not: dict[str, int]
    corrupt_recovered: int
    recovered_by_class: dict[str, int]


class RepairedEvent(_Base):
    """One repaired copy put in place (`core.repair.apply.Applied.to_dict()`)."""

    type: Literal[EventType.REPAIRED]
    rel: str
    status: str
    reason: str
    message: str
    batch: str
    strategy: NotRequired[str]
    seconds_recovered: NotRequired[float]
    seconds_present: NotRequired[float | None]
    verdict_before: NotRequired[str]
    verdict_after: NotRequired[str | None]


class ResumedEvent(_Base):
    """An interrupted repair put in place by the next run (same shape as `repaired`)."""

    type: Literal[EventType.RESUMED]
    rel: str
    status: str
    reason: str
    message: str
    batch: str


class PreviewEvent(_Base):
    type: Literal[EventType.PREVIEW]
    path: str
    duration_s: float
    frames: list[dict[str, Any]]
    messages: list[str]


class DemoEvent(_Base):
    type: Literal[EventType.DEMO]
    root: str
    ground_truth: str


class DemoVerifyEvent(_Base):
    type: Literal[EventType.DEMO_VERIFY]
    root: str
    level: str
    files: int
    problems: list[Any]


class TrainStartEvent(_Base):
    type: Literal[EventType.TRAIN_START]
    epochs: int
    config: dict[str, Any]
    run_dir: str
    classes: list[str]
    counts: dict[str, Any]


class EpochEvent(_Base):
    """One finished epoch (`core.training.metrics.epoch_record`); NaN/inf metrics are strings."""

    type: Literal[EventType.EPOCH]
    epoch: int
    epochs: NotRequired[int]
    loss: NotRequired[float | str | None]
    accuracy: NotRequired[float | str | None]
    val_loss: NotRequired[float | str | None]
    val_accuracy: NotRequired[float | str | None]
    recall: NotRequired[dict[str, float]]
    gap: NotRequired[float]
    lr: NotRequired[float]
    seconds: NotRequired[float]
    best_epoch: NotRequired[int | None]
    best_val_accuracy: NotRequired[float | str | None]
    since_improvement: NotRequired[int]
    patience: NotRequired[int]


class TrainEndEvent(_Base):
    type: Literal[EventType.TRAIN_END]
    best_epoch: int
    model_path: str
    stopped_early: bool


class FeaturesEvent(_Base):
    type: Literal[EventType.FEATURES]
    split: str
    mode: str
    clips: int
    views: int


class EvaluationEvent(_Base):
    type: Literal[EventType.EVALUATION]
    model: str
    split: str
    passed: bool
    results: dict[str, Any]


class GpuEvent(_Base):
    type: Literal[EventType.GPU]
    gpus: list[dict[str, Any]]
    reason: NotRequired[str | None]


class ProbeEvent(_Base):
    type: Literal[EventType.PROBE]
    nexara: str
    python: str
    executable: str


class RemoteCheckEvent(_Base):
    type: Literal[EventType.REMOTE_CHECK]
    host: str
    installed: bool
    version_match: bool | None


class RemoteInstallEvent(_Base):
    type: Literal[EventType.REMOTE_INSTALL]
    host: str
    venv: str
    version: str


# The payload of a `cluster` event: where a pass runs when it runs on Dask. Emitted once
# when the client is connected, then about once a second with the per-worker counts;
# readers keep the last one.
class ClusterWorker(TypedDict):
    address: str  # the Dask worker, tcp://host:port
    name: str
    threads: int  # concurrent checks on this worker
    files: int  # files it finished for this pass
    rate: float  # files/s over this pass


class ClusterInfo(TypedDict):
    address: str  # the scheduler
    dashboard: str | None  # Dask's dashboard, when the scheduler serves one
    local: bool  # a LocalCluster started by this scan
    workers: list[ClusterWorker]
    threads: int  # all workers together
    batch: int  # files per task now
    lost: int  # workers that left during the pass (their files were rescheduled)


class ClusterEvent(_Base, ClusterInfo):
    type: Literal[EventType.CLUSTER]


class RedownloadPlanEvent(_Base):
    """The lost clips' sources (`nexara redownload`): one target per distinct source."""

    type: Literal[EventType.REDOWNLOAD_PLAN]
    root: str
    verdicts: list[str]
    targets: list[dict[str, Any]]  # {url, split, class, rels}
    unknown: list[dict[str, Any]]  # {path, split, class}: lost, no source known
    groups: list[dict[str, Any]]  # per split/class: lost, with_source, urls
    shared: list[str]  # URLs lost from more than one split/class
    coverage: list[dict[str, Any]]  # per class: the decision matrix's need and the URLs


class RedownloadStartEvent(_Base):
    type: Literal[EventType.REDOWNLOAD_START]
    into: str
    total: int
    archive: str
    unknown: int


class DownloadEvent(_Base):
    type: Literal[EventType.DOWNLOAD]
    url: str
    split: str
    cls: str
    status: str  # "ok" | "already" | "error"
    file: str | None
    error: str | None
    done: int
    total: int
    rels: list[str]


class RedownloadEndEvent(_Base):
    type: Literal[EventType.REDOWNLOAD_END]
    downloaded: int
    already: int
    failed: int
    into: str
    seconds: float


# -- duplicates (`nexara dupes`, core.dupes) and ingest (`nexara ingest`, core.ingest)

# One file of a group of the same footage; "class" is a keyword, hence the functional form.
DupesMember = TypedDict("DupesMember", {
    "path": str,  # relative to ROOT
    "split": str, "class": str, "size": int, "verdict": str, "width": int, "height": int,
})


class DupesGroup(TypedDict):
    """`core.dupes.Group.to_dict()`: clips that are the same footage."""

    files: list[str]  # relative to ROOT
    kind: str  # "exact" (same bytes) | "near" (same pictures)
    splits: list[str]
    classes: list[str]
    keep: str  # the copy kept by default: in the split that does not leak, the best quality there
    keep_split: str
    members: list[DupesMember]


class DupesFinding(TypedDict):
    severity: str  # "critical" | "warning" | "info"
    code: str  # "leakage" | "label_conflict" | "redundant_copies"
    message: str


DupesDistinct = TypedDict("DupesDistinct", {"split": str, "class": str, "distinct": int})


class DupesEvent(_Base):
    """The whole report of `nexara dupes ROOT` (`core.dupes.Report.to_dict()`)."""

    type: Literal[EventType.DUPES]
    root: str
    groups: list[DupesGroup]
    findings: list[DupesFinding]
    clips: int  # usable clips with a fingerprint
    missing: int  # usable clips without one (scanned before fingerprints existed)
    redundant: dict[str, int]  # class → copies beyond the first
    distinct: list[DupesDistinct]
    rule: dict[str, Any]  # core.dupes.MatchRule
    seconds: float


class IngestStartEvent(_Base):
    type: Literal[EventType.INGEST_START]
    incoming: str
    root: str
    split: str | None
    cls: str | None
    level: str


class IngestScanEvent(_Base):
    """The scans ingest runs: of ROOT (phase "root"), then of INCOMING ("incoming")."""

    type: Literal[EventType.INGEST_SCAN]
    phase: str
    step: str  # "start" | "progress" | "summary" (the scan's own event it follows)
    done: NotRequired[int]
    total: NotRequired[int | None]
    rate: NotRequired[float | None]
    eta_s: NotRequired[float | None]
    to_check: NotRequired[int]
    cached: NotRequired[int]
    checked: NotRequired[int]
    seconds: NotRequired[float]


class IngestItemEvent(_Base):
    """One incoming clip and what ingest decided for it (`core.ingest.IngestItem`)."""

    type: Literal[EventType.INGEST_ITEM]
    src: str  # relative to INCOMING
    split: str
    cls: str
    status: str  # "add" | "corrupt" | "duplicate" | "unplaced"
    size: int
    dest: str  # relative to ROOT ("add")
    reason: str  # one line: why it was rejected
    reasons: list[str]  # the scan's reason codes
    duplicate_of: str  # "ROOT/<rel>" | "INCOMING/<rel>"
    verdict: str
    sidecar: str  # the yt-dlp `.info.json` moved with it (relative to INCOMING), or ""


class IngestPlanEvent(_Base):
    type: Literal[EventType.INGEST_PLAN]
    incoming: str
    root: str
    counts: dict[str, int]  # add, corrupt, duplicate, unplaced
    add_bytes: int
    dry_run: bool


class IngestSummaryEvent(_Base):
    """The last event of an ingest."""

    type: Literal[EventType.INGEST_SUMMARY]
    incoming: str
    root: str
    dry_run: bool
    added: int
    planned: int
    rejected_corrupt: int
    rejected_duplicate: int
    unplaced: int
    not_moved: int  # planned, but skipped by the move (changed, or the name was taken meanwhile)
    sidecars: int  # `.info.json` sidecars moved along with their clips
    batch: str | None  # undo: nexara restore ROOT --batch ID
    seconds: float


Event = (StartEvent | FileEvent | ProgressEvent | SummaryEvent | ResultsEvent | LogEvent |
    ErrorEvent | JobEvent | JobEndEvent | JobStartedEvent | DecisionEvent | PlanEvent |
    PlannedEvent | MovedEvent | SkippedEvent | BatchEvent | RecoveredEvent | QuarantineEvent |
    JournalBatchEvent | RepairPlanEvent | CandidateEvent | RepairSummaryEvent | RepairedEvent |
    ResumedEvent | PreviewEvent | DemoEvent | DemoVerifyEvent | TrainStartEvent |
    EpochEvent | TrainEndEvent | FeaturesEvent | EvaluationEvent | GpuEvent | ProbeEvent |
    RemoteCheckEvent | RemoteInstallEvent | ClusterEvent | RedownloadPlanEvent |
    RedownloadStartEvent | DownloadEvent | RedownloadEndEvent | DupesEvent | IngestStartEvent |
    IngestScanEvent | IngestItemEvent | IngestPlanEvent | IngestSummaryEvent)
"""Any event. Narrow it with `ev["type"] == EventType.X` (or `match ev["type"]`)."""

_KNOWN = {m.value: m for m in EventType}


# ---------------------------------------------------------------- making and reading


def event(type_: EventType | str, **fields: Any) -> dict[str, Any]:
    """A new event of `type_` stamped with the schema version and the time.

    Returns a plain dict (what every producer builds on); `parse_line` and the
    hosts hand consumers the typed `Event`.
    """
    return {"v": SCHEMA_VERSION, "type": _KNOWN.get(str(type_), type_), "t": round(time.time(), 3),
            **fields}


def dumps(ev: Mapping[str, Any]) -> str:
    # ensure_ascii keeps every line 7-bit clean: file names with newlines or
    # odd bytes cannot split a record, whatever the transport.
    return json.dumps(ev, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)


def emit(ev: Mapping[str, Any], out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    out.write(dumps(ev) + "\n")
    out.flush()


def parse_line(line: str | bytes) -> Event | None:
    """One event from one line, or None for a blank, torn or non-event line."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line:
        return None
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
        return None
    known = _KNOWN.get(ev["type"])
    if known is not None:
        ev["type"] = known
    return cast(Event, ev)


def as_event(ev: Mapping[str, Any]) -> Event:
    """An event built in this process (`event(...)`) seen through the contract.

    The in-process path (`cmd.events(args)` straight into `render`) carries the
    same dicts `event()` made, with the same `EventType` members `parse_line`
    gives; this only tells the type checker so.
    """
    return cast(Event, ev)


def raise_on_error(events: Iterable[Event]) -> Iterator[Event]:
    """Pass events through, turning an `error` event back into a NexaraError."""
    for ev in events:
        if ev["type"] == EventType.ERROR:
            raise NexaraError(str(ev.get("message", "unknown error")), int(ev.get("exit_code", 2)))
        yield ev


def drain(events: Iterable[Mapping[str, Any]]) -> int:
    """Consume a stream whose events the dispatcher already printed (`--json`); exit 0.

    Errors still surface: the stream raises them (see `raise_on_error`).
    """
    for _ in events:
        pass
    return 0


__all__ = [
    "ENDED_STATUSES", "SCHEMA_VERSION", "Event", "EventType", "JobInfo", "JobStatus", "LinkState", "Verdict",
    "as_event", "drain", "dumps", "emit", "event", "parse_line", "raise_on_error",
]
