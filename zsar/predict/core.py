"""``run_predict(PredictConfig(...))``: recognise actions in the user's videos among the user's labels.

The flow, every check that needs no decoding first::

    labels (parsed and checked), the head, backbone and text encoder (a run's, or a training-free choice:
        the frozen head's joint-space pair, the objects head's classifier), the videos (found, named),
        the run (every file checked), the weights (here, or downloadable now)
    videos [+ windows] --> a list (Parquet: any file name) --> zsar.extract, dataset ``videos``
        with the run's backbone, weights, sampling, resolution, precision, decoder and resize
        --> the per-file cache of that setting: only the videos (and windows) it has no current row for are decoded
    labels --> label text in that cache (the run's encoder and prompt templates; reused if there)
    the call's rows --> scores (the run's heads, split mean; or a training-free head) --> re-rank
        --> probabilities (softmax at the head's scale) --> top-k rows, windows as a timeline

Without a run the head is training-free (``zsar.predict.choice``). The cache sits under the
run's cache root by default (``--cache`` overrides it; without a run, ``$ZSAR_CACHE`` or
``~/.cache/zsar``): one cache per model setting (``zsar.extract.per_file``), which every call
with that setting extends and ``zsar extract --dataset videos`` reaches with the same
defaults. A video that fails to decode is a failed row with the decoder's message while
the others go on; one that decodes only in part is a ``partial`` row, left out unless
``allow_partial`` (``zsar.predict.cached``). A file whose name is not valid UTF-8 is a
failed row naming it (escaped) and the other videos go on; any other name (a newline in it)
goes through the Parquet list like the rest.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from pathlib import Path

import numpy as np
import torch

from zsar.cache.catalog import default_cache_root
from zsar.cache.config import read_cache_config
from zsar.cache.layout import CacheLayout
from zsar.cache.tables import write_table_columns
from zsar.devices import resolve_device
from zsar.errors import ZsarError
from zsar.extract.extractor import NO_TEXT, ExtractConfig, ExtractResult, extract
from zsar.extract.sampling import SamplingConfig
from zsar.predict.cached import read_call_rows
from zsar.predict.choice import check_weights, training_free_choice
from zsar.predict.config import PredictConfig
from zsar.predict.inputs import resolve_videos
from zsar.predict.label_text import TextSpec, label_text
from zsar.predict.model import RunModel, load_run_model
from zsar.predict.output import Predictions
from zsar.predict.rows import build_rows
from zsar.predict.scoring import call_scores
from zsar.predict.sheet import write_sheet
from zsar.predict.windows import Asked, WindowSpec, asked_videos

log = logging.getLogger(__name__)
LISTS_FOLDER = "predict-lists"
MODEL_ENCODERS = ("sentence-transformers", "word2vec")  # encoders whose run model id is also how to load it


def _write_list(cache_root: Path, asked: list[Asked]) -> Path:
    """A Parquet list (``path``, ``start``, ``end``) of every row to extract; named for this process alone."""
    paths, starts, ends = [], [], []
    for item in asked:
        if item.name_error:
            continue
        for start, end in [(math.nan, math.nan), *item.windows]:
            paths.append(str(item.video.path))
            starts.append(start)
            ends.append(end)
    folder = Path(cache_root).expanduser().absolute() / LISTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return write_table_columns(folder / f"videos-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet",
                               {"path": paths, "start": starts, "end": ends})


def _settings(config: PredictConfig, model: RunModel | None) -> dict:
    """The extraction settings: the run cache's (decoder and resize too), or the training-free backbone's."""
    if model is None:
        return dict(backbone=config.backbone, weights=config.weights, sampling=SamplingConfig(frames=config.frames))
    c = model.cache
    if not c.sampling_fields:
        raise ZsarError(f"run {model.run}: its cache {model.cache_dir} holds features made outside zsar "
                        "(no sampling settings), so new videos cannot be extracted the same way")
    weights = config.weights if config.weights is not None else Path(c.weights) if c.weights else None
    return dict(backbone=c.backbone, weights=weights, sampling=SamplingConfig(**c.sampling_fields),
                resolution=c.resolution, precision=c.precision or "fp32", resize=c.resize,
                decoder=c.decoder.removesuffix("-cuda"))


def _extract(config: PredictConfig, asked: list[Asked], model: RunModel | None, cache_root: Path) -> ExtractResult:
    """Extract (or find in the per-file cache) every video and window asked about."""
    listed = _write_list(cache_root, asked)
    try:
        result = extract(ExtractConfig(
            dataset="videos", root=listed, text_encoder=NO_TEXT, cache=cache_root, device=config.device,
            batch_size=config.batch_size, workers=config.workers, threads=config.threads,
            retry_failed=config.retry_failed, **_settings(config, model)))
    finally:
        listed.unlink(missing_ok=True)
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


def _check_weights(config: PredictConfig, model: RunModel | None, spec: TextSpec) -> None:
    settings = _settings(config, model)
    check_weights(settings["backbone"], settings["weights"], spec.encoder, spec.model)


def run_predict(config: PredictConfig) -> Predictions:
    """Predict ``config.labels`` for ``config.videos``; see the module docstring for the flow."""
    config, chosen = training_free_choice(config)
    videos = resolve_videos(config.videos)
    device = resolve_device(config.device)
    model = load_run_model(Path(config.run), config.split, config.cache, device) if config.run is not None else None
    spec = _text_spec(config, model)
    _check_weights(config, model, spec)
    asked, notes = asked_videos(videos, WindowSpec.of(config.window, config.stride))
    cache_root = Path(config.cache if config.cache is not None else
                      model.cache_root if model is not None else default_cache_root()).expanduser()
    result = _extract(config, asked, model, cache_root)
    layout = CacheLayout(result.cache_dir)
    text = label_text(layout, config.labels, spec, config.device)
    ids = [i for item in asked if not item.name_error for i in [item.video.video_id, *item.window_ids()]]
    rows = read_call_rows(layout, ids, config.allow_partial)
    windows = {i for item in asked for i in item.window_ids()}
    with torch.no_grad():
        scores, probabilities = call_scores(config, model, rows.features, text, device,
                                            np.array([v in windows for v in rows.features.video_ids], dtype=bool))
    name = f"run {model.run} ({model.head_name}, {len(model.splits)} split(s))" if model is not None else \
        f"{config.head} {config.backbone} + {config.text_encoder}"
    predictions = Predictions(rows=build_rows(asked, rows, scores, probabilities, config.labels, config.top_k),
                              label_names=config.labels.names, model=name, cache_dir=result.cache_dir,
                              decoded=result.ok + result.failed, reused=result.skipped, notes=notes)
    log.debug("%s", predictions.summary())
    if chosen is not None:
        predictions.notes.insert(0, chosen)
    _write(config, predictions)
    return predictions


def _write(config: PredictConfig, predictions: Predictions) -> None:
    """The ``--out`` file and the contact sheet's pages, if asked for."""
    if config.out is not None:
        predictions.written.append(predictions.write(config.out))
    if config.sheet is not None:
        rows = predictions.rows
        pages, left_off = write_sheet(rows, config.sheet, config.sheet_per_page, config.sheet_pages)
        predictions.written.extend(pages)
        if left_off:
            predictions.notes.append(f"the contact sheet shows the first {len(rows) - left_off} videos; {left_off} "
                                     f"more are left off (at most {config.sheet_pages} pages of "
                                     f"{config.sheet_per_page})")

