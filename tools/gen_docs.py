"""Write the generated parts of docs/: ``make docs`` runs this.

- ``docs/commands.md``: every ``zsar`` command's help and an option table, taken from the
  CLI itself (``zsar.cli.app``), so the page cannot drift from ``--help``
  (``tests/test_docs.py`` checks that it matches);
- ``docs/benchmarks.md``: each ``bench/results/<script>.md`` that ``make bench`` saved (the
  Markdown a bench script printed) replaces the section of that script between its marker
  comments (``zsar.doc_sections``); the hand-written text around the sections is kept;
- ``docs/extending.md``: the example plugins of ``examples/``, verbatim;
- ``docs/design.md``: the layer drawing of ``LAYERS`` (``tests/test_structure.py``, where the
  order is listed once);
- ``docs/demo.md``: the sections that ``zsar demo`` saved in ``zsar-demo/page-demo.md`` and
  ``zsar-demo/page-full.md`` (``make demo``, ``make demo-full``), each between its markers;
  a section with no saved file is kept as it is;
- ``README.md``: the excerpt of the demo's table (head to ``> ridge``) from docs/demo.md's
  ``demo`` section;
- ``docs/clip-era.md`` and ``docs/reproducing.md``: their tables of published numbers and
  recipes, from ``zsar/reproduce/published.csv`` (``reproduce_pages``);
- ``zsar/cli/help_names.json``: the names the help texts list from registries and constants
  of modules that import torch (``zsar.cli.options.help_names``), so ``zsar --help`` need not
  import them.

``python tools/gen_docs.py --check`` writes nothing and exits 1 if a page is out of date.
Run it without ``ZSAR_PLUGINS``: the option tables list the built-in registered names.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any

import typer.main

from zsar.cli import app
from zsar.doc_sections import read_section, replace_section

REPO = Path(__file__).resolve().parent.parent
COMMANDS_PAGE = REPO / "docs" / "commands.md"
BENCH_PAGE = REPO / "docs" / "benchmarks.md"
BENCH_RESULTS = REPO / "bench" / "results"
EXTENDING_PAGE = REPO / "docs" / "extending.md"
EXAMPLES = ("examples/zsar_plugin_example.py", "examples/zsar_protocol_example.py", "examples/zsar_measure_example.py")
DESIGN_PAGE = REPO / "docs" / "design.md"
STRUCTURE_TEST = REPO / "tests" / "test_structure.py"
DEMO_PAGE = REPO / "docs" / "demo.md"
DEMO_OUT = REPO / "zsar-demo"  # zsar demo's default --out, where it saves its page sections
DEMO_SECTIONS = ("demo", "full")  # zsar demo's presets: page-<preset>.md -> the <preset> section
README = REPO / "README.md"
EXCERPT_COLUMNS = ("head", "generator", "transfer", "top-1 %", "chance %", "x ridge", "> ridge")
INTRO = """# Commands

Generated from the CLI by `make docs` (`tools/gen_docs.py`); `tests/test_docs.py` fails when
this page and `zsar COMMAND --help` differ, so do not edit it by hand. Every command ends a
user mistake (a wrong path, an unknown name, a cache made with other settings), a damaged
file or a filesystem fault with one `error: ...` line naming the value or file and the fix,
and exit status 2. The [README](../README.md) says which command to use when; the
[design](design.md) page what each writes.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def _walk(group: Any, prefix: str) -> list[tuple[str, Any]]:
    """``(path, command)`` for every command under ``group``, sub-commands after their group."""
    found = []
    ctx = group.context_class(group, info_name=prefix)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        found.append((path, command))
        if _is_group(command):
            found += _walk(command, path)
    return found


def command_section(path: str, command: Any) -> str:
    """One command (a click command of typer's): its heading, help text, usage and option table."""
    ctx = command.context_class(command, info_name=path)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"## `{path}`", "", (command.help or "").strip(), "", "```", f"{path} {usage}", "```", ""]
    records = [(p.name.upper(), p.help or "") for p in command.params if p.param_type_name == "argument"]
    records += [p.get_help_record(ctx) for p in command.params if p.param_type_name == "option"]
    records = [r for r in records if r is not None and not r[0].startswith("--help")]
    if records:
        lines += ["| argument or option | what it does |", "|---|---|"]
        lines += [f"| `{_cell(opts)}` | {_cell(text)} |" for opts, text in records]
        lines.append("")
    if _is_group(command):
        subs = [f"`{path} {name}`" for name in command.list_commands(ctx)]
        lines += ["Subcommands: " + ", ".join(subs) + ".", ""]
    return "\n".join(lines)


def commands_markdown() -> str:
    """The whole of ``docs/commands.md``: the commands in the CLI's order, then each one's section."""
    root = typer.main.get_command(app)
    commands = _walk(root, "zsar")
    index = ["| command | what it does |", "|---|---|"]
    index += [f"| [`{p}`](#{_anchor(p)}) | {_cell(c.get_short_help_str(limit=200))} |" for p, c in commands]
    global_options = command_section("zsar", root).split("```", 2)[2].split("Subcommands:")[0].strip()
    return "\n".join([INTRO, "## Contents", "", *index, "", "Options before the command:", "", global_options, ""]
                     + [command_section(p, c) for p, c in commands]).rstrip() + "\n"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a ``## `heading` `` line: lower case, spaces to dashes, punctuation dropped."""
    return "".join(ch for ch in heading.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def benchmarks_markdown(text: str, results: Path = BENCH_RESULTS) -> str:
    """``text`` (docs/benchmarks.md) with each saved bench output put into its script's section."""
    for saved in sorted(results.glob("*.md")):
        output = saved.read_text(encoding="utf-8").strip()
        is_table = all(line.startswith("|") for line in output.splitlines() if line.strip())
        text = replace_section(text, f"bench/{saved.stem}.py", output if is_table else f"```\n{output}\n```")
    return text


def demo_excerpt(demo_page: str) -> str | None:
    """The default demo's table from ``docs/demo.md``, cut to ``EXCERPT_COLUMNS`` (``None``: no table yet)."""
    section = (read_section(demo_page, "demo") or "").splitlines()
    start = next((i for i, line in enumerate(section) if line.startswith("| head ")), None)
    if start is None:
        return None
    lines = list(itertools.takewhile(lambda line: line.startswith("|"), section[start:]))  # the first table only
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    keep = [i for i, name in enumerate(rows[0]) if name in EXCERPT_COLUMNS]
    cut = [[row[i] for i in keep] for row in rows[:1] + rows[2:]]
    widths = [max(len(row[i]) for row in cut) for i in range(len(keep))]
    right = [not name.isalpha() or name in ("x ridge", "> ridge") for name in cut[0]]
    fmt = lambda row: "| " + " | ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right)) + "|"
    return "\n".join(["```", fmt(cut[0]), rule, *map(fmt, cut[1:]), "```"])


def demo_markdown(text: str, out: Path = DEMO_OUT) -> str:
    """``text`` (docs/demo.md) with each section that ``zsar demo`` saved in ``out/page-<preset>.md`` put in."""
    for preset in DEMO_SECTIONS:
        saved = out / f"page-{preset}.md"
        if saved.is_file():
            text = replace_section(text, preset, saved.read_text(encoding="utf-8"))
    return text


def _load(path: Path) -> Any:
    """The Python file at ``path`` as a module (the structure test, which holds the layer order)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reproduce_pages() -> dict[Path, str]:
    """The pages whose published numbers and recipes come from ``zsar/reproduce/published.csv``, as they should read."""
    from zsar.reproduce.docs import page_sections

    found = {}
    for page, sections in page_sections().items():
        text = (REPO / page).read_text(encoding="utf-8")
        for name, body in sections.items():
            text = replace_section(text, name, body)
        found[REPO / page] = text
    return found


def pages(demo_out: Path = DEMO_OUT) -> dict[Path, str]:
    """Every generated page as it should read now (``demo_out``: where ``zsar demo`` saved its sections)."""
    from zsar.cli.options import HELP_NAMES_FILE, help_names_text

    found = {HELP_NAMES_FILE: help_names_text(), COMMANDS_PAGE: commands_markdown()}
    if BENCH_PAGE.is_file():
        found[BENCH_PAGE] = benchmarks_markdown(BENCH_PAGE.read_text(encoding="utf-8"))
    if EXTENDING_PAGE.is_file():
        text = EXTENDING_PAGE.read_text(encoding="utf-8")
        for name in EXAMPLES:
            example = (REPO / name).read_text(encoding="utf-8").rstrip()
            text = replace_section(text, name, f"```python\n{example}\n```")
        found[EXTENDING_PAGE] = text
    if DESIGN_PAGE.is_file():
        structure = _load(STRUCTURE_TEST)
        found[DESIGN_PAGE] = replace_section(DESIGN_PAGE.read_text(encoding="utf-8"), structure.LAYERS_SECTION,
                                             structure.layers_drawing())
    demo_page = demo_markdown(DEMO_PAGE.read_text(encoding="utf-8"), demo_out) if DEMO_PAGE.is_file() else ""
    if demo_page:
        found[DEMO_PAGE] = demo_page
    excerpt = demo_excerpt(demo_page) if demo_page else None
    if excerpt is not None:
        found[README] = replace_section(README.read_text(encoding="utf-8"), "readme-excerpt", excerpt)
    found.update(reproduce_pages())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    args = parser.parse_args()
    pages_now = pages()
    stale = [path for path, text in pages_now.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        if args.check:
            print(f"{path.relative_to(REPO)} is out of date: run `make docs`", file=sys.stderr)
        else:
            path.write_text(pages_now[path], encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
