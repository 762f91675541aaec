"""The engine's layering holds: contracts kept, no import circle between our modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "crm", "workflows", "prompts", "automation_studio")
WINGS = ("definition", "dryrun", "effects", "handlers", "language", "runtime", "triggers")


def _strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the module graph; returns components with more than one module."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_of_ours_is_part_of_an_import_circle():
    graph = grimp.build_graph(*PACKAGES)
    assert _strongly_connected(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _strongly_connected(graph) == [{"a", "b", "c"}]


def test_engine_top_level_holds_only_the_wings():
    engine = ROOT / "engine"
    modules = {p.name for p in engine.iterdir() if p.suffix == ".py"}
    packages = {p.name for p in engine.iterdir() if (p / "__init__.py").exists()}
    assert modules == {"__init__.py", "apps.py", "models.py"}
    assert packages == {*WINGS, "migrations"}


def test_every_wing_says_what_lives_there_and_what_it_may_import():
    for wing in WINGS:
        doc = __import__(f"engine.{wing}", fromlist=["_"]).__doc__ or ""
        assert "import" in doc, wing


def test_lint_imports_keeps_every_contract():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
