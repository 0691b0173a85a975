"""What Python 3.10 lacks and the engine uses: `StrEnum` (3.11+).

The GPU box may run the distribution's Python 3.10; the enums of the wire
contract (`core.events`) and the verdicts (`core.records`) must behave the
same there: members are `str`s, `str(m)` and `f"{m}"` give the value.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - exercised on 3.10 only

    class StrEnum(str, Enum):
        """`enum.StrEnum` of Python 3.11."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


__all__ = ["StrEnum"]
