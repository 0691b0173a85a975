"""GPU utilisation and memory from `nvidia-smi`, on whichever host holds the GPU.

The Host interface runs `nexara …` commands, not arbitrary shell, so the GPU is
read by `nexara monitor --gpu --json` on the host (local or over SSH alike),
which runs nvidia-smi there if it exists and prints one `gpu` event. No GPU, no
nvidia-smi, or a driver that fails: an empty list with the reason, never an error.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from core.host import Host

QUERY = "index,name,utilization.gpu,memory.used,memory.total"


@dataclass
class GpuStat:
    index: int
    name: str
    util: float | None  # percent
    mem_used: float | None  # MiB
    mem_total: float | None  # MiB

    def short(self) -> str:
        util = f"{self.util:.0f}%" if self.util is not None else "?"
        if self.mem_used is not None and self.mem_total:
            mem = f"{self.mem_used / 1024:.1f}/{self.mem_total / 1024:.0f} GiB"
        else:
            mem = "?"
        return f"GPU{self.index} {util} {mem}"


def parse_nvidia_smi(text: str) -> list[GpuStat]:
    """Rows of `nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`."""

    def num(s: str) -> float | None:
        try:
            return float(s)
        except ValueError:  # "[N/A]", "[Not Supported]"
            return None

    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 5 or not cells[0].isdigit():
            continue
        out.append(GpuStat(int(cells[0]), ",".join(cells[1:-3]), num(cells[-3]), num(cells[-2]),
                           num(cells[-1])))
    return out


def local_gpu_event() -> dict[str, Any]:
    """The `gpu` event for this machine (what `nexara monitor --gpu --json` prints)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"gpus": [], "reason": "nvidia-smi not found"}
    try:
        proc = subprocess.run([exe, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"gpus": [], "reason": f"nvidia-smi failed: {exc}"}
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        return {"gpus": [], "reason": f"nvidia-smi failed: {msg[-1] if msg else proc.returncode}"}
    return {"gpus": [asdict(g) for g in parse_nvidia_smi(proc.stdout)]}


def host_gpu(host: Host, timeout: float = 20) -> tuple[list[GpuStat], str]:
    """(GPUs, reason-if-none) on the host, through `nexara monitor --gpu --json`."""
    from core.events import EventType, parse_line

    try:
        res = host.run(["monitor", "--gpu", "--json"], timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a status panel line, never a crash
        return [], f"gpu query failed: {exc}"
    for line in res.stdout.splitlines():
        ev = parse_line(line)
        if ev is not None and ev["type"] == EventType.GPU:
            gpus = [GpuStat(index=int(g.get("index") or 0), name=str(g.get("name") or ""),
                            util=g.get("util"), mem_used=g.get("mem_used"), mem_total=g.get("mem_total"))
                    for g in ev.get("gpus", []) if isinstance(g, dict)]
            return gpus, str(ev.get("reason", ""))
    return [], f"gpu query failed (rc {res.rc})"
