"""The package's shape: no import circle inside ``zsar/``, one-way layers, and a layout in docs/design.md that matches the tree.

``LAYERS`` is the layer order, listed once, here: a module may import its own package and the
layers below its own, nothing beside or above it. docs/design.md draws it from this list
(its ``layers`` section, written by ``make docs``; ``test_design_draws_the_layers`` checks it).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "zsar"
# Bottom to top; names are zsar's top-level modules and packages (``zsar``: the package's own __init__).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("zsar", "errors"),
    ("files", "vectors", "progress", "registry", "devices"),
    ("doc_sections", "synth", "cache"),
    ("extract", "runs"),
    ("metrics", "weights"),
    ("heads",),
    ("predict", "sweep", "testing", "reproduce"),
    ("cli",),
    ("__main__",),
)
LAYERS_SECTION = "layers"


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
    assert len(graph) > 60 and "zsar.extract.models.backbones" in graph["zsar.extract.models.clip"]
    assert _circles(graph) == []
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _unit(module: str) -> str:
    """The top-level module or package of ``zsar`` that ``module`` belongs to (``zsar`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """``a -> b`` for every import of ``b`` by ``a`` that is not of a layer below ``a``'s (nor ``a``'s own unit)."""
    level = {unit: i for i, units in enumerate(layers) for unit in units}
    found = []
    for name, imported in sorted(graph.items()):
        for target in sorted(imported):
            here, there = _unit(name), _unit(target)
            if here != there and level[there] >= level[here]:
                found.append(f"{name} -> {target} ({here} may import only {', '.join(_below(layers, level[here]))})")
    return found


def _below(layers: tuple[tuple[str, ...], ...], index: int) -> list[str]:
    return [unit for units in layers[:index] for unit in units] or ["nothing"]


def layers_drawing(layers: tuple[tuple[str, ...], ...] = LAYERS) -> str:
    """The layer order as docs/design.md draws it: the top layer first, each importing only those under it."""
    rows = [" ".join(f"{unit}/" if (PACKAGE / unit).is_dir() else unit for unit in units) for units in layers]
    width = max(map(len, rows))
    lines = [row.center(width).rstrip() for row in reversed(rows)]
    return "```\n" + "\n".join(line + ("\n" + "↓".center(width).rstrip() if i < len(lines) - 1 else "")
                                 for i, line in enumerate(lines)) + "\n```"


def test_imports_run_one_way():
    """Every module imports only its own package and the layers below it; every unit of zsar has a layer."""
    graph = _graph()
    units = {_unit(name) for name in graph}
    assert units == {unit for layer in LAYERS for unit in layer}, "a top-level module or package has no layer"
    assert layer_violations(graph) == []
    assert layer_violations({"zsar.metrics.x": {"zsar.heads.y"}, "zsar.heads.y": {"zsar.metrics.x"}}) == [
        "zsar.metrics.x -> zsar.heads.y (metrics may import only zsar, errors, files, vectors, progress, registry, "
        "devices, doc_sections, synth, cache, extract, runs)"]
    assert layer_violations({"zsar.extract.a": {"zsar.runs.b"}}), "a layer's units do not import each other"


def test_design_draws_the_layers():
    """docs/design.md's ``layers`` section is ``LAYERS`` drawn (``make docs`` writes it)."""
    from zsar.doc_sections import read_section

    drawn = read_section((REPO / "docs" / "design.md").read_text(), LAYERS_SECTION)
    assert drawn == layers_drawing(), "docs/design.md's layer drawing differs from LAYERS: run `make docs`"


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


def test_no_protocol_name_is_a_string_outside_its_own_module():
    """A protocol's name is written only where it is registered: code elsewhere asks its entry, not its name."""
    from zsar.heads.protocols import PROTOCOLS

    owner = {name: PROTOCOLS.get(name).plan.__wrapped__.__module__ for name in PROTOCOLS.names()}
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in owner and owner[node.value] != module:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == []
    assert owner["base-to-novel"] == "zsar.heads.clip_protocols" and owner["gzsl"] == "zsar.heads.protocols"
