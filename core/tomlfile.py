"""Reading the TOML files a user hands us (Nexara's config, a training config, a policy).

One place turns every way such a file can be wrong — missing, unreadable, not
a regular file, too large (`core.userfile`), not UTF-8, not TOML — into the
same one-line error naming the file and the problem.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.userfile import CONFIG_MAX_BYTES, read_user_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_toml", "tomllib"]


def read_toml(path: Path, what: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
    """The parsed file; None if it does not exist and `missing_ok` (defaults apply then)."""
    try:
        return tomllib.loads(read_user_file(path, what, CONFIG_MAX_BYTES).decode("utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise NexaraError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NexaraError(f"{path}: cannot read {what} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise NexaraError(f"{path}: invalid TOML in {what} ({exc})") from None
