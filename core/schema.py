"""One declarative schema for the files users hand us: Nexara's config, a decision policy, a training config.

A file's schema is a dataclass: each field's annotation is its type, its
default the default, and `field(metadata=rule(...))` its range or choices.
`load(cls, data)` builds the dataclass from parsed TOML (or JSON) and refuses,
with `SchemaError(key, problem)`, anything that does not fit: an unknown key,
a value of the wrong type, a float that is NaN or infinite (TOML spells them
`nan` and `inf`), a number out of range, a string that is not one of the
choices. The key is the dotted path (`hosts.gpubox.env`, `class_weights.violent`),
so each caller words the one-line error its users know, naming the file.

Why not a library: msgspec (the fast candidate) ignores unknown keys of a
dataclass, has no "finite" constraint and words its errors its own way
("Expected `int`, got `str` - at `$.x`"), so the three callers would still
need this module's checks around it; these ~150 lines import in well under a
millisecond and keep every message the same.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from core.errors import NexaraError

T = TypeVar("T")
RULE = "nexara.rule"
INT_LIMIT = 2**63 - 1  # what SQLite, numpy and every C library behind us can hold


@dataclass(frozen=True)
class Rule:
    """Bounds for a number (or for each number of a list/table), choices for a string, a minimum length."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple[str, ...] | None = None
    min_len: int | None = None

    def problem(self, value: Any) -> str | None:
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)} (got {value!r})"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
                  and (self.lt is None or value < self.lt) and (self.le is None or value <= self.le))
            if not ok:
                return f"must be {self.describe()} (got {value!r})"
        return None

    def describe(self) -> str:
        lo = f"> {self.gt:g}" if self.gt is not None else f">= {self.ge:g}" if self.ge is not None else ""
        hi = f"< {self.lt:g}" if self.lt is not None else f"<= {self.le:g}" if self.le is not None else ""
        return " and ".join(p for p in (lo, hi) if p)


def rule(**kwargs: Any) -> dict[str, Rule]:
    """`field(metadata=rule(ge=1))`: the field's bounds or choices."""
    return {RULE: Rule(**kwargs)}


KeyPath = tuple[str | int, ...]  # keys of tables, indexes of lists


def dotted(path: KeyPath) -> str:
    """`('hosts', 'gpu', 'env')` → `hosts.gpu.env`; list indexes as `[i]`."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


class SchemaError(NexaraError):
    """`path` does not fit the schema: `problem` says how; `unknown` for a key that does not exist."""

    def __init__(self, path: KeyPath, problem: str, unknown: bool = False):
        self.path = path
        self.key = dotted(path)
        self.problem = problem
        self.unknown = unknown
        super().__init__(f"'{self.key}': {problem}" if path else problem)


def _type_name(v: Any) -> str:
    if isinstance(v, Mapping):
        return "table"
    return "list" if isinstance(v, list) else type(v).__name__


def load(cls: type[T], data: Any, *, path: KeyPath = ()) -> T:
    """An instance of dataclass `cls` from `data`; SchemaError naming the first key that does not fit.

    Missing keys take the dataclass's defaults; `__post_init__` (cross-field
    checks) runs as usual.
    """
    if not isinstance(data, Mapping):
        raise SchemaError(path, f"expected a table, got {_type_name(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = get_type_hints(cls, vars(sys.modules[cls.__module__]))
    for key in data:
        if key not in fields:
            raise SchemaError((*path, str(key)), "unknown key", unknown=True)
    values = {k: convert(hints[k], v, (*path, k), fields[k].metadata.get(RULE))
              for k, v in data.items()}
    return cls(**values)


def convert(tp: Any, value: Any, key: KeyPath = (), rule: Rule | None = None) -> Any:
    """`value` as type `tp` (int → float where a float is wanted, list → tuple), checked against `rule`.

    A union takes the first member type that fits (`str | None`, `str | int | float`).
    """
    origin, args = get_origin(tp), get_args(tp)
    if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        first: SchemaError | None = None
        for member in members:
            try:
                return convert(member, value, key, rule)
            except SchemaError as exc:
                first = first or exc
        if len(members) == 1 and first is not None:
            raise first
        names = " or ".join(getattr(m, "__name__", str(m)) for m in members)
        raise SchemaError(key, f"expected {names}, got {_type_name(value)} ({value!r})")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise SchemaError(key, f"expected a list, got {_type_name(value)} ({value!r})")
        if rule is not None and rule.min_len is not None and len(value) < rule.min_len:
            raise SchemaError(key, f"needs at least {rule.min_len} item(s)")
        items = [convert(args[0], v, (*key, i), rule) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(key, f"expected a table, got {_type_name(value)} ({value!r})")
        return {str(k): convert(args[1], v, (*key, str(k)), rule) for k, v in value.items()}
    if origin is Literal:
        rule = Rule(choices=tuple(str(a) for a in args))
        tp = str
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return load(tp, value, path=key)
    out = _scalar(tp, value, key)
    problem = rule.problem(out) if rule is not None else None
    if problem:
        raise SchemaError(key, problem)
    if isinstance(out, int) and not isinstance(out, bool) and abs(out) > INT_LIMIT:
        raise SchemaError(key, f"out of range (got {out})")
    return out


def _scalar(tp: Any, value: Any, key: KeyPath) -> Any:
    def wrong(want: str) -> SchemaError:
        return SchemaError(key, f"expected {want}, got {_type_name(value)} ({value!r})")

    if tp is bool:
        if not isinstance(value, bool):
            raise wrong("bool")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("int")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("float")
        if isinstance(value, int) and abs(value) > INT_LIMIT:
            raise SchemaError(key, f"out of range (got {value})")
        value = float(value)
        if not math.isfinite(value):
            raise SchemaError(key, f"must be a finite number (got {value})")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise wrong("str")
        return value
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            known = ", ".join(str(m.value) for m in tp)
            raise SchemaError(key, f"must be one of {known} (got {value!r})") from None
    if tp is Any:
        return value
    raise TypeError(f"core.schema: no rule for type {tp!r} (key {key})")
