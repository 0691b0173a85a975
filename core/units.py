"""Human-readable quantities, shared by the CLI and the TUI so both print sizes alike."""

from __future__ import annotations


def human_size(n: float) -> str:
    """Bytes in binary units (KiB, MiB …): what `ls -lh` and file managers show."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
