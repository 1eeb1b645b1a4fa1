"""PNG plots of a run's metrics (matplotlib, non-interactive Agg backend).

Every figure pools the run's splits: per-class accuracy and the confusion matrix are taken
over every split in which a class was a test class, ``N_k`` histograms stack every split's
counts. Class names are written where they fit (up to ``MAX_NAMED_CLASSES``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from zsar.files import write_error  # noqa: E402
from zsar.metrics.hubness_measure import PROTOTYPES, SETTING_TITLES  # noqa: E402
from zsar.metrics.measure import MeasuredRun  # noqa: E402
from zsar.metrics.hubness import hubness_stats  # noqa: E402

MAX_NAMED_CLASSES = 60
MAX_ANNOTATED_CLASSES = 15
MAX_BARS = 60
DPI = 110
PLOTS_FIX = "make the run folder writable (or copy the run elsewhere), or drop --plots"


def write_plots(metrics: MeasuredRun, folder: Path) -> dict[str, Path]:
    """Write every plot of ``metrics`` into ``folder``; returns ``{name: path}`` in report order."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only run folder
        raise write_error(folder, err, PLOTS_FIX) from None
    paths: dict[str, Path] = {}
    if any(s.accuracy is not None for s in metrics.splits):
        names, per_class, confusion = pooled_accuracy(metrics)
        paths["accuracy per split"] = _save(_accuracy_per_split(metrics), folder / "accuracy_per_split.png")
        paths["per-class accuracy"] = _save(_per_class_bars(names, per_class), folder / "per_class_accuracy.png")
        paths["confusion matrix"] = _save(_confusion(names, confusion, len(metrics.splits)),
                                          folder / "confusion_matrix.png")
    ks = sorted({k for s in metrics.splits for by_k in s.occurrence.values() for k in by_k})
    for k in ks:
        paths[f"N_{k} histogram"] = _save(_occurrence_histograms(metrics, k), folder / f"hubness_k{k}.png")
    return paths


def pooled_accuracy(metrics: MeasuredRun) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Class names, per-class top-1 percent ``(C,)`` and confusion counts ``(C, C)`` over all splits."""
    names = sorted({n for s in metrics.splits for n in s.class_names})
    position = {n: i for i, n in enumerate(names)}
    confusion = np.zeros((len(names), len(names)), dtype=np.int64)
    for s in metrics.splits:
        rows = np.array([position[n] for n in s.class_names])
        confusion[np.ix_(rows, rows)] += s.accuracy.confusion
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = 100.0 * np.diag(confusion) / confusion.sum(axis=1)
    return names, per_class, confusion


def _save(fig: plt.Figure, path: Path) -> Path:
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    except OSError as err:  # a read-only run folder, a full disk
        raise write_error(path, err, PLOTS_FIX) from None
    finally:
        plt.close(fig)
    return path


def _accuracy_per_split(metrics: MeasuredRun) -> plt.Figure:
    splits = [s.split for s in metrics.splits]
    top1 = np.array([s.accuracy.top1 for s in metrics.splits])
    top5 = np.array([s.accuracy.top5 for s in metrics.splits])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(splits) + 2.5), 4))
    x = np.arange(len(splits))
    for offset, values, label in ((-0.2, top1, "top-1"), (0.2, top5, "top-5")):
        bars = ax.bar(x + offset, values, width=0.4,
                      label=f"{label} (mean {values.mean():.1f} ± {values.std():.1f})")
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, [str(s) for s in splits])
    ax.set(xlabel="split", ylabel="accuracy (%)", ylim=(0, 118), yticks=range(0, 101, 20),
           title=f"Accuracy per split ({metrics.head or 'head'}, {metrics.protocol or 'protocol'})")
    ax.legend(loc="upper center", ncol=2, fontsize=8)
    return fig


def _per_class_bars(names: list[str], per_class: np.ndarray) -> plt.Figure:
    order = np.argsort(per_class, kind="stable")
    title = "Top-1 accuracy per class\n(pooled over the splits in which it is a test class)"
    y = np.arange(min(len(order), MAX_BARS), dtype=float)
    half = MAX_BARS // 2
    if len(order) > MAX_BARS:
        order = np.concatenate([order[:half], order[-half:]])
        title += f":\nthe {half} worst and the {half} best of {len(names)} classes"
        y[half:] += 1.5  # a gap between the worst and the best
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.24 * len(order) + 1.5)))
    bars = ax.barh(y, per_class[order], color="tab:blue")
    ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_yticks(y, [names[i] for i in order], fontsize=8)
    if len(order) < len(names):
        ax.axhline(y[half] - 1.25, color="grey", linewidth=0.8, linestyle=":")
    ax.axvline(np.nanmean(per_class), color="black", linestyle="--", linewidth=1,
               label=f"mean over all {len(names)} classes: {np.nanmean(per_class):.1f}%")
    ax.set(xlabel="top-1 accuracy (%)", xlim=(0, 105), title=title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _confusion(names: list[str], confusion: np.ndarray, n_splits: int) -> plt.Figure:
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = 100.0 * confusion / confusion.sum(axis=1, keepdims=True)
    size = min(14.0, max(5.0, 0.28 * len(names) + 3))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(np.nan_to_num(rows), cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="% of the true class's videos")
    if len(names) <= MAX_ANNOTATED_CLASSES:
        for (row, col), value in np.ndenumerate(np.nan_to_num(rows)):
            if value >= 0.5:
                ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 50 else "black")
    named = len(names) <= MAX_NAMED_CLASSES
    if named:
        ticks, fontsize = np.arange(len(names)), 7 if len(names) <= 30 else 6
        ax.set_xticks(ticks, names, rotation=90, fontsize=fontsize)
        ax.set_yticks(ticks, names, fontsize=fontsize)
    which = "" if named else " (index in the alphabetical class list)"
    ax.set(xlabel=f"predicted class{which}", ylabel=f"true class{which}",
           title=f"Confusion matrix (row-normalised, {n_splits} split(s) pooled)")
    return fig


def _occurrence_histograms(metrics: MeasuredRun, k: int) -> plt.Figure:
    settings = [s for s in SETTING_TITLES if any(k in m.occurrence.get(s, {}) for m in metrics.splits)]
    pooled = len(metrics.splits) > 1
    fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4.2), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        measured = [m for m in metrics.splits if k in m.occurrence.get(setting, {})]
        per_split = [m.occurrence[setting][k] for m in measured]
        counts = np.concatenate(per_split)
        skewness = np.mean([hubness_stats(n_k, k).skewness for n_k in per_split])
        top = int(counts.max())
        ax.hist(counts, bins=np.arange(top + 2) - 0.5 if top <= MAX_BARS else 30, color="tab:purple")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axvline(counts.mean(), color="black", linestyle="--", linewidth=1, label=f"mean N_{k} = {counts.mean():.1f}")
        if setting == PROTOTYPES:  # name the class that absorbs the most videos
            split = max(measured, key=lambda m: m.occurrence[setting][k].max())
            hub = int(split.occurrence[setting][k].argmax())
            ax.plot([], [], " ", label=f"largest: {split.class_names[hub]!r} (N_{k} = {top})")
        ax.set(xlabel=f"N_{k}: number of videos that have the target among their {k} nearest",
               ylabel="number of targets",
               title=f"{SETTING_TITLES[setting]}\nskewness {skewness:.2f}" + (" (mean over splits)" if pooled else ""))
        ax.legend(fontsize=8)
    fig.suptitle(f"k-occurrence N_{k}" + (f" ({len(metrics.splits)} splits pooled)" if pooled else ""))
    fig.tight_layout()
    return fig
