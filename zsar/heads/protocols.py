"""Zero-shot evaluation protocols (registry ``PROTOCOLS``): which videos train, which test, on which classes.

- ``within-half``: one dataset; split i puts half of its classes, drawn exactly as E2E
  draws them with seed i (``e2e_half_classes``), in the unseen (test) set and trains on
  every video of the other half.
- ``gzsl``: the same halves, but a seeded 20% of every seen class's videos is held out
  and the test set is those plus every unseen video, classified among *all* classes
  (seen, unseen and harmonic-mean accuracy are reported).
- ``cross-half`` / ``cross-full`` (E2E): train on a source cache (e.g. Kinetics) whose
  classes pass the overlap filter (``overlap_filter``, E2E's ``tau`` 0.05 by default), test on half of the target's
  classes drawn with seed i (i = 0..N-1), or on all of them (one split). All splits
  share one trained model. The filter runs against the target's classes and those of
  every ``ProtocolData.overlap_text`` (``--overlap-with``): E2E filters Kinetics once
  against the union of all its test sets (UCF101 and HMDB51, plus ActivityNet when it
  tests on it), so one source set serves every target.
- ``official``: train on a source cache (as the CLIP-era papers train on Kinetics-400, all
  of it: ``tau`` 0, no overlap filter, by default), test on the target's official
  split i (i = 1..3, the ``split<i>`` column's ``test`` videos), all classes unseen.
  On UCF101 and HMDB51 this is the CLIP-era "full-class" convention (X-CLIP, ViFi-CLIP,
  Open-VCLIP, FROSTER): all 101 / 51 classes are candidates on each of the 3 official
  test lists, reported as mean ± std over the 3. Without ``--source-features`` it is an
  error: training on the target's own ``train`` videos would make every test class seen.
  (The training-free zero-shot of the features themselves is the ``frozen`` head.)
- ``k600-novel`` and ``base-to-novel`` (``zsar.heads.clip_protocols``): ER-ZSAR's
  Kinetics-600 novel-class splits and ViFi-CLIP's base-to-novel halves, from the lists
  shipped with zsar (``zsar.heads.class_lists``).

Each registered ``Protocol`` carries its options type (``zsar.heads.protocol_options``: the
published protocol's defaults, set with ``--protocol-opt``) and the measures it adds to each
split's accuracy (GZSL's ``seen-unseen``); no code elsewhere tests a protocol's name.

The overlap filter compares label embeddings of ``ProtocolData.filter_text`` (``--filter-text``,
default: E2E's ``word2vec-e2e`` text when the source cache has it), which need not be the
text the head trains on (``--text``): a ResT run on CLIP text can keep E2E's source set.

Degenerate set-ups are refused with one line (a cache with videos of fewer than 2 classes,
a split with fewer than 2 training videos or no test video) or noted: each note is logged
as a warning and kept in ``ProtocolData.notes`` (``metrics.json`` stores them): a partial
cache used with ``--allow-partial``, classes with the same label text, fewer distinct
class halves than splits asked (repeats understate the std; ``train-head`` caps ``--splits``
to ``distinct_splits``), a single candidate class at test (top-1 is 100% by construction).

Class order is the dataset's (alphabetical) order, as E2E requires. In cross protocols
the source classes come first in ``SplitPlan.class_names``, as ``<source dataset>/<name>``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from math import comb
from typing import Any, Callable, Iterator

import numpy as np

from zsar.cache.features import FeatureSet
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.heads.plans import Side, SplitPlan, side_of
from zsar.heads.protocol_options import E2EOptions, NoOptions, SourceOptions
from zsar.vectors import l2_normalise, positions
from zsar.registry import Registry

log = logging.getLogger(__name__)
WITHIN_HALF, GZSL, CROSS_HALF = "within-half", "gzsl", "cross-half"
DEFAULT_PROTOCOL = WITHIN_HALF  # what zsar sweep and the demo run unless told otherwise
GZSL_HOLDOUT = 0.2
SHARED_MODEL = "source"
MIN_CLASSES = 2        # zero-shot needs a class to train on and another to test on
MIN_TRAIN_VIDEOS = 2   # a head cannot learn (nor BatchNorm normalise) from one video


def e2e_half_classes(n_classes: int, seed: int) -> np.ndarray:
    """E2E's half split: ``np.random.seed(seed); np.random.permutation(n_classes)[:n_classes // 2]``.

    Uses the legacy Mersenne-Twister RNG (``RandomState``), which draws the same numbers
    as the legacy global calls without touching numpy's global state. Indices are in the
    order drawn.
    """
    return np.random.RandomState(seed).permutation(n_classes)[: n_classes // 2]


def overlap_filter(source_text: np.ndarray, target_text: np.ndarray, tau: float) -> np.ndarray:
    """E2E's rule: keep source class c iff ``min_t (1 - cos(c, t)) >= tau``; a ``(S,)`` boolean mask.

    ``source_text`` ``(S, Dt)`` and ``target_text`` ``(T, Dt)`` are label embeddings
    (normalised here). ``tau = 0`` keeps every class.
    """
    return overlap_distances(source_text, target_text).min(axis=1) >= tau


def overlap_distances(source_text: np.ndarray, target_text: np.ndarray) -> np.ndarray:
    """``(S, T)`` cosine distances ``1 - cos(c, t)`` (float64, clipped at 0) between label embeddings.

    A zero embedding has cosine 0 with everything (distance 1): it overlaps nothing.
    """
    s = l2_normalise(np.asarray(source_text, dtype=np.float64), axis=1)
    t = l2_normalise(np.asarray(target_text, dtype=np.float64), axis=1)
    return np.clip(1 - s @ t.T, 0, None)


@dataclass(kw_only=True)
class ProtocolData:
    """The caches a protocol draws from: the target (tested) and, for cross protocols, the source.

    ``overlap_text``: label text of further datasets (``--overlap-with``) whose classes the
    source is filtered against too, besides the target's. ``source_filter_text`` /
    ``target_filter_text``: the label text the overlap filter compares (``--filter-text``;
    None: ``source_text`` / ``target_text``); ``overlap_text`` is in that text too.
    ``filter_classes``: the target classes the filter runs against (None: all of them, unless
    the protocol narrows them). ``options``: the protocol's options (its ``Protocol.options``
    type); ``tau`` is theirs when the protocol trains on a source cache.
    """

    target: FeatureSet
    target_text: TextEmbeddings
    source: FeatureSet | None = None
    source_text: TextEmbeddings | None = None
    tau: float = 0.0
    overlap_text: list[TextEmbeddings] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_filter_text: TextEmbeddings | None = None
    target_filter_text: TextEmbeddings | None = None
    filter_classes: list[str] | None = None
    options: Any = field(default_factory=NoOptions)

    def __post_init__(self) -> None:
        sides = [("--features", self.target, self.target_text), ("--source-features", self.source, self.source_text)]
        for flag, features, text in sides:
            if features is None or text is None:
                continue
            _check_classes(flag, features)
            partial = features.partial_note()
            if partial is not None:
                self.note(f"{partial}; used the {len(features)} video(s) it has (--allow-partial)")
            _note_same_texts(self, features, text)

    def note(self, text: str) -> None:
        """Log ``text`` as a warning and keep it (once) for ``metrics.json``."""
        if text not in self.notes:
            log.warning(text)
            self.notes.append(text)


def _check_classes(flag: str, features: FeatureSet) -> None:
    present = sorted({features.class_names[c] for c in np.unique(features.labels)})
    if len(present) < MIN_CLASSES:
        raise ZsarError(f"{flag} {features.cache_dir} has {len(features)} video(s) of {len(present)} class(es) "
                        f"({', '.join(present)}); zero-shot needs videos of at least {MIN_CLASSES} classes: "
                        "extract a dataset with more classes")


def _note_same_texts(data: ProtocolData, features: FeatureSet, text: TextEmbeddings) -> None:
    """Note classes whose label texts are equal: their text embeddings are too, so nothing tells them apart."""
    by_text: dict[str, list[str]] = {}
    texts = text.subset(features.class_names).class_texts
    for name, class_text in zip(features.class_names, texts):
        by_text.setdefault(class_text, []).append(name)
    same = [(t, names) for t, names in by_text.items() if len(names) > 1]
    if same:
        shown = "; ".join(f"{', '.join(map(repr, names))} -> {t!r}" for t, names in same[:3])
        more = f" and {len(same) - 3} more" if len(same) > 3 else ""
        data.note(f"{len(same)} group(s) of classes in {features.cache_dir} share one label text ({shown}{more}): "
                  "their text embeddings are equal, so a zero-shot head cannot tell them apart")


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """A registered protocol: how many splits by default / at most, whether it trains on a source cache,
    its ``options`` type (a frozen dataclass: the options and their defaults, ``--protocol-opt KEY=VALUE``),
    the ``measures`` it adds to each split's accuracy (``zsar.metrics.measures``), for a cross protocol
    ``filter_classes``: the target classes the overlap filter runs against (None: all of them), and
    ``distinct_splits``: how many different splits it can draw on the data (None: no limit)."""

    name: str
    plan: Callable[[ProtocolData, int], Iterator[SplitPlan]]
    default_splits: int
    max_splits: int | None
    needs_source: bool
    options: type = NoOptions
    measures: tuple[str, ...] = ()
    filter_classes: Callable[[FeatureSet], list[str]] | None = None
    distinct_splits: Callable[[ProtocolData], int] | None = None


# Modules whose import registers more protocols; the registry imports them on first use (they build on this one).
PROTOCOL_MODULES = ("zsar.heads.clip_protocols",)
PROTOCOLS: Registry[Protocol] = Registry("protocol", modules=PROTOCOL_MODULES)


def register(name: str, default_splits: int, max_splits: int | None, needs_source: bool, help: str,
             options: type = NoOptions, measures: tuple[str, ...] = (),
             filter_classes: Callable[[FeatureSet], list[str]] | None = None,
             distinct_splits: Callable[[ProtocolData], int] | None = None):
    """Register ``plan`` as protocol ``name``; its splits pass through ``checked``."""
    def decorator(plan: Callable[[ProtocolData, int], Iterator[SplitPlan]]):
        @functools.wraps(plan)  # the plan's own name and module (``plan.__wrapped__``)
        def checked_plan(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
            return checked(data, name, plan(data, n_splits))

        protocol = Protocol(name=name, plan=checked_plan, default_splits=default_splits, max_splits=max_splits,
                            needs_source=needs_source, options=options, measures=measures,
                            filter_classes=filter_classes, distinct_splits=distinct_splits)
        PROTOCOLS.add(name, protocol, help=help)
        return plan

    return decorator


def within_plan(data: ProtocolData, split: int, train_rows: np.ndarray, test_rows: np.ndarray,
                 seen: np.ndarray, test_classes: np.ndarray) -> SplitPlan:
    """A plan inside one dataset: class indices are the target's own."""
    target, text = data.target, data.target_text
    return SplitPlan(split=split, class_names=target.class_names, seen=seen, model_key=f"split-{split}",
                     train=side_of(target, train_rows, np.flatnonzero(seen), text),
                     test=side_of(target, test_rows, test_classes, text))


def _halves(n_classes: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """``(seen mask, sorted unseen classes)`` of split ``split``."""
    unseen = np.sort(e2e_half_classes(n_classes, split))
    seen = np.ones(n_classes, dtype=bool)
    seen[unseen] = False
    return seen, unseen


def class_halves(data: ProtocolData) -> int:
    """How many different class halves (a half-class protocol's splits) the target's classes allow."""
    return comb(len(data.target.class_names), len(data.target.class_names) // 2)


def _note_repeats(data: ProtocolData, name: str, n_classes: int, n_splits: int) -> None:
    """Note when ``n_splits`` half-class draws repeat some halves (few classes, many splits)."""
    distinct = len({tuple(np.sort(e2e_half_classes(n_classes, i))) for i in range(n_splits)})
    if distinct < n_splits:
        data.note(f"{name}: only {distinct} distinct split(s) among the {n_splits} asked ({n_classes} classes have "
                  f"{comb(n_classes, n_classes // 2)} halves); repeated splits understate the std: pass --splits "
                  "fewer, or use more classes")


def checked(data: ProtocolData, name: str, plans: Iterator[SplitPlan]) -> Iterator[SplitPlan]:
    """``plans``, each refused if it has too few videos to train or none to test, noted if it has 1 candidate."""
    for plan in plans:
        n_train, n_test = len(plan.train.rows), len(plan.test.rows)
        if n_train < MIN_TRAIN_VIDEOS or n_test == 0:
            raise ZsarError(f"{name} split {plan.split} trains on {n_train} video(s) and tests on {n_test} "
                            f"({len(data.target)} videos in {len(data.target.class_names)} classes in "
                            f"{data.target.cache_dir}); a split needs at least {MIN_TRAIN_VIDEOS} training videos "
                            "and one test video: extract more videos per class")
        if len(plan.test.classes) == 1:
            data.note(f"{name}: split {plan.split} has a single candidate class "
                      f"({plan.class_names[int(plan.test.classes[0])]!r}), so its top-1 is 100% by construction; "
                      "use more classes")
        yield plan


@register(WITHIN_HALF, 10, None, False, "half of one dataset's classes unseen, E2E's draw with seed i",
          distinct_splits=class_halves)
def within_half(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    labels = data.target.labels
    _note_repeats(data, WITHIN_HALF, len(data.target.class_names), n_splits)
    for split in range(n_splits):
        seen, unseen = _halves(len(data.target.class_names), split)
        yield within_plan(data, split, np.flatnonzero(seen[labels]), np.flatnonzero(~seen[labels]), seen, unseen)


@register(GZSL, 10, None, False, "within-half halves; test on held-out seen videos and all unseen ones",
          measures=("seen-unseen",), distinct_splits=class_halves)
def gzsl(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    labels = data.target.labels
    n_classes = len(data.target.class_names)
    _note_repeats(data, GZSL, n_classes, n_splits)
    for split in range(n_splits):
        seen, _ = _halves(n_classes, split)
        rng = np.random.RandomState(split)
        held_out = np.zeros(len(labels), dtype=bool)
        for c in np.flatnonzero(seen):
            members = rng.permutation(np.flatnonzero(labels == c))
            held_out[members[: int(round(GZSL_HOLDOUT * len(members)))]] = True
        train = np.flatnonzero(seen[labels] & ~held_out)
        test = np.flatnonzero(~seen[labels] | held_out)
        yield within_plan(data, split, train, test, seen, np.arange(n_classes))


@dataclass
class SourceSide:
    """The training side of a cross protocol: the source classes that pass the overlap filter."""

    names: list[str]
    rows: np.ndarray
    targets: np.ndarray
    text: TextEmbeddings


def _filter_targets(data: ProtocolData) -> tuple[np.ndarray, list[str]]:
    """The label embeddings ``(T, Dt)`` and names the source is filtered against (target, then overlap sets)."""
    target = data.target_filter_text or data.target_text
    if data.filter_classes is not None:
        target = target.subset(data.filter_classes)
    texts = [target, *data.overlap_text]
    return np.concatenate([t.mean for t in texts]), [n for t in texts for n in t.class_names]


def _source_filter_text(data: ProtocolData) -> TextEmbeddings:
    text = data.source_filter_text or data.source_text
    assert text is not None, "cross protocols need a source cache"
    return text


def source_mask(data: ProtocolData) -> np.ndarray:
    """``(S,)``: which source classes pass the overlap filter against the target and every overlap set."""
    return overlap_filter(_source_filter_text(data).mean, _filter_targets(data)[0], data.tau)


def source_filter_record(data: ProtocolData) -> dict[str, Any]:
    """What a run records about the filter: its text, the overlap sets' text (file, key), the kept source classes."""
    if data.source is None:
        return {}
    keep = source_mask(data)
    text = _source_filter_text(data)
    return {"filter_text": {"text": text.file_stem, "text_key": text.key, "text_encoder": text.encoder},
            "overlap_with": [{"text": t.file_stem, "text_key": t.key, "n_classes": len(t.class_names)}
                             for t in data.overlap_text],
            "source_classes": [data.source.class_names[c] for c in np.flatnonzero(keep)]}


def _log_filter(data: ProtocolData, keep: np.ndarray) -> None:
    """Log (INFO) each dropped source class with its nearest filter class, then the kept ones."""
    source_text = _source_filter_text(data)
    targets, names = _filter_targets(data)
    distance = overlap_distances(source_text.mean, targets)
    nearest = distance.argmin(axis=1)
    n_target = len(names) - sum(len(t.class_names) for t in data.overlap_text)
    against = f"the target's {n_target} classes" + (f" and {len(names) - n_target} of --overlap-with"
                                                     if data.overlap_text else "")
    log.info("overlap filter (tau %.3g, text %s) against %s: training on %d of %d source classes",
             data.tau, source_text.file_stem, against, int(keep.sum()), len(keep))
    for c in np.flatnonzero(~keep):
        log.info("  dropped %r: cosine distance %.3f to %r", source_text.class_names[c],
                 distance[c, nearest[c]], names[nearest[c]])
    log.info("kept source classes: %s", "; ".join(n for n, k in zip(source_text.class_names, keep) if k))


def source_side(data: ProtocolData) -> SourceSide:
    source, text = data.source, data.source_text
    assert source is not None and text is not None, "cross protocols need a source cache"
    keep = source_mask(data)
    if not keep.any():
        raise ZsarError(f"the overlap filter (--tau {data.tau}) drops every source class; lower --tau")
    kept = np.flatnonzero(keep)
    _log_filter(data, keep)
    rows = np.flatnonzero(keep[source.labels])
    prefix = source.config.dataset or "source"
    return SourceSide([f"{prefix}/{source.class_names[c]}" for c in kept], rows,
                      positions(source.labels[rows], kept), text.subset([source.class_names[c] for c in kept]))


def cross_plan(data: ProtocolData, side: SourceSide, split: int, test_rows: np.ndarray,
                test_classes: np.ndarray) -> SplitPlan:
    """A plan that trains on the source side and tests ``test_rows`` of the target among ``test_classes``."""
    target, n_seen = data.target, len(side.names)
    seen = np.r_[np.ones(n_seen, dtype=bool), np.zeros(len(target.class_names), dtype=bool)]
    assert data.source is not None
    train = Side(cache=data.source, rows=side.rows, labels=side.targets, classes=np.arange(n_seen), text=side.text)
    return SplitPlan(split=split, class_names=side.names + list(target.class_names), seen=seen, train=train,
                     test=side_of(target, test_rows, test_classes, data.target_text, offset=n_seen),
                     model_key=SHARED_MODEL)


@register(CROSS_HALF, 10, None, True, "train on --source-features, test on half the target classes (E2E)",
          options=E2EOptions, distinct_splits=class_halves)
def cross_half(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    side = source_side(data)
    labels = data.target.labels
    _note_repeats(data, CROSS_HALF, len(data.target.class_names), n_splits)
    for split in range(n_splits):
        seen, unseen = _halves(len(data.target.class_names), split)
        yield cross_plan(data, side, split, np.flatnonzero(~seen[labels]), unseen)


@register("cross-full", 1, 1, True, "train on --source-features, test on all target classes (E2E)",
          options=E2EOptions)
def cross_full(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    side = source_side(data)
    yield cross_plan(data, side, 0, np.arange(len(data.target)), np.arange(len(data.target.class_names)))


@register("official", 3, 3, True, "train on --source-features, test on the target's official split 1..3",
          options=SourceOptions)
def official(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    target = data.target
    have = [s for s in range(1, 4) if (target.splits.get(f"split{s}", np.array([])) == "test").any()]
    if len(have) < n_splits:
        raise ZsarError(f"--splits {n_splits}: the target cache {target.cache_dir} has official test "
                        f"videos for {len(have)} split(s) ({have}); pass --splits {len(have) or 1} or fewer")
    side = source_side(data)
    for split in have[:n_splits]:
        test_rows = np.flatnonzero(target.splits[f"split{split}"] == "test")
        yield cross_plan(data, side, split, test_rows, np.arange(len(target.class_names)))
