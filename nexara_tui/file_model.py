"""Rows of files and the filtered, sorted view over them: plain Python, no Textual.

The virtual list widget (`widgets/file_list.py`) only ever asks this model for
"how many rows are visible" and "the row at visible index i". Filtering and
sorting live here so they are testable without a terminal and so the widget
stays O(visible lines) whatever the number of rows: 100,000 problem files are
a list of small slotted objects plus one list of ints (the filtered index).

Filter syntax (case-insensitive, all terms must match):
  `word`            substring of path, verdict, reasons, split or class
  `verdict:corrupt` (also `v:`), `reason:moov` (`r:`), `split:train` (`s:`),
  `class:violent` (`c:`), `-word` excludes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_VERDICT_RANK = {"ok": 0, "warning": 1, "damaged": 2, "corrupt": 3}
_FIELD_ALIASES = {
    "v": "verdict", "verdict": "verdict",
    "r": "reason", "reason": "reason", "reasons": "reason",
    "s": "split", "split": "split",
    "c": "class", "class": "class", "cls": "class",
    "p": "path", "path": "path",
}


@dataclass(slots=True)
class FileRow:
    """One file as the lists show it. `data` holds anything else (messages, sizes…)."""

    path: str
    verdict: str = ""
    reasons: tuple[str, ...] = ()
    split: str = ""
    cls: str = ""
    size: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    _hay: str | None = None

    @property
    def reason_text(self) -> str:
        return ",".join(self.reasons)

    @property
    def haystack(self) -> str:
        if self._hay is None:
            self._hay = "\x00".join(
                (self.path, self.verdict, self.reason_text, self.split, self.cls)
            ).lower()
        return self._hay

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> FileRow:
        """From a FileResult dict (a `file` event's `result`)."""
        return cls(
            path=str(result.get("path", "")),
            verdict=str(result.get("verdict", "")),
            reasons=tuple(result.get("reasons") or ()),
            split=str(result.get("split", "")),
            cls=str(result.get("class", result.get("cls", ""))),
            size=int(result.get("size") or 0),
            data=result,
        )


@dataclass(frozen=True)
class _Term:
    field: str | None  # None: anywhere
    needle: str
    negate: bool

    def matches(self, row: FileRow) -> bool:
        if self.field is None:
            hit = self.needle in row.haystack
        elif self.field == "verdict":
            hit = row.verdict.lower().startswith(self.needle)
        elif self.field == "reason":
            hit = any(self.needle in r.lower() for r in row.reasons)
        elif self.field == "split":
            hit = row.split.lower() == self.needle
        elif self.field == "class":
            hit = row.cls.lower() == self.needle
        else:
            hit = self.needle in row.path.lower()
        return hit != self.negate


def parse_filter(text: str) -> list[_Term]:
    terms: list[_Term] = []
    for raw in text.split():
        negate = raw.startswith("-") and len(raw) > 1
        tok = raw[1:] if negate else raw
        name, sep, value = tok.partition(":")
        if sep and name.lower() in _FIELD_ALIASES and value:
            terms.append(_Term(_FIELD_ALIASES[name.lower()], value.lower(), negate))
        else:
            terms.append(_Term(None, tok.lower(), negate))
    return terms


SORT_KEYS: dict[str, Callable[[FileRow], Any]] = {
    "path": lambda r: r.path,
    "verdict": lambda r: (-_VERDICT_RANK.get(r.verdict, -1), r.path),
    "reason": lambda r: (r.reason_text, r.path),
    "split": lambda r: (r.split, r.cls, r.path),
    "size": lambda r: (r.size, r.path),
}


class FileModel:
    """All rows, plus the indices of those that pass the filter, in sort order."""

    def __init__(self, rows: Iterable[FileRow] = ()) -> None:
        self.rows: list[FileRow] = []
        self.visible: list[int] = []  # indices into self.rows
        self.filter_text = ""
        self._terms: list[_Term] = []
        self.sort_key = "arrival"  # "arrival" keeps the order rows came in
        self.sort_reverse = False
        self.generation = 0  # bumped on every change, so caches keyed on it invalidate
        self.set_rows(rows)

    def __len__(self) -> int:
        return len(self.visible)

    @property
    def total(self) -> int:
        return len(self.rows)

    def row_at(self, i: int) -> FileRow:
        return self.rows[self.visible[i]]

    def visible_rows(self, start: int = 0, stop: int | None = None) -> list[FileRow]:
        return [self.rows[j] for j in self.visible[start:stop]]

    def set_rows(self, rows: Iterable[FileRow]) -> None:
        self.rows = list(rows)
        self._rebuild()

    def append(self, rows: Sequence[FileRow]) -> int:
        """Add rows (live results). O(len(rows)) unless a sort is active. Returns rows now visible."""
        start = len(self.rows)
        self.rows.extend(rows)
        if self.sort_key != "arrival":
            self._rebuild()
            return len(self.visible)
        terms = self._terms
        self.visible.extend(
            i for i in range(start, len(self.rows))
            if all(t.matches(self.rows[i]) for t in terms)
        )
        self.generation += 1
        return len(self.visible)

    def clear(self) -> None:
        self.set_rows(())

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._terms = parse_filter(text)
        self._rebuild()

    def set_sort(self, key: str, reverse: bool = False) -> None:
        if key != "arrival" and key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}; expected one of arrival, {', '.join(SORT_KEYS)}")
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild()

    def index_of(self, path: str) -> int | None:
        """Visible index of the row with this path (O(n); for restoring a cursor)."""
        for vi, j in enumerate(self.visible):
            if self.rows[j].path == path:
                return vi
        return None

    def _rebuild(self) -> None:
        terms = self._terms
        if terms:
            rows = self.rows
            idx = [i for i, r in enumerate(rows) if all(t.matches(r) for t in terms)]
        else:
            idx = list(range(len(self.rows)))
        if self.sort_key != "arrival":
            keyf = SORT_KEYS[self.sort_key]
            rows = self.rows
            idx.sort(key=lambda i: keyf(rows[i]), reverse=self.sort_reverse)
        elif self.sort_reverse:
            idx.reverse()
        self.visible = idx
        self.generation += 1
