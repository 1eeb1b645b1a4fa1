"""``PredictConfig``: everything ``zsar predict`` takes, one field per flag, checked as it is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zsar.errors import ZsarError
from zsar.heads.rerank import RERANKERS
from zsar.predict.inputs import Labels
from zsar.predict.sheet import MAX_PAGES, PER_PAGE
from zsar.predict.windows import WindowSpec

FROZEN_ONLY = ("head", "text_encoder", "prompts", "frames", "ensemble")  # set by a run; the training-free heads'
FROZEN_DEFAULTS = {"prompts": "actionclip", "frames": 8, "ensemble": "embedding"}


@dataclass(frozen=True, kw_only=True)
class PredictConfig:
    """Everything ``zsar predict`` takes (one field per flag; see ``zsar predict --help``).

    Either ``run`` (a ``zsar train-head`` run: every model setting comes from it) or a
    training-free ``head`` on ``backbone``'s features (``zsar.predict.choice``); ``None`` for
    both picks them. ``split``: one split's model of a multi-split run; ``None`` averages every
    split's scores. ``text_encoder``, ``prompts``, ``frames``, ``ensemble``: the training-free
    heads' (``None``: their defaults, ``FROZEN_DEFAULTS``); a run sets them itself and refuses them.
    ``weights``: where the backbone's weights are (with a run: where they are now, if not where the
    run's cache recorded; they must be the same weights). ``window``/``stride``: seconds of each
    window of a timeline and between their starts (``zsar.predict.windows``). ``allow_partial``:
    score videos that decoded only in part. ``out``: a ``.jsonl``/``.csv``/``.parquet`` file to
    write; ``sheet``: the contact sheet's first page. ``retry_failed``: decode again the videos
    that failed in an earlier call.
    """

    videos: tuple[str, ...]
    labels: Labels
    run: Path | None = None
    split: int | None = None
    head: str | None = None
    backbone: str | None = None
    weights: Path | None = None
    text_encoder: str | None = None
    text_model: str | None = None
    prompts: str | None = None
    frames: int | None = None
    ensemble: str | None = None
    top_k: int = 5
    rerank: str = "none"
    window: float | None = None
    stride: float | None = None
    allow_partial: bool = False
    cache: Path | None = None
    device: str = "cpu"
    workers: int | None = None
    batch_size: int | None = None
    threads: int | None = None
    retry_failed: bool = False
    out: Path | None = None
    sheet: Path | None = None
    sheet_per_page: int = PER_PAGE
    sheet_pages: int = MAX_PAGES

    def __post_init__(self) -> None:
        if self.run is not None and self.backbone is not None:
            raise ZsarError("give either --run RUN (a trained head) or --backbone NAME (a training-free head, e.g. "
                            "--backbone clip-vit-b16 --text-encoder clip), not both")
        if self.top_k < 1:
            raise ZsarError(f"--top-k {self.top_k}: must be at least 1")
        if self.run is None and self.split is not None:
            raise ZsarError("--split picks a split of a trained run; pass --run or drop --split")
        given = [f"--{n.replace('_', '-')}" for n in FROZEN_ONLY if getattr(self, n) is not None]
        if self.run is not None and given:
            raise ZsarError(f"{', '.join(given)}: a run fixes its backbone, text encoder, prompts, frames and head; "
                            "drop them, or drop --run to use a training-free head")
        if self.run is None:
            for name, value in FROZEN_DEFAULTS.items():
                if getattr(self, name) is None:
                    object.__setattr__(self, name, value)
        WindowSpec.of(self.window, self.stride)
        RERANKERS.entry(self.rerank)
