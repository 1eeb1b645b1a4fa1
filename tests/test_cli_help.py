"""Every help text of the CLI lists real names: no ``{placeholder}`` is left in any ``--help`` output."""

import re

import typer
from typer.testing import CliRunner

from zsar.cli import app

runner = CliRunner()


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the CLI, as the words that name it (typer's click may be vendored)."""
    paths = [path]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            paths += _command_paths(sub, path + (name,))
    return paths


def test_no_help_text_keeps_a_placeholder():
    paths = _command_paths(typer.main.get_command(app))
    assert ("train-head",) in paths and ("cache", "ls") in paths and len(paths) > 10
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, (path, result.output)
        text = "\n".join(line for line in result.output.splitlines() if "Usage:" not in line)  # typer: {ARG}
        left = re.findall(r"\{\w+\}", text)
        assert not left, f"`zsar {' '.join(path)} --help` keeps {left}"


def test_a_misspelt_placeholder_would_be_caught():
    assert re.findall(r"\{\w+\}", "Head: {haeds}.") == ["{haeds}"]
