"""The language server's features receive their peers when they are built (server.py
wires them): no module of `lsp/` imports another that imports it back, counting imports
made only for type checking and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import tether.lsp

LSP = Path(tether.lsp.__file__).parent


def lsp_imports(source: str) -> set[str]:
    """The `tether.lsp` modules `source` imports anywhere (top level, TYPE_CHECKING blocks,
    functions)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tether.lsp."):
            found.add(str(node.module).split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("tether.lsp.")}
    return found


def import_graph(folder: Path) -> dict[str, set[str]]:
    return {
        path.stem: lsp_imports(path.read_text(encoding="utf-8")) - {path.stem}
        for path in folder.glob("*.py")
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_lsp_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(LSP)
    assert len(graph) > 10
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_lsp_module_imports_the_server_module() -> None:
    """No feature reaches for the server class: server.py wires them, nothing imports it."""
    importers = [module for module, imports in import_graph(LSP).items() if "server" in imports]
    assert importers == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
