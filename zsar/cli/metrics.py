"""``zsar metrics``: accuracy and the registered measures of a run or of a raw feature cache.

Each registered measure with a flag (``zsar.metrics.measures``: ``--hubness``,
``--closeness``, ``--dispersion``, a plugin's own) is a ``--NAME`` option of the command:
its signature is built when typer builds the command (after ``ZSAR_PLUGINS`` is loaded),
from the registry, so a new measure needs no edit here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from zsar.cli.app import command
from zsar.errors import ZsarError
from zsar.registry import load_plugins

FIXED: list[tuple[str, Any, Any]] = [
    ("run", Annotated[Path | None, typer.Argument(help="Run directory written by `zsar train-head`.")], None),
    ("features", Annotated[Path | None, typer.Option(
        help="Measure a raw feature cache instead of a run (mean-pooled backbone features, no head).")], None),
    ("text", Annotated[str | None, typer.Option(
        help="With --features: the text embeddings for video-to-text hubness (name or .h5 file).")], None),
    ("k", Annotated[str | None, typer.Option(
        help="Hubness k values, comma-separated (default: 1,5,10 for a run, 10 for --features).")], None),
    ("plots", Annotated[bool, typer.Option("--plots", help="Write RUN/plots/*.png and RUN/report.md.")], False),
    ("as_json", Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")], False),
]


def _flag_measures() -> list[tuple[str, str, str]]:
    """``(parameter name, flag, help)`` of each registered measure that has a flag."""
    from zsar.metrics.measures import MEASURES, flag_measures

    try:
        load_plugins()  # idempotent; a bad ZSAR_PLUGINS is reported by the app's callback in one line
    except ZsarError:
        pass
    return [(name.replace("-", "_"), f"--{name}", MEASURES.help(name)) for name in flag_measures()]


class MetricsCommand:
    """Accuracy and the measures of a run (or of a raw feature cache).

    With no measure flag, the default measures (hubness, closeness, dispersion) are measured;
    a run's protocol adds its own (e.g. base-to-novel's base / novel / HM).
    """

    __name__ = __qualname__ = "metrics"
    __module__ = __name__

    @property
    def __signature__(self) -> inspect.Signature:
        params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
                  for name, kind, default in FIXED]
        params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False,
                                     annotation=Annotated[bool, typer.Option(flag, help=text)])
                   for name, flag, text in _flag_measures()]
        return inspect.Signature(params)

    @property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {}

    def __call__(self, **values: Any) -> None:
        import json

        from zsar.metrics import evaluate_features, format_tables, measure_run, write_report
        from zsar.metrics.measure import MetricsRequest

        fixed = {name: values.pop(name) for name, _, _ in FIXED}
        asked = tuple(flag[2:] for name, flag, _ in _flag_measures() if values.get(name))
        request = MetricsRequest(run=fixed["run"], features=fixed["features"], text=fixed["text"], measures=asked,
                                 k=fixed["k"], plots=fixed["plots"])
        config = request.config()
        if request.features is not None:
            summary = evaluate_features(request.features, request.text, config)
        else:
            measured = measure_run(request.run, config)
            summary = measured.summary()
        typer.echo(json.dumps(summary, indent=2) if fixed["as_json"] else format_tables(summary))
        if request.plots:
            typer.echo(f"wrote {write_report(measured)} and its plots", err=fixed["as_json"])


metrics = command("metrics", help=MetricsCommand.__doc__)(MetricsCommand())
