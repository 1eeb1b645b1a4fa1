"""README and docs/: links resolve, the README's ``zsar`` commands parse, generated pages match their source."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import typer.main

from zsar.cli import app
from zsar.doc_sections import read_section, replace_section

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of ``page``: lower case, spaces to dashes, other punctuation dropped."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {"".join(ch for ch in h.strip().lower().replace(" ", "-") if ch.isalnum() or ch in "-_")
            for h in re.findall(r"(?m)^#{1,6} (.*)$", text)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [m for m in LINK.findall(text) if not re.match(r"[a-z]+:", m)]


def test_the_pages_exist_and_the_readme_is_short():
    names = {p.name for p in PAGES}
    assert {"commands.md", "cache-format.md", "reproducing.md", "extending.md", "benchmarks.md", "design.md",
            "decisions.md", "demo.md"} <= names
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    assert "passed" not in (REPO / "README.md").read_text()  # no pasted test count


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for link in _links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link} points at a missing file"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{page.name}: {link} names no heading of {target.name}"


def test_the_link_check_catches_a_broken_link(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# Top\n\n[ok](#top) [gone](b.md) ![img](x.png) [web](https://example.com)\n```\n[no](c.md)\n```\n")
    assert _links(page) == ["#top", "b.md"] and _anchors(page) == {"top"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_long_pages_have_a_table_of_contents(page):
    text = page.read_text(encoding="utf-8")
    if len(text.splitlines()) > 300:
        assert re.search(r"(?m)^## Contents$", text), f"{page.name} is over 300 lines and has no ## Contents"


def _readme_commands() -> list[list[str]]:
    """Every ``zsar ...`` line of the README's ```bash blocks (not the pipeline picture), continuation lines joined."""
    blocks = re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [shlex.split(line.split(" #")[0]) for line in joined.splitlines() if line.strip().startswith("zsar ")]


def _parse(argv: list[str]) -> None:
    """Parse ``zsar ARGS`` with the CLI's own parser, running nothing (raises on an unknown option or command)."""
    command = typer.main.get_command(app)
    args = argv[1:]
    while hasattr(command, "list_commands") and args and not args[0].startswith("-"):
        ctx = command.context_class(command, info_name="zsar")
        command = command.get_command(ctx, args[0])
        assert command is not None, f"no command {args[0]!r} in {' '.join(argv)}"
        args = args[1:]
    command.make_context(argv[0], list(args), resilient_parsing=False)


def test_every_readme_command_parses():
    commands = _readme_commands()
    assert len(commands) >= 4 and {c[1] for c in commands} >= {"synth", "extract", "train-head", "metrics"}
    for argv in commands:
        _parse(argv)


def test_the_parse_check_catches_a_wrong_option():
    with pytest.raises(Exception, match="no-such-option"):
        _parse(["zsar", "metrics", "RUN", "--no-such-option"])
    with pytest.raises(Exception):
        _parse(["zsar", "train-head", "--head", "linear"])  # required options missing


def test_commands_page_matches_the_cli():
    gen = _gen_docs()
    assert (REPO / "docs" / "commands.md").read_text(encoding="utf-8") == gen.commands_markdown(), \
        "docs/commands.md differs from the CLI's help: run `make docs`"
    for name in typer.main.get_command(app).commands:
        assert f"## `zsar {name}`" in gen.commands_markdown()


def test_generated_sections_are_current(tmp_path):
    gen = _gen_docs()
    for path, text in gen.pages(demo_out=tmp_path).items():  # the committed sources, not a local demo's output
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is out of date: run `make docs`"


def test_extending_takes_the_example_in_verbatim():
    example = (REPO / "examples" / "zsar_plugin_example.py").read_text(encoding="utf-8")
    section = read_section((REPO / "docs" / "extending.md").read_text(encoding="utf-8"), "examples/zsar_plugin_example.py")
    assert section == f"```python\n{example.rstrip()}\n```"


def test_sections_are_replaced_in_place_and_added_once():
    text = replace_section("# Page\n\nintro\n", "x", "one")
    assert text.startswith("# Page\n\nintro\n\n<!-- BEGIN x") and read_section(text, "x") == "one"
    again = replace_section(text + "\nafter\n", "x", "two")
    assert read_section(again, "x") == "two" and again.endswith("after\n") and again.count("BEGIN x") == 1


def test_saved_bench_output_goes_into_its_scripts_section(tmp_path):
    gen = _gen_docs()
    page = "# Benchmarks\n\n" + replace_section("text\n", "bench/train.py", "| old |") + "\nafter\n"
    (tmp_path / "train.md").write_text("| head | s |\n|---|---|\n| ridge | 1.0 |\n")
    (tmp_path / "extract.md").write_text("workers threads clips/s\n      0       2    26.8\n")
    text = gen.benchmarks_markdown(page, tmp_path)
    assert read_section(text, "bench/train.py") == "| head | s |\n|---|---|\n| ridge | 1.0 |"  # a table stays a table
    assert read_section(text, "bench/extract.py") == "```\nworkers threads clips/s\n      0       2    26.8\n```"
    assert text.startswith("# Benchmarks\n\ntext\n") and "\nafter\n" in text


def test_the_readme_excerpt_is_the_demo_tables_first_columns():
    gen = _gen_docs()
    section = "run\n\n| head | generator | selected | top-1 % |\n|---|---|---|--:|\n| ridge | off | a 1 | 9.0 |\n\n| run | s |"
    excerpt = gen.demo_excerpt(replace_section("", "demo", section))
    assert excerpt.splitlines()[1] == "| head  | generator | top-1 % |" and "| ridge | off       |     9.0 |" in excerpt
    assert gen.demo_excerpt("# no demo section yet\n") is None


def _table_names(*pages: str) -> set[str]:
    """The `names` in backticks in the first column of the pages' Markdown tables."""
    lines = [line for page in pages for line in (REPO / "docs" / page).read_text(encoding="utf-8").splitlines()]
    cells = [line.strip().strip("|").split("|")[0] for line in lines if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`([^`]+)`", cell)}


def test_every_head_dataset_backbone_and_text_encoder_the_cli_lists_is_in_a_docs_table():
    from zsar.cli.options import NAMES

    pages = {"heads": ("training.md",), "datasets": ("extract.md",), "backbones": ("extract.md",),
             "text_encoders": ("extract.md",), "protocols": ("training.md", "clip-era.md")}
    for kind, where in pages.items():
        missing = sorted(set(NAMES[kind]()) - _table_names(*where))
        assert not missing, f"docs/{' or '.join(where)} have no table row for the {kind} {missing}"


def test_the_lr_help_names_the_lrs_selection_tries():
    from zsar.heads.selection import SelectionConfig

    help_text = next(p.help for p in typer.main.get_command(app).commands["train-head"].params if p.name == "lr")
    shown = [f"{lr:.0e}".replace("e-0", "e-") for lr in SelectionConfig().lrs]  # 1e-3, as the help writes them
    assert f"selection tries {', '.join(shown[:-1])} and {shown[-1]}" in help_text
