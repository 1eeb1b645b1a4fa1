"""The commands that reproduce published rows: ``zsar extract`` for each cache a row needs, ``zsar train-head`` per row.

``plan_rows(rows, inputs)`` turns rows of ``published.csv`` into a ``Plan``: a list of
``Step``s, each one ``zsar`` command line. Every value comes from the row's recipe:

- ``zsar extract`` of the target dataset (and of the K400 train videos for rows that
  train on them) with the row's backbone, prompt set, sampling, frames, stride and views,
  and CLIP's text tower of the same weights. A cache two rows share is extracted once; a
  second prompt set only adds its text file to the cache. The printed ``cache: DIR`` line
  is bound to a shell variable (``UCF101_DENSE8X3S16``) that later steps read;
- ``zsar train-head`` with the row's head and options, protocol, the protocol's
  default number of splits, ``--tau 0`` wherever the protocol has an overlap filter (every
  published row trains on the whole source set: ``official`` and ``k600-novel`` default to
  it, E2E's ``cross-full`` does not), ``--base-train 16-shot`` wherever the protocol has that
  option (base-to-novel's default, stated anyway), and its own ``--out`` folder. A training-free head (``train_on``
  ``target``) reads the target cache as its source: it trains nothing, so no K400 cache
  is needed for it.

``Plan.script()`` is the bash script ``zsar reproduce --plan`` prints; ``zsar reproduce``
runs the same steps in-process (``zsar.cli.reproduce``). Both commands resume: extraction
skips the videos already in a cache, train-head the splits a run folder has finished.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.sampling import SamplingConfig
from zsar.reproduce.rows import ROOT_OPTIONS, PublishedRow

TEXT_ENCODER = "clip"  # every reproducible row scores in CLIP's joint space
SOURCE = ("kinetics400", "train")  # (dataset, subset) of the rows that train on K400
SHORT = {"kinetics400": "K400", "kinetics600": "K600", "ucf101": "UCF101", "hmdb51": "HMDB51"}
CACHE_LINE = "cache: "  # what `zsar extract` prints before the cache folder


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """Where the data and weights are and where results go.

    ``roots``: dataset name -> its folder; ``weights``: a CLIP folder written by
    ``save_pretrained`` (None: the Hugging Face cache); ``cache``: the cache root (None:
    zsar's default); ``out``: the run folders go to ``out/runs/<row id>``.
    """

    roots: dict[str, Path]
    out: Path
    weights: Path | None = None
    cache: Path | None = None
    device: str = "cpu"


@dataclass(frozen=True)
class Ref:
    """A cache folder known only once the step that binds ``name`` has run."""

    name: str


Token = str | Ref


@dataclass(frozen=True)
class Step:
    """One ``zsar`` command (``argv`` without the program name); ``binds`` names the variable its printed
    ``cache: DIR`` sets; ``about`` is the comment printed above it."""

    argv: tuple[Token, ...]
    binds: str = ""
    about: str = ""

    def resolved(self, bound: dict[str, str]) -> list[str]:
        """``argv`` with every ``Ref`` replaced by the folder bound to it."""
        missing = [t.name for t in self.argv if isinstance(t, Ref) and t.name not in bound]
        if missing:
            raise ZsarError(f"step `{self.shell()}` reads ${missing[0]}, which no earlier step set")
        return [bound[t.name] if isinstance(t, Ref) else t for t in self.argv]

    def shell(self) -> str:
        """The bash line: ``zsar ...``; a binding step keeps the cache folder ``zsar extract`` prints (its output
        still shows, on stderr)."""
        line = " ".join(["zsar", *(f'"${t.name}"' if isinstance(t, Ref) else shlex.quote(t) for t in self.argv)])
        return f"{self.binds}=$({line} | tee /dev/stderr | sed -n 's/^{CACHE_LINE}//p')" if self.binds else line


@dataclass(frozen=True)
class Plan:
    """The steps of some rows, in order, and the run folder of each row."""

    rows: tuple[PublishedRow, ...]
    steps: tuple[Step, ...]
    runs: dict[str, Path] = field(default_factory=dict)

    def script(self) -> str:
        """A bash script of the steps, with their comments."""
        names = " ".join(r.id for r in self.rows)
        lines = ["#!/usr/bin/env bash", f"# zsar reproduce {names}: {len(self.steps)} command(s); each reuses what "
                 "is already in its cache or run folder", "set -euo pipefail"]
        for number, step in enumerate(self.steps, 1):
            lines += [f"# {number}. {step.about}", step.shell()]
        return "\n".join(lines) + "\n"


def row_sampling(row: PublishedRow) -> SamplingConfig:
    return SamplingConfig(mode=row.sampling, frames=int(row.frames), clips=int(row.views),
                          stride=int(row.stride) if row.stride else 1)


def _root(row: PublishedRow, dataset: str, inputs: Inputs) -> Path:
    if dataset not in inputs.roots:
        raise ZsarError(f"row {row.id} needs {dataset} videos: pass {ROOT_OPTIONS[dataset]} DIR")
    return inputs.roots[dataset]


def _extract_step(row: PublishedRow, dataset: str, subset: str, inputs: Inputs) -> Step:
    sampling = row_sampling(row)
    name = "_".join(filter(None, (SHORT[dataset], subset, sampling.describe()))).upper()
    argv: list[str] = ["extract", "--dataset", dataset, "--root", str(_root(row, dataset, inputs))]
    argv += ["--subset", subset] if subset else []
    argv += ["--backbone", row.backbone] + (["--weights", str(inputs.weights)] if inputs.weights else [])
    argv += ["--text-encoder", TEXT_ENCODER] + (["--text-model", str(inputs.weights)] if inputs.weights else [])
    argv += ["--prompts", row.prompts, "--sampling", sampling.mode, "--frames", str(sampling.frames)]
    argv += ["--stride", str(sampling.stride)] if sampling.mode == "dense" else []
    argv += ["--clips", str(sampling.clips)] + (["--cache", str(inputs.cache)] if inputs.cache else [])
    argv += ["--device", inputs.device]
    what = f"{dataset}{f' {subset}' if subset else ''} features ({sampling.describe()}) and {TEXT_ENCODER}-{row.prompts}"
    return Step(tuple(argv), binds=name, about=f"{what} label text; prints `{CACHE_LINE}DIR`, kept as ${name}")


def _train_step(row: PublishedRow, target: Step, source: Step, inputs: Inputs, run: Path) -> Step:
    from zsar.heads.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(row.protocol)
    argv: list[Token] = ["train-head", "--features", Ref(target.binds)]
    argv += ["--source-features", Ref(source.binds)] if protocol.needs_source else []
    argv += ["--text", f"{TEXT_ENCODER}-{row.prompts}", "--head", row.head]
    for key, value in row.options().items():
        argv += ["--head-opt", f"{key}={value}"]
    argv += ["--protocol", row.protocol, "--splits", str(protocol.default_splits)]
    options = protocol_options(row)
    argv += ["--tau", "0"] if "tau" in options else []  # the published rows filter no source class
    argv += ["--base-train", "16-shot"] if "base_train" in options else []  # the papers' 16-shot lists
    argv += ["--out", str(run), "--device", inputs.device]
    published = ", ".join(f"{n.metric} {n.text}" for n in row.numbers)
    return Step(tuple(argv), about=f"{row.id}: {row.paper}, {row.table}: {published}")


def plan_rows(rows: list[PublishedRow], inputs: Inputs) -> Plan:
    """The steps that reproduce ``rows`` (each cache extracted once), then one train-head per row."""
    extracts: dict[tuple[Token, ...], Step] = {}
    trains: list[Step] = []
    runs: dict[str, Path] = {}
    for row in rows:
        target = _extract_step(row, row.dataset, row.subset, inputs)
        source = target if row.train_on == "target" else _extract_step(row, *SOURCE, inputs)
        for step in (target, source):
            extracts.setdefault(step.argv, step)
        runs[row.id] = inputs.out / "runs" / row.id
        trains.append(_train_step(row, target, source, inputs, runs[row.id]))
    return Plan(tuple(rows), tuple(extracts.values()) + tuple(trains), runs)


def protocol_options(row: PublishedRow) -> set[str]:
    """The option names of ``row``'s protocol (``tau``, ``base_train``, ...)."""
    from zsar.heads.protocols import PROTOCOLS

    return {f.name for f in fields(PROTOCOLS.get(row.protocol).options)}


def needs_few_shot(rows: list[PublishedRow]) -> bool:
    """Whether a row trains on the 16-shot lists (its protocol has ``base_train``): the stand-in then writes them."""
    return any("base_train" in protocol_options(r) for r in rows)


def rows_datasets(rows: list[PublishedRow]) -> list[str]:
    """The datasets whose videos ``rows`` read, in a fixed order."""
    needed = {r.dataset for r in rows} | {SOURCE[0] for r in rows if r.train_on != "target"}
    return [d for d in ROOT_OPTIONS if d in needed]
