"""Counting verdicts: "not checked" is neither usable nor lost (issue 11.9)."""

from __future__ import annotations

import random

from core.records import FileResult, Verdict
from core.summary import NOT_CHECKED_REASONS, Counts, Summary, summarize


def _r(rel: str, verdict: Verdict, reasons: list[str], cls: str = "a") -> FileResult:
    return FileResult(rel, "train", cls, verdict, reasons)


def test_not_checked_is_counted_apart_from_corrupt_and_from_the_rates() -> None:
    s = summarize([
        _r("1", Verdict.OK, []), _r("2", Verdict.CORRUPT, ["moov_missing"]),
        _r("3", Verdict.CORRUPT, ["timeout"]), _r("4", Verdict.CORRUPT, ["crash"]),
        _r("5", Verdict.CORRUPT, ["check_failed"]), _r("6", Verdict.DAMAGED, ["decode_errors"]),
    ])
    c = s.overall
    assert (c.total, c.checked, c.corrupt, c.not_checked) == (6, 3, 1, 3)
    assert (c.lost(), c.valid(), c.rate()) == (1, 2, 1 / 3)
    assert (c.lost(True), c.valid(True)) == (2, 1)
    assert s.to_dict()["overall"]["not_checked"] == 3
    assert Summary.from_dict(s.to_dict()).overall == c


def test_counts_add_up_over_random_results() -> None:
    """Property over seeded random datasets: every file lands in exactly one bucket."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    codes = [*sorted(NOT_CHECKED_REASONS), "moov_missing", "truncated", "decode_errors"]
    for _ in range(50):
        results = []
        for i in range(rng.randrange(0, 60)):
            v = rng.choice(list(Verdict))
            reasons = rng.sample(codes, rng.randrange(0, 3)) if v is not Verdict.OK else []
            results.append(_r(str(i), v, reasons, cls=rng.choice("ab")))
        s = summarize(results)
        c = s.overall
        unchecked = sum(r.verdict is Verdict.CORRUPT and bool(NOT_CHECKED_REASONS & set(r.reasons))
                        for r in results)
        assert c.total == len(results), seed
        assert c.not_checked == unchecked, seed
        assert c.valid() + c.lost() + c.not_checked == c.total, seed
        merged = Counts()
        for g in s.by_class().values():
            merged.merge(g)
        assert merged == c, seed


REASONS = ["truncated", "timeout", "crash", "check_failed", "decode_errors", "still_image", "audio_errors"]


def test_add_stored_counts_what_add_counts() -> None:
    """Counting a stored result dict gives exactly what counting the FileResult gives."""
    rng = random.Random(12)
    a, b = Summary(), Summary()
    for i in range(2_000):
        r = FileResult(
            path=f"x/{i}.mp4", split=rng.choice(["train", "val", "test", "all"]),
            cls=rng.choice(["violent", "nonviolent", "odd \u00e9"]), verdict=rng.choice(list(Verdict)),
            reasons=rng.sample(REASONS, rng.randint(0, 3)),
            repair=rng.choice([None, {"strategy": "trim", "from_verdict": "corrupt"},
                               {"strategy": "remux", "from_verdict": "warning"}]),
        )
        a.add(r)
        b.add_stored(r.to_dict())
    assert a.to_dict() == b.to_dict()
    assert a.overall.not_checked > 0  # the not-checked rule was exercised
    assert sum(a.recovered.values()) > 0  # and the recovered-by-repair one
