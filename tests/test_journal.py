"""The journal on its own: hashing, folding, torn tails and their repair, locking."""

from __future__ import annotations

import json
import os

import pytest

from core.errors import NexaraError
from core.journal import DONE, INTENT, Journal, fast_hash, parse_records


def _intent(batch: str, seq: int, rel: str, op: str = "move") -> dict:
    q = f"corrupted_videos/{rel}"
    return {"batch": batch, "seq": seq, "op": op, "rel": rel,
            "src": rel if op == "move" else q, "dst": q if op == "move" else rel,
            "size": 1, "hash": "b2f:00", "verdict": "corrupt", "reasons": ["truncated"],
            "time": 1.0 + seq, "method": "rename", "state": INTENT}


def _final(batch: str, seq: int, rel: str, state: str = DONE, op: str = "move") -> dict:
    return {"batch": batch, "seq": seq, "op": op, "rel": rel, "state": state, "time": 2.0 + seq}


def test_fast_hash_sees_size_head_tail_and_small_files_whole(tmp_path):
    big = tmp_path / "big.bin"
    data = bytearray(os.urandom(3 << 20))
    big.write_bytes(data)
    h = fast_hash(big)
    assert h.startswith("b2f:") and fast_hash(big) == h
    for pos in (0, len(data) - 1):  # first and last byte are always hashed
        changed = bytearray(data)
        changed[pos] ^= 0xFF
        big.write_bytes(changed)
        assert fast_hash(big) != h
    big.write_bytes(data + b"x")
    assert fast_hash(big) != h
    small = tmp_path / "small.bin"
    sdata = bytearray(os.urandom(100_000))
    small.write_bytes(sdata)
    hs = fast_hash(small)
    sdata[50_000] ^= 1  # any byte of a small file counts
    small.write_bytes(sdata)
    assert fast_hash(small) != hs


def test_fold_states_and_in_quarantine(tmp_path):
    lines = [
        _intent("b1", 1, "a.mp4"), _intent("b1", 2, "b.mp4"),
        _final("b1", 1, "a.mp4"), _final("b1", 2, "b.mp4", "rolled_back"),
        _intent("b2", 1, "c.mp4"),  # pending
        _intent("r1", 1, "a.mp4", op="restore"), _final("r1", 1, "a.mp4", op="restore"),
        _intent("b3", 1, "a.mp4"), _final("b3", 1, "a.mp4"),
    ]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    view = parse_records(data)
    assert [e.rel for e in view.pending()] == ["c.mp4"]
    inq = view.in_quarantine()
    assert set(inq) == {"a.mp4"} and inq["a.mp4"].batch == "b3"
    batches = {b["batch"]: b for b in view.batches()}
    assert batches["b1"]["count"] == 1 and batches["b1"]["states"] == {"done": 1, "rolled_back": 1}


def test_torn_last_line_is_ignored_then_truncated_on_next_write(tmp_path):
    j = Journal(tmp_path)
    j.dir.mkdir()
    good = json.dumps(_intent("b1", 1, "a.mp4")) + "\n"
    torn = json.dumps(_final("b1", 1, "a.mp4"))[:25]
    j.path.write_text(good + torn)
    view = j.read()
    assert view.torn_bytes == len(torn)
    assert [e.state for e in view.entries.values()] == [INTENT]
    with j:
        j.append([_final("b1", 1, "a.mp4")])
    text = j.path.read_text()
    assert text == good + json.dumps(_final("b1", 1, "a.mp4"), separators=(",", ":")) + "\n"
    assert [e.state for e in j.read().entries.values()] == [DONE]


def test_garbage_lines_are_skipped_and_counted(tmp_path):
    data = (json.dumps(_intent("b1", 1, "a.mp4")) + "\nnot json\n[1,2]\n"
            + json.dumps(_final("zz", 9, "x.mp4")) + "\n").encode()
    view = parse_records(data)
    assert view.bad_lines == [2, 3, 4]
    assert len(view.entries) == 1


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    with Journal(tmp_path), pytest.raises(NexaraError, match="another nexara"):
        Journal(tmp_path).open()
    Journal(tmp_path).open().close()  # released after close


def test_the_journal_keeps_space_for_its_records(tmp_path):
    """A full disk must not block the undo (issue 11.4): 1 MiB stays allocated past the
    journal's end (no extra file where the file system can preallocate)."""
    from core.journal import RESERVE_BYTES

    with Journal(tmp_path) as j:
        j.append([_intent("b1", 1, "a.mp4")])
        st = os.stat(j.path)
        assert st.st_blocks * 512 >= st.st_size + RESERVE_BYTES - 4096
    assert sorted(p.name for p in j.dir.iterdir()) == ["journal.jsonl"]
