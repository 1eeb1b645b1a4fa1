"""``zsar reproduce``: run published rows' recipes and print ours beside the published numbers.

The commands are built by ``zsar.reproduce.plan_rows``; this module runs them: ``--plan``
prints them as a bash script, otherwise each is run here, in this process, through the
same ``zsar`` app (its output passes through; an ``extract`` step's ``cache: DIR`` line
binds the folder later steps read), so what runs is exactly what ``--plan`` prints.
"""

from __future__ import annotations

import io
import logging
import shlex
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, TextIO

import typer

from zsar.cli.app import command
from zsar.cli.options import CacheRoot, Device
from zsar.errors import ZsarError

if TYPE_CHECKING:
    from zsar.reproduce import Plan

DEFAULT_OUT = Path("zsar-reproduce")
ERROR_PREFIX = "error: "


class _Passing(io.TextIOBase):
    """Writes through to ``stream`` and keeps a copy; ``catch_errors`` holds back a command's ``error: ...`` line."""

    def __init__(self, stream: TextIO, catch_errors: bool = False) -> None:
        self.stream, self.catch_errors = stream, catch_errors
        self.text: list[str] = []
        self.caught: list[str] = []

    def write(self, text: str | bytes) -> int:
        if isinstance(text, bytes):  # click writes bytes to a stream it does not recognise as text
            text = text.decode("utf-8", "replace")
        if self.catch_errors and text.startswith(ERROR_PREFIX):
            self.caught.append(text[len(ERROR_PREFIX):].strip())
            return len(text)
        self.text.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


def run_step(argv: list[str]) -> str:
    """Run ``zsar ARGV`` in this process; its stdout. A failed command is one ``ZsarError`` with its error line."""
    import typer.main

    from zsar.cli.app import app

    level = logging.getLogger().level  # keep `zsar -q` / `-v` of this command for the steps it runs
    verbosity = ["-q"] if level >= logging.WARNING else ["-v"] if level <= logging.DEBUG else []
    out, err = _Passing(sys.stdout), _Passing(sys.stderr, catch_errors=True)
    with redirect_stdout(out), redirect_stderr(err):
        code = typer.main.get_command(app).main(args=verbosity + argv, prog_name="zsar", standalone_mode=False)
    if code == 130:
        raise KeyboardInterrupt
    if code not in (None, 0) or err.caught:
        why = err.caught[-1] if err.caught else f"exit status {code}"
        raise ZsarError(f"`zsar {' '.join(argv[:1])}` of the plan failed: {why}")
    return "".join(out.text)


def _cache_folder(output: str) -> str:
    from zsar.reproduce.plan import CACHE_LINE

    found = [line[len(CACHE_LINE):].strip() for line in output.splitlines() if line.startswith(CACHE_LINE)]
    if not found:
        raise ZsarError(f"`zsar extract` printed no `{CACHE_LINE}DIR` line; run it alone to see why")
    return found[-1]


def run_plan(plan: Plan, echo: Callable[[str], None]) -> list[str]:
    """Run every step of ``plan`` in order; the command lines run (cache variables filled in)."""
    bound: dict[str, str] = {}
    ran = []
    for number, step in enumerate(plan.steps, 1):
        argv = step.resolved(bound)
        line = " ".join(["zsar", *map(shlex.quote, argv)])
        echo(f"[{number}/{len(plan.steps)}] {line}")
        output = run_step(argv)
        if step.binds:
            bound[step.binds] = _cache_folder(output)
        ran.append(line)
    return ran


@command("reproduce")
def reproduce(
    rows: Annotated[list[str], typer.Argument(help="Row ids from `zsar reproduce list`, or all; `list` shows the rows.", show_default=False)],
    root_ucf101: Annotated[Path | None, typer.Option(help="UCF101 folder (UCF-101/ and ucfTrainTestlist/).")] = None,
    root_hmdb51: Annotated[Path | None, typer.Option(help="HMDB51 folder (class folders and testTrainMulti_7030_splits/).")] = None,
    root_k400: Annotated[Path | None, typer.Option(help="Kinetics-400 folder (the official CSVs and train/val videos).")] = None,
    root_k600: Annotated[Path | None, typer.Option(help="Kinetics-600 folder (the official CSVs and val videos).")] = None,
    weights: Annotated[Path | None, typer.Option(help="CLIP ViT-B/16 folder written by save_pretrained (default: the Hugging Face cache), for images and text.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the runs (runs/<row>) and report.md (default: zsar-reproduce; with --dry a new temporary folder, which also holds the stand-in and its cache).")] = None,
    cache: CacheRoot = None,
    device: Device = "cpu",
    plan: Annotated[bool, typer.Option("--plan", help="Print the commands as a bash script; run and write nothing.")] = False,
    dry: Annotated[bool, typer.Option("--dry", help="Run on a tiny stand-in written to OUT/standin (random-weight CLIP, random videos under the real class names, in each dataset's layout): checks every step, says nothing about accuracy.")] = False,
) -> None:
    """Reproduce published rows (`zsar reproduce list`): run what is missing, print ours beside the paper's number."""
    from zsar.reproduce import (Inputs, compare, format_comparison, format_listing, plan_rows, reproducible_rows,
                                needs_few_shot, rows_datasets, select_rows, summary_line, write_reproduce_report,
                                write_standin)

    if rows == ["list"]:
        typer.echo(format_listing(reproducible_rows()))
        return
    selected = select_rows(rows)
    roots = {name: path for name, path in (("ucf101", root_ucf101), ("hmdb51", root_hmdb51),
                                           ("kinetics400", root_k400), ("kinetics600", root_k600)) if path}
    about = ""
    if dry:
        if plan:
            raise ZsarError("--plan writes nothing and --dry writes a stand-in to run on: pass one of them")
        out = out or Path(tempfile.mkdtemp(prefix="zsar-reproduce-dry-"))
        roots, weights = write_standin(out / "standin", rows_datasets(selected), needs_few_shot(selected))
        cache = cache or out / "cache"
        about = (f"dry run on a stand-in in {out / 'standin'}: random-weight CLIP, random videos under the real "
                 "class names; the numbers say nothing about accuracy")
        typer.echo(about)
    inputs = Inputs(roots=roots, out=out or DEFAULT_OUT, weights=weights, cache=cache, device=device)
    steps = plan_rows(selected, inputs)
    if plan:
        typer.echo(steps.script(), nl=False)
        return
    ran = run_plan(steps, typer.echo)
    outcomes = compare(selected, inputs.out / "runs")
    report = write_reproduce_report(inputs.out / "report.md", outcomes, steps.runs, ran, about)
    typer.echo("")
    typer.echo(format_comparison(outcomes))
    typer.echo(f"\n{summary_line(outcomes)}; report: {report}")
