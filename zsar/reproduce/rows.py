"""The published rows zsar is held against, each with its whole recipe: ``zsar/reproduce/published.csv``.

One CSV row per published number's row and dataset (a base-to-novel row carries its base,
novel and HM). The columns say, once, everything a reader needs to hold a zsar run
against the paper: where the number is printed (``paper``, ``table``, ``source``: a URL a
reader can open), whether a released README or code confirms it (``verified`` and what
was ``checked``), and the recipe (``model``, ``training``, ``prompts``, ``ensemble``,
``sampling``, ``frames``, ``stride``, ``views``, ``pooling``, ``class_names``,
``protocol``, ``lists``, ``dataset``). A number prints its published ± where the source
gives one (``73.8 ± 0.6``); that ± is the band a reproduction must land in, otherwise
``band`` states one and ``band_why`` justifies it.

Rows zsar can run name a ``head``; for them ``prompts``, ``ensemble``, ``sampling``,
``frames``, ``stride``, ``views`` and ``pooling`` are zsar's own values (a prompt set, a
sampling mode, a pooling rule of the ``frozen`` head), ``head_options`` adds other head
options, ``subset`` the target's Kinetics subset, ``train_on`` the training set
(``target``: a training-free head reads the target as its source; ``kinetics400``: the
K400 train videos) and ``baseline`` the row its paired test compares with.
``differences`` says what zsar's run still does otherwise. ``load_rows`` reads and checks
the table once; a broken row is a ``ZsarError`` naming it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from zsar.errors import ZsarError

TABLE = Path(__file__).resolve().parent / "published.csv"
GROUPS = ("cross-dataset", "base-novel", "e2e-era")
METRICS = ("top1", "base", "novel", "hm")  # CSV columns of numbers
RUN_METRICS = {"top1": "top1", "base": "base_top1", "novel": "novel_top1", "hm": "hm"}  # -> metrics.json keys
METRIC_NAMES = {"top1": "top-1", "base": "base", "novel": "novel", "hm": "HM"}
# What zsar can extract and the option naming each dataset's root (``zsar reproduce --root-...``).
ROOT_OPTIONS = {"ucf101": "--root-ucf101", "hmdb51": "--root-hmdb51", "kinetics400": "--root-k400",
                "kinetics600": "--root-k600"}
BACKBONES = {"CLIP ViT-B/16 (OpenAI)": "clip-vit-b16"}  # a reproducible row's model -> zsar backbone
TRAIN_ON = ("target", "kinetics400")
PLUS_MINUS = "±"


@dataclass(frozen=True, kw_only=True)
class Number:
    """One published number: ``value`` (percent), the ``published`` ± (None if the source prints none), and the
    ``band`` a reproduction must land in (the published ± where given, else the row's stated band)."""

    metric: str
    value: float
    published: float | None
    band: float | None
    text: str  # as the table writes it: "73.8 ± 0.6", "61.0"

    @property
    def band_text(self) -> str:
        return "-" if self.band is None else f"{self.value - self.band:.1f} to {self.value + self.band:.1f}"


@dataclass(frozen=True, kw_only=True)
class PublishedRow:
    """One row of ``published.csv`` (see the module docstring for the columns)."""

    id: str
    group: str
    paper: str
    table: str
    method: str
    model: str
    training: str
    prompts: str
    ensemble: str
    sampling: str
    frames: str
    stride: str
    views: str
    pooling: str
    class_names: str
    protocol: str
    lists: str
    dataset: str
    top1: str
    base: str
    novel: str
    hm: str
    band: str
    band_why: str
    source: str
    verified: str
    checked: str
    head: str
    head_options: str
    subset: str
    train_on: str
    baseline: str
    differences: str

    @property
    def reproducible(self) -> bool:
        return bool(self.head)

    @property
    def is_verified(self) -> bool:
        return self.verified == "yes"

    @property
    def numbers(self) -> tuple[Number, ...]:
        """The published numbers in column order (top-1; or base, novel, HM)."""
        band = float(self.band) if self.band else None
        found = []
        for metric in METRICS:
            cell = getattr(self, metric)
            if cell:
                value, _, pm = cell.partition(PLUS_MINUS)
                published = float(pm) if pm.strip() else None
                found.append(Number(metric=metric, value=float(value), published=published,
                                    band=published if published is not None else band, text=" ".join(cell.split())))
        return tuple(found)

    @property
    def primary(self) -> str:
        """The metric a paired test compares: HM for base-to-novel rows, else top-1."""
        return "hm" if self.hm else "top1"

    @property
    def backbone(self) -> str:
        return BACKBONES.get(self.model, "")

    def options(self) -> dict[str, str]:
        """The head options zsar passes: ``ensemble``, ``pool`` for ``frozen``, then ``head_options``."""
        found = {"ensemble": self.ensemble} if self.ensemble else {}
        if self.head == "frozen":
            found["pool"] = self.pooling
        for item in filter(None, (part.strip() for part in self.head_options.split(";"))):
            key, _, value = item.partition("=")
            found[key.strip()] = value.strip()
        return found

    def recipe(self) -> str:
        """The recipe in one line, as ``zsar reproduce list`` prints it."""
        stride = f" at stride {self.stride}" if self.stride else ""
        frames = f"{self.frames} frames{stride} ({self.sampling}), {self.views} view(s)" if self.frames else ""
        parts = [self.model, f"prompts {self.prompts}" if self.prompts else "",
                 f"ensemble {self.ensemble}" if self.ensemble else "", frames,
                 f"pooling {self.pooling}" if self.pooling else "", f"training: {self.training}"]
        return "; ".join(p for p in parts if p)


COLUMNS = tuple(f.name for f in fields(PublishedRow))


def _check_reproducible(row: PublishedRow, ids: set[str]) -> None:
    """A row zsar runs must name zsar's own values; the first bad one is a ZsarError."""
    from zsar.extract.models.prompts import prompt_names
    from zsar.extract.sampling import SAMPLING_MODES
    from zsar.heads.base import HEADS
    from zsar.heads.frozen import ENSEMBLES, POOLS
    from zsar.heads.protocols import PROTOCOLS

    checks = [("head", row.head, HEADS.names()), ("prompts", row.prompts, prompt_names()),
              ("ensemble", row.ensemble, ENSEMBLES), ("sampling", row.sampling, SAMPLING_MODES),
              ("protocol", row.protocol, PROTOCOLS.names()), ("dataset", row.dataset, list(ROOT_OPTIONS)),
              ("model", row.model, list(BACKBONES)), ("train_on", row.train_on, TRAIN_ON)]
    if row.head == "frozen":
        checks.append(("pooling", row.pooling, POOLS))
    for column, value, valid in checks:
        if value not in valid:
            raise ZsarError(f"{TABLE.name} row {row.id}: {column} {value!r} is not one of {', '.join(valid)}")
    for column in ("frames", "views") + (("stride",) if row.sampling == "dense" else ()):
        if not getattr(row, column).isdigit():
            raise ZsarError(f"{TABLE.name} row {row.id}: {column} {getattr(row, column)!r} must be a whole number")
    if any(n.band is None for n in row.numbers):
        raise ZsarError(f"{TABLE.name} row {row.id}: a number without a published ± needs a band (and band_why)")
    if row.baseline and row.baseline not in ids:
        raise ZsarError(f"{TABLE.name} row {row.id}: baseline {row.baseline!r} is not a row of the table")


def _check_row(row: PublishedRow) -> None:
    if row.group not in GROUPS or row.verified not in ("yes", "no"):
        raise ZsarError(f"{TABLE.name} row {row.id}: group {row.group!r} / verified {row.verified!r}; "
                        f"use one of {', '.join(GROUPS)} / yes or no")
    if not row.source.startswith("https://"):
        raise ZsarError(f"{TABLE.name} row {row.id}: source {row.source!r} must be a URL a reader can open")
    try:
        numbers = row.numbers
    except ValueError:
        raise ZsarError(f"{TABLE.name} row {row.id}: a number is not written as 'value' or 'value ± pm'") from None
    if not numbers or (row.hm and not (row.base and row.novel)):
        raise ZsarError(f"{TABLE.name} row {row.id}: give top1, or base, novel and hm")
    if row.band and not row.band_why:
        raise ZsarError(f"{TABLE.name} row {row.id}: a stated band needs band_why")


def parse_rows(text: str) -> tuple[PublishedRow, ...]:
    """The rows of a ``published.csv`` text, checked (a bad row is a ``ZsarError`` naming it)."""
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ZsarError(f"{TABLE.name}: columns {reader.fieldnames} are not {list(COLUMNS)}")
    rows = tuple(PublishedRow(**{k: (v or "").strip() for k, v in record.items()}) for record in reader)
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise ZsarError(f"{TABLE.name}: row id {next(i for i in ids if ids.count(i) > 1)!r} appears twice")
    for row in rows:
        _check_row(row)
        if row.reproducible:
            _check_reproducible(row, set(ids))
    return rows


@lru_cache(maxsize=1)
def load_rows() -> tuple[PublishedRow, ...]:
    """Every row of ``zsar/reproduce/published.csv``, checked once."""
    return parse_rows(TABLE.read_text(encoding="utf-8"))


def reproducible_rows() -> list[PublishedRow]:
    """The rows ``zsar reproduce`` can run, in table order."""
    return [r for r in load_rows() if r.reproducible]


def select_rows(names: list[str]) -> list[PublishedRow]:
    """The reproducible rows named (``all``: every one), in the order given; an unknown name lists the valid ones."""
    by_id = {r.id: r for r in reproducible_rows()}
    if names == ["all"]:
        return list(by_id.values())
    unknown = [n for n in names if n not in by_id]
    if unknown:
        other = {r.id for r in load_rows()} - by_id.keys()
        why = " (a published row zsar cannot run: see `zsar reproduce list` and docs/clip-era.md)" \
            if unknown[0] in other else ""
        raise ZsarError(f"unknown row {unknown[0]!r}{why}; `zsar reproduce list` shows the {len(by_id)} rows "
                        "zsar can reproduce, or pass all")
    return [by_id[n] for n in dict.fromkeys(names)]


def format_listing(rows: list[PublishedRow]) -> str:
    """What ``zsar reproduce list`` prints: per row its source, numbers with their bands, protocol and recipe."""
    blocks = []
    for row in rows:
        numbers = "; ".join(f"{METRIC_NAMES[n.metric]} {n.text} (band {n.band_text})" for n in row.numbers)
        blocks.append("\n".join([
            f"{row.id}",
            f"  published  {row.paper}, {row.table}",
            f"  number     {numbers}; {row.band_why}",
            f"  source     {row.source} ({'verified' if row.is_verified else 'NOT verified'})",
            f"  checked    {row.checked}",
            f"  protocol   {row.protocol} on {row.dataset}: {row.lists}",
            f"  recipe     {row.recipe()}",
            f"  zsar       --head {row.head} "
            + " ".join(f"--head-opt {k}={v}" for k, v in row.options().items())
            + f"; trains on {'nothing (training-free)' if row.train_on == 'target' else row.train_on}"
            + (f"; paired test against {row.baseline}" if row.baseline else ""),
            f"  differs    {row.differences or 'nothing known'}"]))
    return "\n\n".join(blocks)
