"""Human-readable quantities, shared by the CLI and the TUI so both print sizes alike."""

from __future__ import annotations


def human_size(n: float) -> str:
    """Bytes in binary units (KiB, MiB …): what `ls -lh` and file managers show."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_duration(s: float | None, decimals: int = 1) -> str:
    """Seconds as `12.3s`, `4m05s` or `2h03m`; `?` when unknown (an ETA before any rate)."""
    if s is None:
        return "?"
    s = float(s)
    if s < 60:
        return f"{s:.{decimals}f}s"
    m, sec = divmod(int(s), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"
