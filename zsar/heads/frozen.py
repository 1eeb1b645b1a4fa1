"""The training-free ``frozen`` head: the backbone's own zero-shot in its joint video-text space.

The first row of the CLIP-era tables ("frozen CLIP": ActionCLIP, X-CLIP, ViFi-CLIP,
Open-VCLIP, FROSTER) and the first check of a CLIP extraction. The tables do not all pool
and ensemble alike, so both steps are options (``docs/clip-era.md`` gives each row's recipe):

- ``pool`` (how a video's frames become one vector): ``normalised-mean`` (default) is the
  normalised mean over clips and frames of the L2-normalised frame features. FROSTER's
  frozen row ranks classes this way: it averages per-frame cosines over frames and sums
  them over views (``clip_video_model.py``), and a mean of cosines to one class vector
  orders the classes as the cosine to the mean of the unit frames does. ``raw-mean``
  averages the raw frame features, then normalises: ViFi-CLIP's vanilla-CLIP row
  (``trainers/vificlip.py``) and ActionCLIP's ``meanP``. The two differ where frames of
  one video have different norms;
- a class is its prompt ensemble. ``ensemble="embedding"`` (default, the CLIP paper's
  ensembling and FROSTER's ``achieve_csf_matrix``): the cosine to the normalised mean of the
  normalised prompt embeddings; ``"probability"`` (ActionCLIP's ``test.py``): the softmax
  over classes of ``scale`` x the cosine to each prompt, averaged over prompts (``scale``
  100, CLIP's pretrained ``logit_scale.exp()``).

It has no parameters, is never trained and never selects anything, so it runs under every
protocol in seconds: the run's training videos are only embedded. It needs features and
label text from one joint space (``HeadDims.shared_space``: the cache's ``space`` equals
the text's); ``zsar train-head`` refuses any other pair and names the cache's texts that
would fit. ``frozen_scores`` is the same rule as a pure function of cached arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from zsar.cache.features import FeatureSet
from zsar.cache.layout import open_layout
from zsar.cache.text import TextEmbeddings, list_text_files, read_text_embeddings
from zsar.errors import ZsarError, check_choice
from zsar.heads.base import HEADS, SHARED_SPACE_BASELINE, ClassText, Head, HeadDims, l2_normalise

CLIP_LOGIT_SCALE = 100.0  # CLIP's pretrained logit_scale.exp(), also its cap
ENSEMBLES = ("embedding", "probability")
POOLS = ("normalised-mean", "raw-mean")


@dataclass(frozen=True)
class FrozenConfig:
    """``ensemble``: ``embedding`` (CLIP's normalised mean of prompts) or ``probability`` (ActionCLIP's
    mean of per-prompt softmaxes at logit ``scale``); ``pool``: ``normalised-mean`` (mean of the unit
    frame features, FROSTER's ranking) or ``raw-mean`` (mean of the raw ones, ViFi-CLIP's vanilla row)."""

    ensemble: str = "embedding"
    scale: float = CLIP_LOGIT_SCALE
    pool: str = "normalised-mean"


def check_ensemble(owner: str, ensemble: str) -> None:
    """Refuse an unknown prompt-ensemble rule in one line."""
    check_choice(f"{owner} ensemble", ensemble, ENSEMBLES)


def check_pool(pool: str) -> None:
    """Refuse an unknown frame-pooling rule in one line."""
    check_choice("frozen pool", pool, POOLS)


def pool_frames(video: Tensor, pool: str) -> Tensor:
    """The frame features ``(..., D)`` as ``pool`` averages them: unit vectors (``normalised-mean``) or raw."""
    check_pool(pool)
    return l2_normalise(video) if pool == "normalised-mean" else video


def pool_video(video: Tensor, pool: str = "normalised-mean") -> Tensor:
    """``(N, clips, T', D)`` -> ``(N, D)``: the normalised clip and frame mean of the features, each frame
    normalised first (``normalised-mean``) or not (``raw-mean``)."""
    return l2_normalise(pool_frames(video.float(), pool).mean(dim=(1, 2)))


def ensemble_scores(videos: Tensor, views: Tensor, ensemble: str, scale: float | Tensor) -> Tensor:
    """``(N, E)`` unit videos x ``(C, V, E)`` unit class views -> ``(N, C)`` prompt-ensemble scores.

    ``embedding``: cosine to each class's normalised mean view; ``probability``: softmax over
    classes of ``scale`` x cosine, per view, averaged over the views.
    """
    check_ensemble("prompt", ensemble)
    if ensemble == "embedding":
        return videos @ l2_normalise(views.mean(dim=1)).T
    logits = scale * torch.einsum("ne,cpe->pnc", videos, views)
    return torch.softmax(logits, dim=-1).mean(dim=0)


def frozen_scores(video: Tensor, prompts: Tensor, ensemble: str = "embedding",
                  scale: float = CLIP_LOGIT_SCALE, pool: str = "normalised-mean") -> Tensor:
    """Training-free zero-shot scores ``(N, C)`` of cached features ``(N, clips, T', D)`` against
    prompt embeddings ``(C, P, D)`` of the same joint space (see the module docstring)."""
    if video.shape[-1] != prompts.shape[-1]:
        raise ZsarError(f"frozen scores: the features are {video.shape[-1]}-d and the prompts "
                        f"{prompts.shape[-1]}-d; use label text of the features' own space")
    return ensemble_scores(pool_video(video, pool), l2_normalise(prompts.float()), ensemble, scale)


def shares_space(features: FeatureSet, text: TextEmbeddings) -> bool:
    """Whether the cache's features and ``text`` come from one joint space (its ``space``, non-empty, equal)."""
    return bool(features.config.space) and features.config.space == text.space


def check_shared_space(head: str, flag: str, features: FeatureSet, text: TextEmbeddings) -> None:
    """Refuse, in one line, features and text of different spaces for ``head``; name the cache's texts that fit."""
    if shares_space(features, text):
        return
    space = features.config.space
    fits = [] if not space or features.cache_dir is None else [
        path.stem for path in list_text_files(open_layout(features.cache_dir))
        if read_text_embeddings(path).space == space]
    fix = (f"pass --text {fits[0]}" if fits else
           "extract the text of the features' space (`zsar extract ... --text-encoder clip`)" if space else
           "extract CLIP features with CLIP text (`zsar extract --backbone clip-vit-b16 --text-encoder clip`), "
           "or use a trained head")
    raise ZsarError(f"--head {head}: {flag} {features.cache_dir} has features of space {space or 'none'!r} and "
                    f"text {text.file_stem} of space {text.space or 'none'!r}; it needs one joint space: {fix}")


@HEADS.register("frozen", help="training-free: the backbone's own zero-shot (frame mean, cosine to the prompt "
                "ensemble; pool=raw-mean averages raw frames); needs a shared video-text space",
                tags=(SHARED_SPACE_BASELINE,))
class FrozenHead(Head):
    Config = FrozenConfig
    training_free = True
    needs_shared_space = True

    def __init__(self, dims: HeadDims, config: FrozenConfig) -> None:
        super().__init__(dims, config)
        check_ensemble("frozen", config.ensemble)
        check_pool(config.pool)
        if not 0 < config.scale <= CLIP_LOGIT_SCALE:
            raise ZsarError(f"frozen scale={config.scale}: must be in (0, {CLIP_LOGIT_SCALE:g}]")
        if not dims.shared_space or dims.video_dim != dims.text_dim:
            raise ZsarError(f"the frozen head needs video features and label text of one joint space (got "
                            f"{dims.video_dim}-d features, {dims.text_dim}-d text, shared space "
                            f"{dims.shared_space}); pick the text of the features' space with --text NAME")

    def standardise(self, video: Tensor) -> Tensor:
        """No training statistics: each frame is L2-normalised (``normalised-mean``) or kept raw (``raw-mean``)."""
        return pool_frames(video, self.config.pool)

    def encode_clips(self, clips: Tensor) -> Tensor:
        return clips.mean(dim=1)

    def embed_classes(self, text: ClassText) -> Tensor:
        return l2_normalise(text.prompts)

    @property
    def softmax_scale(self) -> float | None:
        """CLIP's logit scale (``scale``); None with the ``probability`` ensemble (its scores are probabilities)."""
        return None if self.config.ensemble == "probability" else float(self.config.scale)

    def scores(self, videos: Tensor, views: Tensor) -> Tensor:
        return ensemble_scores(videos, views, self.config.ensemble, self.config.scale)

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        raise ZsarError("the frozen head is training-free and has no loss; train another head (`zsar heads`)")
