"""The package's import graph, read from the source (ast, standard library only): each part imports
only the parts below it, the core no I/O package, and no module reaches itself again.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a type-only edge is
still a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gridtonic"
TOP = "gridtonic"
DEVICES = ("grid", "launchpad", "midi", "crow", "web", "link")
# What each part may import besides itself; the top-level modules (app, cli, analysis) wire the parts
# together and may import any of them. The root package (its version) is open to all but the core.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "io": {"core"},
    "sound": {"core", "io"},
    "prior": {"core", "io"},
    "presets": {"core", "io", "sound"},
    **{d: {"core", "io", "sound"} for d in DEVICES},
    "web": {"core", "io", "sound", "presets"},
}
# Pure means no sockets, processes, files of the machine's state, devices, audio or threads.
IO_MODULES = {"asyncio", "hypercorn", "http", "mido", "os", "platformdirs", "pythonosc", "rtmidi", "select",
              "selenium", "serial", "shutil", "signal", "socket", "soundfile", "sqlite3", "subprocess",
              "tempfile", "threading", "urllib"}


def modules(package: Path) -> dict[str, Path]:
    """Dotted name → file of every module in ``package`` (a package by its ``__init__``)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(modules of the package ``name`` imports, top-level names of other packages it imports)."""
    inside, outside = set(), set()
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name.split(".")[0] == TOP else outside).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != TOP:
                outside.add(module)
                continue
            for alias in node.names:  # `from P import m` names the module P.m when there is one
                inside.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module)
    inside.discard(name)
    return {m for m in inside if m in known}, {m.split(".")[0] for m in outside}


def graph(package: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    known = modules(package)
    edges, external = {}, {}
    for name, path in known.items():
        edges[name], external[name] = imports(name, path, known)
    return edges, external


def part(module: str) -> str | None:
    """The part a module belongs to (``core``, ``grid``…), None for the top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def breaches(edges: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layering, as 'a → b: why'."""
    found = []
    for a, targets in sorted(edges.items()):
        pa = part(a)
        for b in sorted(targets):
            pb = part(b)
            if pa is None or pa == pb:
                continue
            if pb is None:
                if b != TOP or pa == "core":
                    found.append(f"{a} → {b}: only the top-level modules import the top level")
            elif pb not in ALLOWED[pa]:
                found.append(f"{a} → {b}: {pa} may import {', '.join(sorted(ALLOWED[pa])) or 'nothing else'}")
    for a, targets in sorted(edges.items()):
        if part(a) is None:
            found += [f"{a} → {b}: use gridtonic.{part(b)} (its __init__), not its modules"
                      for b in sorted(targets) if part(b) in DEVICES and b != f"{TOP}.{part(b)}"]
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One path around each strongly connected group of modules (Tarjan), e.g. [a, b, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [_loop(g, edges) for g in groups]


def _loop(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A path from the group's first module back to itself inside the group (breadth first)."""
    start, members = group[0], set(group)
    back = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v] & members):
            if w == start:
                path = [v]
                while back[path[-1]] is not None:
                    path.append(back[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
            if w not in back:
                back[w] = v
                queue.append(w)
    return group


def impure(edges: dict[str, set[str]], external: dict[str, set[str]]) -> list[str]:
    return [f"{m} imports {', '.join(sorted(external[m] & IO_MODULES))}"
            for m in sorted(edges) if part(m) == "core" and external[m] & IO_MODULES]


def test_every_part_imports_only_the_parts_below_it():
    edges, _ = graph(PACKAGE)
    assert {part(m) for m in edges} >= set(ALLOWED), "a part named in ALLOWED has no package"
    assert breaches(edges) == []


def test_no_module_imports_itself_round_a_circle():
    edges, _ = graph(PACKAGE)
    assert [" → ".join(c) for c in cycles(edges)] == []


def test_the_core_imports_no_io_package():
    edges, external = graph(PACKAGE)
    assert impure(edges, external) == []


def test_the_top_level_holds_only_the_wiring():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "analysis.py", "app.py", "cli.py"]
    assert all((PACKAGE / p / "__init__.py").is_file() for p in ALLOWED)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / TOP / name).parent.mkdir(parents=True, exist_ok=True)
        (root / TOP / name).write_text(text)
    return root / TOP


@pytest.mark.parametrize(("files", "want"), [
    ({"core/session.py": "from gridtonic.grid import host\n"},
     ["gridtonic.core.session → gridtonic.grid.host: core may import nothing else"]),
    ({"grid/host.py": "from gridtonic.midi.clock import MidiClock\n"},
     ["gridtonic.grid.host → gridtonic.midi.clock: grid may import core, io, sound"]),
    ({"sound/engine.py": "def f():\n    from gridtonic import app\n"},
     ["gridtonic.sound.engine → gridtonic.app: only the top-level modules import the top level"]),
    ({"app.py": "from gridtonic.grid import host\n"},
     ["gridtonic.app → gridtonic.grid.host: use gridtonic.grid (its __init__), not its modules"]),
    ({"core/frame.py": "from . import layout\n", "core/layout.py": "from .frame import X\n"},
     ["gridtonic.core.frame → gridtonic.core.layout → gridtonic.core.frame"]),
    ({"core/clock.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import socket\n"},
     ["gridtonic.core.clock imports socket"]),
])
def test_the_checks_name_each_broken_edge(tmp_path, files, want):
    """The checker on small trees with one planted fault: it names that edge and nothing else."""
    base = {f"{p}/__init__.py": "" for p in ALLOWED} | {"__init__.py": "", "app.py": ""}
    base |= {f: "" for f in ("core/layout.py", "grid/host.py", "midi/clock.py")}
    package = _tree(tmp_path, base | files)
    edges, external = graph(package)
    found = breaches(edges) + [" → ".join(c) for c in cycles(edges)] + impure(edges, external)
    assert found == want
