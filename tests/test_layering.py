"""The layering guards itself: the static half (import-linter, and the module-level import graph
read from the source) and the run-time half (what importing really loads, in a fresh interpreter).

- core never imports Textual (or the TUI);
- the TUI never imports av, cv2, tensorflow, numpy or dask at module level, directly or not;
- core.host is importable without the rest of the engine (and without Paramiko until it connects);
- no two modules import each other, however long the loop — counting the imports inside
  functions too (a lazy import is still a knot: jobs needed the host module, whose methods
  imported jobs).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "nexara_tui")
HEAVY = {"av", "cv2", "tensorflow", "keras", "numpy", "dask"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str, is_pkg: bool, lazy: bool) -> set[str]:
    """Every module an `import` loads — at module level only, or also inside functions (`lazy`);
    never under TYPE_CHECKING — with the packages above it (their __init__ runs first), except
    this module's own packages, which are being imported already when it is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def record(node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
            return
        if node.level:
            base = name.split(".") if is_pkg else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        found.add(mod)
        found.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import submodule`

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if not lazy and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue  # runs when called, not when the module is imported
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                record(child)
            visit(child)

    visit(tree)
    own = name.split(".")
    ancestors = {".".join(own[:i]) for i in range(1, len(own))} | ({name} if is_pkg else set())
    with_parents = set()
    for mod in found:
        parts = mod.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return with_parents - ancestors


def _graph(lazy: bool = False) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between our modules, external top-level modules each imports)."""
    mods = _modules()
    internal: dict[str, set[str]] = {}
    external: dict[str, set[str]] = {}
    for name, path in mods.items():
        imported = _imports(path, name, path.name == "__init__.py", lazy)
        internal[name] = {m for m in imported if m in mods and m != name}
        external[name] = {m.split(".")[0] for m in imported if m.split(".")[0] not in PACKAGES}
    return internal, external


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles():
    for lazy in (False, True):
        internal, _ = _graph(lazy)
        assert len(internal) > 80  # the whole of core and the TUI was read
        assert _cycles(internal) == [], "lazy imports included" if lazy else "module level"


def test_the_cycle_finder_finds_the_old_knot():
    """A knot of the kind this replaced: jobs needs the host protocol, whose package would load
    the local host, which needs jobs (an ImportError on whichever is imported first)."""
    knot = {"core.jobs": {"core.host.base", "core.host"}, "core.host": {"core.host.base", "core.host.local"},
            "core.host.local": {"core.jobs", "core.host.base"}, "core.host.base": set()}
    assert _cycles(knot) == [["core.host", "core.host.local", "core.jobs"]]


def test_tui_module_level_imports_stay_light():
    """Transitively, following module-level imports only, the TUI reaches none of the heavy libraries
    and core reaches no Textual."""
    internal, external = _graph()

    def reach(start: set[str]) -> tuple[set[str], set[str]]:
        seen, todo = set(), list(start)
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo.extend(internal.get(m, ()))
        return seen, set().union(*(external.get(m, set()) for m in seen))

    tui = {m for m in internal if m.startswith("nexara_tui")}
    seen, libs = reach(tui)
    assert not (libs & HEAVY), {m: external[m] & HEAVY for m in seen if external[m] & HEAVY}
    core = {m for m in internal if m.startswith("core")}
    seen, libs = reach(core)
    assert "textual" not in libs and not any(m.startswith("nexara_tui") for m in seen)


def test_core_host_imports_without_the_engine():
    probe = ("import json, sys; import core.host, core.host.local, core.host.ssh; "
             "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout))
    assert not loaded & (HEAVY | {"textual", "paramiko", "nexara_tui"})
    engine = {m for m in loaded if m.startswith("core.")}
    allowed = {"core.compat", "core.errors", "core.events", "core.records", "core.fsops", "core.paths",
               "core.jobs", "core.config", "core.schema", "core.tomlfile", "core.userfile", "core.units"}
    assert {m for m in engine if not m.startswith("core.host")} <= allowed, engine


def test_import_linter_contracts_are_kept():
    """The same layering as contracts in pyproject.toml (`lint-imports`, run by `make test` too)."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    r = subprocess.run([exe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "broken" in r.stdout and " 0 broken" in r.stdout
