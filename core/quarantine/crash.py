"""Crash injection: `NEXARA_CRASH_AT=<point>:<n>` SIGKILLs this process the n-th time <point> is reached.

Why a hook in production code: the crash tests (and the kill -9 harness) run the
real CLI in a subprocess and need it to die at an exact step, so that what
recovery sees is exactly what a `kill -9` or a power cut leaves. The hook is
inert unless the variable is set.

Points: `after_intent` (a file's intent is durable, its bytes have not moved),
`after_move` (bytes moved, no done record yet), `mid_copy` (half of a
cross-device copy written), `before_unlink_src` (verified copy in place, source
still there), `torn_done` (half of a chunk's done records written). Repair
(`core.repair`) adds `repair_mid_write` (half of a candidate muxed into its
staging folder) and `repair_before_apply` (candidates verified, nothing
journaled yet); its journaled moves hit the points above.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_intent", "after_move", "mid_copy", "before_unlink_src", "torn_done")


class CrashHook:
    """SIGKILL ourselves at a named point (tests only; inert unless NEXARA_CRASH_AT is set)."""

    def __init__(self) -> None:
        spec = os.environ.get("NEXARA_CRASH_AT", "")
        point, _, n = spec.partition(":")
        self.point = point or None
        self.n = int(n or 1)
        self.count = 0

    def armed(self, point: str) -> bool:
        return self.point == point

    def hit(self, point: str) -> None:
        if self.point == point:
            self.count += 1
            if self.count >= self.n:
                os.kill(os.getpid(), signal.SIGKILL)
