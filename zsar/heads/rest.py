"""A ResT-style cross-modal transformer head (after Lin et al., CVPR 2022).

ResT's code and exact configuration are not public (see docs/methods.md, section 4), so
this is our reading of the paper's description ("a cross-modal Transformer jointly encodes
video data and text labels"), with every size an option:

- Tokens: the T' frame features of a clip, and the label-text tokens of a class (the
  words of the label for word-vector encoders; for sentence encoders the P prompt
  embeddings in dual mode, their normalised mean, one token, in joint mode: the prompts
  are P whole sentences, not a sequence, and one token keeps a pair at T' + 2 tokens),
  each projected to ``width`` and given a modality embedding (video / text) and a
  learned position embedding (positions count within each modality).
- ``mode="joint"`` (default): one transformer reads the concatenation
  ``[match token; video tokens; text tokens]`` of a (video, class) pair, so every video
  token attends to the label's tokens and back; a linear layer on the match token's output
  is the pair's matching score. The same layers also encode a video's tokens alone (mean
  of the outputs, projected to ``embed_dim``): the video embedding of the visual prototype
  loss and of semantic transfer, and a class's tokens alone: the class's text embedding.
- ``mode="dual"``: the previous model, a shared-weight two-tower. The same layers encode
  the video tokens and the text tokens in two separate passes; nothing attends across
  modalities. ``--head-opt mode=dual`` reproduces it weight for weight (the joint-only
  parameters are created after all others, and only in joint mode).
- Training (both modes): matching of a video against the text embeddings of all training
  classes (cross-entropy on cosine logits times ``scale``) plus the visual prototype loss
  (the same against learnable visual class centres), weighted by ``prototype_weight``; the
  class generator may be added (``generator``). Joint mode adds the pair-matching loss:
  for ``match_videos`` videos of the batch, the cross-entropy of the pair scores of their
  own class against the ``match_classes - 1`` other training classes their embedding is
  most similar to now (hard negatives; every class when there are fewer), so a step scores
  at most ``match_videos x match_classes`` pairs whatever the number of classes.
- Zero-shot: the prototype path is the cosine to the class prototypes, by default
  composed by semantic transfer (``zsar.heads.transfer``) from the seen classes' visual
  prototypes. Joint mode fuses it with the pair scores of every (test video, candidate
  class) pair, computed in chunks of ``PAIR_CHUNK`` pairs:
  ``(1 - pair_weight) softmax(scale cos) + pair_weight softmax(pair scores)``; the default
  weight 0.25 was chosen by class-disjoint validation on the demo set (0.5: 3.3 points lower).

What is ours and not ResT's (not public): the match token, the one prompt-mean token, the
hard negatives, the fusion rule and weight, and keeping the shared-space matching loss in joint mode, so that text
embeddings and composed prototypes stay in the video embeddings' space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zsar.errors import ZsarError, check_choice
from zsar.heads.base import COSINE_LOGIT_SCALE, HEADS, ClassText, Head, HeadDims, l2_normalise
from zsar.heads.generator import NO_GENERATOR, ClassGenerator, VisualCentres
from zsar.heads.losses import ScaledCosineCELoss

VIDEO, TEXT = 0, 1
REST_MODES = ("joint", "dual")
PAIR_CHUNK = 2048  # (video, class) pairs per forward pass when scoring pairs


@dataclass(frozen=True, kw_only=True)
class ResTConfig:
    """Transformer width, depth, attention heads, FFN multiple, joint dim, token limit, losses;
    ``mode`` (``joint``/``dual``) and joint mode's pair matching and score fusion."""

    width: int = 128
    layers: int = 1
    heads: int = 4
    ff_mult: int = 2
    embed_dim: int = 256
    max_tokens: int = 64
    dropout: float = 0.0
    scale: float = COSINE_LOGIT_SCALE
    prototype_weight: float = 1.0
    generator: str = NO_GENERATOR
    mode: str = "joint"
    match_videos: int = 32
    match_classes: int = 8
    pair_weight: float = 0.25  # chosen by class-disjoint validation (README, "How the defaults were chosen")


@HEADS.register("rest", help="ResT-style cross-modal transformer (joint pair encoder, or mode=dual), matching + "
                "prototype loss, semantic transfer")
class ResTHead(Head):
    Config = ResTConfig
    has_centres = True
    default_transfer = "semantic"
    tiny_options = {"width": 16, "heads": 2, "embed_dim": 12, "generator": "interpolate"}
    costly = True  # joint pair scoring: among the slowest per step (docs/benchmarks.md)

    def __init__(self, dims: HeadDims, config: ResTConfig) -> None:
        super().__init__(dims, config)
        _check_config(config)
        self._check_tokens(dims.frames, "frames per clip")
        self.video_in = nn.Linear(dims.video_dim, config.width)
        self.text_in = nn.Linear(dims.text_dim, config.width)
        self.modality = nn.Embedding(2, config.width)
        self.position = nn.Parameter(torch.randn(config.max_tokens, config.width) * 0.02)
        layer = nn.TransformerEncoderLayer(config.width, config.heads, config.ff_mult * config.width,
                                           dropout=config.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.out = nn.Linear(config.width, config.embed_dim)
        self.centres = VisualCentres(dims.n_classes, config.embed_dim)
        self.criterion = ScaledCosineCELoss(config.scale)
        self.generator = None if config.generator == NO_GENERATOR else ClassGenerator(config.generator, config.scale)
        if config.mode == "joint":  # created last, so that dual mode draws the same initial weights as before
            self.match_token = nn.Parameter(torch.randn(config.width) * 0.02)
            self.match_out = nn.Linear(config.width, 1)

    @property
    def scores_pairs(self) -> bool:
        return self.config.mode == "joint"

    @property
    def softmax_scale(self) -> float:
        return float(self.config.scale)

    def _check_tokens(self, n: int, what: str) -> None:
        if n > self.config.max_tokens:
            raise ZsarError(f"rest max_tokens={self.config.max_tokens} is less than the {n} {what}; "
                            f"raise max_tokens to at least {n}")

    def _embed(self, tokens: Tensor, modality: int) -> Tensor:
        """Projected tokens ``(B, L, width)`` plus the modality's embedding and positions ``0..L-1``."""
        self._check_tokens(tokens.shape[1], "tokens")
        return tokens + self.modality.weight[modality] + self.position[: tokens.shape[1]]

    def _encode(self, x: Tensor, mask: Tensor) -> Tensor:
        """Embedded tokens ``(B, L, width)`` with ``mask`` ``(B, L)`` (True: real) -> ``(B, embed_dim)``."""
        x = self.norm(self.encoder(x, src_key_padding_mask=~mask))
        weights = mask.to(x.dtype)[..., None]
        return self.out((x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1))

    def _video_tokens(self, clips: Tensor) -> Tensor:
        return self._embed(self.video_in(clips), VIDEO)

    def _text_tokens(self, text: ClassText) -> tuple[Tensor, Tensor]:
        """Embedded text tokens ``(C, L, width)`` and mask: the words; else the prompts (dual) or their mean (joint)."""
        if self.scores_pairs and text.words is None:
            tokens = text.mean[:, None]
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        else:
            tokens, mask = text.tokens()
        return self._embed(self.text_in(tokens), TEXT), mask

    def encode_clips(self, clips: Tensor) -> Tensor:
        mask = torch.ones(clips.shape[:2], dtype=torch.bool, device=clips.device)
        return self._encode(self._video_tokens(clips), mask)

    def embed_classes(self, text: ClassText) -> Tensor:
        tokens, mask = self._text_tokens(text)
        return l2_normalise(self._encode(tokens, mask))[:, None]

    def _pair_logits(self, video: Tensor, text: Tensor, text_mask: Tensor, v: Tensor, c: Tensor) -> Tensor:
        """Matching scores ``(P,)`` of the pairs (``video[v[p]]``, ``text[c[p]]``).

        ``video`` ``(B, T', width)`` and ``text`` ``(C, L, width)`` embedded tokens,
        ``text_mask`` ``(C, L)``.
        """
        match = self.match_token.expand(len(v), 1, -1)
        sequence = torch.cat([match, video[v], text[c]], dim=1)
        real = torch.ones(len(v), 1 + video.shape[1], dtype=torch.bool, device=video.device)
        mask = torch.cat([real, text_mask[c]], dim=1)
        x = self.norm(self.encoder(sequence, src_key_padding_mask=~mask))
        return self.match_out(x[:, 0]).squeeze(-1)

    def pair_scores(self, video: Tensor, text: ClassText) -> Tensor:
        """``(B, C)`` matching scores of videos ``(B, clips, T', D)`` (cached features) with C classes.

        Each clip is paired with each class, ``PAIR_CHUNK`` pairs at a time; a video's score
        is the mean over its clips.
        """
        if not self.scores_pairs:
            raise ZsarError("rest mode=dual has no pair scores; use mode=joint")
        b, k = video.shape[:2]
        tokens = self._video_tokens(self.standardise(video).flatten(0, 1))
        text_tokens, text_mask = self._text_tokens(text)
        n_classes = text_tokens.shape[0]
        pairs = torch.arange(b * k * n_classes, device=video.device)
        # written in place: a list of small chunk results to concatenate pins freed activations (heap
        # fragmentation), 7.8 GB for 1,000 videos x 600 classes against 0.8 GB so
        logits = torch.empty(len(pairs), dtype=tokens.dtype, device=video.device)
        for chunk in pairs.split(PAIR_CHUNK):
            logits[chunk] = self._pair_logits(tokens, text_tokens, text_mask, chunk // n_classes, chunk % n_classes)
        return logits.view(b, k, n_classes).mean(dim=1)

    def fuse(self, scores: Tensor, pairs: Tensor) -> Tensor:
        """Zero-shot scores ``(N, C)`` from cosine ``scores`` and pair scores ``pairs`` (both ``(N, C)``)."""
        w = self.config.pair_weight
        return (1 - w) * torch.softmax(self.config.scale * scores, dim=1) + w * torch.softmax(pairs, dim=1)

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        z = self.embed_video(video)
        text_tokens, text_mask = self._text_tokens(text)  # once: the class embeddings and the pairs share them
        class_text = l2_normalise(self._encode(text_tokens, text_mask))
        loss = self.criterion(z, class_text, targets)
        loss = loss + self.config.prototype_weight * self.criterion(z, self.centres(), targets)
        if self.generator is not None:
            loss = loss + self.generator(class_text, self.centres(), rng)
        if self.scores_pairs:
            loss = loss + self._matching_loss(video, z, class_text, targets, text_tokens, text_mask)
        return loss

    def _matching_loss(self, video: Tensor, z: Tensor, class_text: Tensor, targets: Tensor, text_tokens: Tensor,
                       text_mask: Tensor) -> Tensor:
        """Cross-entropy of each of the first ``match_videos`` videos' pair scores: own class vs hard negatives."""
        m, n_classes = min(self.config.match_videos, len(targets)), class_text.shape[0]
        own = targets[:m]
        if n_classes <= self.config.match_classes:
            candidates, answer = torch.arange(n_classes, device=z.device).expand(m, -1), own
        else:
            with torch.no_grad():
                similar = z[:m] @ l2_normalise(class_text).T
                similar[torch.arange(m, device=z.device), own] = -torch.inf
                negatives = similar.topk(self.config.match_classes - 1, dim=1).indices
            candidates, answer = torch.cat([own[:, None], negatives], dim=1), torch.zeros_like(own)
        b, k = video[:m].shape[:2]
        tokens = self._video_tokens(self.standardise(video[:m]).flatten(0, 1))
        per_clip = candidates.repeat_interleave(k, dim=0)  # (m * k, K): the clips of a video share its candidates
        v = torch.arange(b * k, device=z.device)[:, None].expand_as(per_clip)
        logits = self._pair_logits(tokens, text_tokens, text_mask, v.flatten(), per_clip.flatten())
        return F.cross_entropy(logits.view(b, k, -1).mean(dim=1), answer)


def _check_config(config: ResTConfig) -> None:
    if config.width % config.heads:
        raise ZsarError(f"rest heads={config.heads} does not divide width={config.width}; choose a divisor")
    check_choice("rest mode", config.mode, REST_MODES)
    if config.match_videos < 1 or config.match_classes < 2:
        raise ZsarError(f"rest match_videos={config.match_videos}, match_classes={config.match_classes}: "
                        "need at least 1 video and 2 classes (its own and one other)")
    if not 0 <= config.pair_weight <= 1:
        raise ZsarError(f"rest pair_weight={config.pair_weight}: must be in [0, 1]")
