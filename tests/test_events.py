"""The engine/UI contract (core.events): typed on both sides, byte-for-byte the same wire format."""

from __future__ import annotations

import json
import random
import string

from core import jobs
from core.events import (
    SCHEMA_VERSION,
    EventType,
    JobStatus,
    LinkState,
    Verdict,
    dumps,
    event,
    parse_line,
)
from core.records import FileResult


def _plain_dumps(ev: dict) -> str:
    """The wire format as it was before the contract had types: plain-str values, same settings."""
    return json.dumps(ev, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)


def _unenum(v):
    if isinstance(v, dict):
        return {k: _unenum(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unenum(x) for x in v]
    return str.__str__(v) if isinstance(v, str) else v


def test_golden_lines_are_unchanged():
    """The exact bytes of events the engine writes, typed members and all."""
    cases = [
        ({"v": 1, "type": EventType.JOB_END, "t": 1.5, "rc": 0, "status": JobStatus.FINISHED},
         '{"v":1,"type":"job_end","t":1.5,"rc":0,"status":"finished"}'),
        ({"v": 1, "type": EventType.FILE, "t": 2.0, "cached": False,
          "result": {"path": "train/violent/\u00e9 a\nb.mp4", "verdict": Verdict.CORRUPT, "reasons": []}},
         '{"v":1,"type":"file","t":2.0,"cached":false,"result":{"path":"train/violent/\\u00e9 a\\nb.mp4",'
         '"verdict":"corrupt","reasons":[]}}'),
        ({"v": 1, "type": EventType.ERROR, "t": 3, "message": "x", "exit_code": 2},
         '{"v":1,"type":"error","t":3,"message":"x","exit_code":2}'),
    ]
    for ev, line in cases:
        assert dumps(ev) == line


def test_event_and_parse_line_give_enum_members_that_equal_the_strings():
    ev = event("job_end", rc=0, status=JobStatus.FINISHED)
    assert ev["type"] is EventType.JOB_END and ev["type"] == "job_end" and ev["v"] == SCHEMA_VERSION
    back = parse_line(dumps(ev).encode())
    assert back is not None and back["type"] is EventType.JOB_END and back == ev
    unknown = parse_line(b'{"v":1,"type":"from_a_newer_engine","t":1}')
    assert unknown is not None and unknown["type"] == "from_a_newer_engine"
    assert not isinstance(unknown["type"], EventType)  # matches no branch, is not dropped
    for bad in (b"", b"   ", b'{"v":1,"type":"log"', b"[1,2]", b'{"type": 3}', b"\xff\xfe"):
        assert parse_line(bad) is None


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 2 else 5)
    if kind == 0:
        return rng.randint(-2**40, 2**40)
    if kind == 1:
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))
    if kind == 2:
        alphabet = string.printable + "éß\u2603\U0001f600\x00\x7f"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice(list(Verdict) + list(JobStatus) + list(LinkState))
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def test_typed_events_serialize_as_the_untyped_ones_did():
    """Property over random events: typed members change no byte, and a line survives a round trip."""
    for seed in range(500):
        rng = random.Random(seed)
        fields = {f"f{i}": _random_value(rng) for i in range(rng.randint(0, 6))}
        ev = event(rng.choice(list(EventType)), **fields)
        line = dumps(ev)
        assert line == _plain_dumps(_unenum(ev)), f"seed {seed}"
        assert "\n" not in line and line.isascii(), f"seed {seed}"
        back = parse_line(line)
        assert back is not None and dumps(back) == line, f"seed {seed}"


def test_a_real_job_log_round_trips_byte_for_byte():
    """Every line a real job wrote (a real command's --json output plus job_end) re-serializes to itself."""
    job_id = jobs.start_job(["job", "heartbeat", "--count", "5", "--interval", "0.01"])
    events = [ev for _, ev in jobs.attach(job_id)]
    log = (jobs.job_dir(job_id) / "events.jsonl").read_bytes()
    lines = [ln for ln in log.split(b"\n") if ln]
    assert len(lines) == len(events) == 7  # 5 progress, summary, job_end
    for raw, ev in zip(lines, events, strict=True):
        assert dumps(ev).encode() == raw
    assert [ev["type"] for ev in events] == [EventType.PROGRESS] * 5 + [EventType.SUMMARY, EventType.JOB_END]


def test_file_result_carries_the_verdict_as_its_string():
    r = FileResult(path="a.mp4", split="train", cls="violent", verdict=Verdict.DAMAGED)
    d = r.to_dict()
    assert dumps(d) == _plain_dumps(_unenum(d)) and '"verdict":"damaged"' in dumps(d)
    assert FileResult.from_dict(json.loads(dumps(d))).verdict is Verdict.DAMAGED
    assert str(Verdict.OK) == f"{Verdict.OK}" == "ok"  # a StrEnum: no "Verdict.OK" in any message


def test_one_link_state_vocabulary_for_the_connection_and_the_header():
    """The SSH layer used to report "down" while the UI waited for "disconnected"."""
    from nexara_tui.state import LINK_STATES
    from nexara_tui.widgets.header import _LINK_STYLE

    assert set(LINK_STATES) == set(LinkState)
    assert set(_LINK_STYLE) == {s.value for s in LinkState}
