"""Paths as a person types them (a ROOT argument) and reads them (a name in a one-line message).

Scraped datasets have names with newlines, carriage returns, escape sequences and
bytes that are not UTF-8. Printed as they are, such a name splits an error over two
lines, rewrites the terminal, or crashes a UTF-8 terminal ("surrogates not
allowed"). `shown()` quotes exactly those names and leaves ordinary ones alone, so
messages stay one line and every name a person sees can be told apart.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import NexaraError


def _plain(s: str) -> bool:
    return bool(s) and s.isprintable() and s == s.strip()


def shown(path: str | bytes | os.PathLike[str]) -> str:
    """The path as-is when it prints safely on one line, else quoted with escapes.

    A byte that is not UTF-8 (carried as a lone surrogate by `os.fsdecode`) shows as
    `\\xNN`, the byte itself; control characters as `\\n`, `\\r`, `\\x1b`; edge spaces
    and an empty name are made visible by the quotes.
    """
    s = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if _plain(s):
        return s
    out = []
    for c in s:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif c in "'\\":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            out.append(repr(c)[1:-1])
    return "'" + "".join(out) + "'"


def root_arg(value: str) -> Path:
    """ROOT as typed, refusing the empty string (which every path API reads as the current folder)."""
    if not value:
        raise NexaraError("ROOT is empty ('' would mean the current folder); name the dataset folder, "
                          "or '.' for the current one")
    return Path(value).expanduser()
