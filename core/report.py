"""Scan reports: the seed's text shape for people, JSON and CSV files for tools.

The text report keeps the exact shape of the user's own scan script (per split
and class: Total / Valid / Corrupted (pct), then `OVERALL: c/t corrupted (pct)`)
so the numbers drop straight into the decision they already wrote down, then
adds what that script could not say: counts per verdict and the top reasons.
"Valid" means usable: everything but `corrupt` (the decision matrix counts
`corrupt` only; `damaged` is the user's call).

The file writers stream: results are written one at a time as they arrive, so
a report of 100,000 files never builds one giant string. The JSON report puts
`summary` before `files`; since the summary is known only at the end, the file
list is spooled to a temporary file first and copied after it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.fsops import atomic_write
from core.reasons import REASONS
from core.records import VERDICT_ORDER, FileResult
from core.summary import Summary

RULE = "=" * 80
REPORT_FIELDS = (
    "path", "split", "class", "verdict", "reasons", "messages", "frames_decoded",
    "frames_corrupt", "duration_s", "size", "seconds",
)
CSV_FIELDS = (*REPORT_FIELDS, "frames_expected", "decoded_s", "level", "codec", "container",
              "width", "height", "fps")

ResultLike = FileResult | Mapping[str, Any]


def _as_dict(r: ResultLike) -> dict[str, Any]:
    return r.to_dict() if isinstance(r, FileResult) else dict(r)


def pct(part: int, total: int) -> str:
    return f"{(100.0 * part / total) if total else 0.0:.1f}%"


# -- text --------------------------------------------------------------------
def render_report(console: Console, summary: Summary, *, top_reasons: int = 8) -> None:
    """Print the seed-shaped report, then verdict counts and the top reasons."""
    console.print(RULE, markup=False, highlight=False)
    console.print("SCAN RESULTS", markup=False, highlight=False)
    console.print(RULE, markup=False, highlight=False)
    for split, cls in summary.ordered_keys():
        c = summary.groups[(split, cls)]
        mark = "[yellow]⚠[/]" if c.corrupt else "[green]✓[/]"
        console.print()
        console.print(f"{mark}  {escape(split)}/{escape(cls)}:", highlight=False)
        console.print(f"   Total: {c.total}", highlight=False)
        console.print(f"   Valid: {c.valid()}", highlight=False)
        console.print(f"   Corrupted: {c.corrupt} ({pct(c.corrupt, c.total)})", highlight=False)
        if c.warning or c.damaged:
            console.print(
                f"   [dim](valid includes {c.warning} warning, {c.damaged} damaged)[/]", highlight=False
            )
        if c.not_checked:
            console.print(f"   Not checked: {c.not_checked} [dim](the check did not finish; a rescan "
                          "retries them)[/]", highlight=False)
    o = summary.overall
    console.print()
    console.print(RULE, markup=False, highlight=False)
    console.print(f"OVERALL: {o.corrupt}/{o.total} corrupted ({pct(o.corrupt, o.total)})",
                  markup=False, highlight=False)
    console.print(RULE, markup=False, highlight=False)

    verdicts = Table(title="Verdicts", title_justify="left", show_edge=False, pad_edge=False)
    verdicts.add_column("verdict")
    verdicts.add_column("files", justify="right")
    verdicts.add_column("share", justify="right")
    styles = {"ok": "green", "warning": "cyan", "damaged": "yellow", "corrupt": "red"}
    for v in VERDICT_ORDER:
        n = getattr(o, v.value)
        verdicts.add_row(f"[{styles[v.value]}]{v.value}[/]", str(n), pct(n, o.total))
    if o.not_checked:  # neither usable nor lost (core.summary)
        verdicts.add_row("[magenta]not checked[/]", str(o.not_checked), pct(o.not_checked, o.total))
    console.print()
    console.print(verdicts)
    if summary.reasons:
        reasons = Table(title="Top reasons", title_justify="left", show_edge=False, pad_edge=False)
        reasons.add_column("reason")
        reasons.add_column("files", justify="right")
        reasons.add_column("severity")
        reasons.add_column("meaning")
        for code, n in summary.reasons.most_common(top_reasons):
            info = REASONS.get(code)
            reasons.add_row(
                escape(code), str(n), info.severity.value if info else "?",
                escape(info.summary) if info else "",
            )
        console.print()
        console.print(reasons)


def report_text(summary: Summary, width: int = 100) -> str:
    """The report as plain text (no colour), e.g. for tests and logs."""
    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    try:
        render_report(console, summary)
        return console.export_text()
    finally:
        console.file.close()


# -- JSON --------------------------------------------------------------------
def _dumps(obj: Any) -> str:
    # ASCII escapes keep odd names (newlines, undecodable bytes) intact and valid.
    return json.dumps(obj, ensure_ascii=True, allow_nan=False, default=str)


class JsonReportWriter:
    """Streams `{"root", "level", "summary", "files": [...]}` to `path`, atomically.

    `add()` each result as it arrives, then `close(summary)`. The target only
    appears (via rename) once complete, so a crash never leaves half a report.
    """

    def __init__(self, path: Path | str, root: Path | str, level: str):
        self.path = Path(path)
        self.root = str(root)
        self.level = level
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._n = 0

    def add(self, result: ResultLike) -> None:
        d = _as_dict(result)
        row = {k: d.get(k) for k in REPORT_FIELDS}
        row.update({k: v for k, v in d.items() if k not in row and k != "cls"})
        self._spool.write(("\n" if self._n == 0 else ",\n") + "    " + _dumps(row))
        self._n += 1

    def close(self, summary: Summary | Mapping[str, Any]) -> Path:
        summary_d = summary.to_dict() if isinstance(summary, Summary) else dict(summary)
        try:
            with atomic_write(self.path) as out:
                out.write("{\n")
                out.write(f'  "root": {_dumps(self.root)},\n')
                out.write(f'  "level": {_dumps(self.level)},\n')
                out.write(f'  "summary": {_dumps(summary_d)},\n')
                out.write('  "files": [')
                self._spool.seek(0)
                shutil.copyfileobj(self._spool, out)
                out.write("\n  ]\n}\n" if self._n else "]\n}\n")
        finally:
            self._spool.close()
        return self.path

    def abort(self) -> None:
        self._spool.close()


def write_report_json(
    path: Path | str, root: Path | str, level: str, summary: Summary | Mapping[str, Any],
    results: Iterable[ResultLike],
) -> Path:
    w = JsonReportWriter(path, root, level)
    try:
        for r in results:
            w.add(r)
    except BaseException:
        w.abort()
        raise
    return w.close(summary)


# -- CSV ---------------------------------------------------------------------
class CsvWriter:
    """Streams one row per file; list fields are joined with ';' (reasons) and ' | ' (messages)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()
        # surrogateescape: a name that is not valid UTF-8 is written back as its original bytes.
        self._f = self._stack.enter_context(
            atomic_write(self.path, errors="surrogateescape", newline="")
        )
        self._w = csv.writer(self._f)
        self._w.writerow(CSV_FIELDS)

    def add(self, result: ResultLike) -> None:
        d = _as_dict(result)
        row = []
        for k in CSV_FIELDS:
            v = d.get(k)
            if k == "reasons":
                v = ";".join(v or [])
            elif k == "messages":
                v = " | ".join(v or [])
            row.append("" if v is None else v)
        self._w.writerow(row)

    def close(self) -> Path:
        self._stack.close()
        return self.path

    def abort(self) -> None:
        # Leaving the atomic write by an exception removes the temporary file.
        with contextlib.suppress(_Aborted):
            self._stack.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    """Raised into an open CsvWriter's atomic write to discard it."""


def write_csv(path: Path | str, results: Iterable[ResultLike]) -> Path:
    w = CsvWriter(path)
    try:
        for r in results:
            w.add(r)
    except BaseException:
        w.abort()
        raise
    return w.close()
