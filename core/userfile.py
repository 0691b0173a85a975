"""Reading a small file a user hands us (a config, a policy, a list of files): bounded, regular files only.

`decide --policy /dev/zero` used to read without end. Here a path must name a
regular file (not a device, a FIFO or a folder) and is read up to a limit; past
it, one line says the file is too large for what it is meant to be.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import NexaraError
from core.units import human_size

CONFIG_MAX_BYTES = 1 << 20  # a config or policy file: a few KiB in practice
LIST_MAX_BYTES = 256 << 20  # a list of dataset files: 100,000 paths are ~10 MiB


def read_user_file(path: Path | str, what: str, limit: int) -> bytes:
    """The bytes of `path`; FileNotFoundError as it is, any other problem a one-line NexaraError."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NexaraError(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise NexaraError(f"{p}: cannot read {what} ({kind})")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise NexaraError(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise NexaraError(f"{p}: larger than {human_size(limit)}, too large for {what}")
    return data
