"""The package's shape: no import circle inside ``zsar/``, one-way layers, and a layout in docs/design.md that matches the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "zsar"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The zsar modules ``path`` imports, at module level or inside functions (``from a import b``: a.b if a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zsar"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            found.update(subs or {node.module})
    return found - {_module_name(path)}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_inside_zsar():
    graph = _graph()
    assert len(graph) > 60 and "zsar.extract.models.clip" in graph["zsar.extract.models"]
    assert _circles(graph) == []
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_run_one_way():
    """``extract -> cache <- heads``; heads never import extract, cache imports neither, nothing imports the CLI."""
    graph = _graph()
    for name, imported in graph.items():
        layer = name.split(".")[1] if name.count(".") else ""
        if layer == "heads":
            assert not {m for m in imported if m.startswith("zsar.extract")}, name
        if layer == "cache":
            assert not {m for m in imported if m.startswith(("zsar.extract", "zsar.heads", "zsar.metrics"))}, name
        if name != "zsar.__main__":
            assert "zsar.cli" not in imported, name


def test_design_layout_names_every_module_and_package():
    text = (REPO / "docs" / "design.md").read_text()
    block = re.search(r"## Layout\n\n```\n(.*?)```", text, re.S).group(1)
    words = set(re.findall(r"[\w]+", block))
    for name, path in _modules().items():
        if path.name == "__init__.py":
            assert f"{path.parent.name}/" in block, f"package {name} is not in docs/design.md's layout"
        else:
            assert path.stem in words, f"module {name} is not in docs/design.md's layout"
    for path in sorted((REPO / "bench").glob("*.py")):
        assert path.stem in words, f"bench/{path.name} is not in docs/design.md's layout"
    for named in re.findall(r"(?m)^\s*([\w/]+\.py|[\w]+/)", block):
        assert list(REPO.rglob(named.rstrip("/"))), f"docs/design.md's layout names {named}, which is not in the tree"
