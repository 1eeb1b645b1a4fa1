"""The ``objects`` head's vocabulary of a cache: the backbone's classifier and its object names as label text.

``add_object_vocabulary(cache, text)`` builds what ``zsar.heads.objects`` scores with and
stores it in the cache (``zsar.cache.objects``), once per text encoder:

- the classifier layer of the cache's backbone (a backbone registered with the
  ``CLASSIFIER`` tag keeps it: EfficientNet-Lite0's ImageNet-1k layer, ``(1000, 1280)``),
  built from the very weights the cache records (the weights ids must agree), so the
  cached pooled features need no re-extraction;
- the 1,000 ImageNet class names shipped in ``zsar/objects_data`` (checked against its
  ``SHA256SUMS``; provenance in its README), each embedded by the encoder and model of the
  cache's label text. A sentence encoder reads each name in ``OBJECT_TEMPLATE`` (CLIP's
  ImageNet caption "a photo of a {}."), a word-vector encoder the bare name (template
  words would only dilute its average).

A second call finds the file and loads no model. A cache whose backbone has no classifier
is one error that names the backbones that have one.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

from zsar.cache.features import load_text
from zsar.cache.config import read_cache_config
from zsar.cache.layout import open_layout
from zsar.cache.objects import ObjectVocabulary, find_object_vocabulary, write_object_vocabulary
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.extract.models.backbones import BACKBONES, Backbone, BackboneConfig, create_backbone
from zsar.extract.models.text_encoders import TextEncoder, TextEncoderConfig, WordVectorEncoder, create_text_encoder
from zsar.registry import CLASSIFIER

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "objects_data"
NAMES_FILE = "imagenet1k.txt"
SUMS = "SHA256SUMS"
OBJECT_TEMPLATE = "a photo of a {}."  # how a sentence encoder reads an object name (CLIP's ImageNet caption)
WORD_TEMPLATE = "{}"                   # word-vector encoders: the bare name
MODEL_IS_ID = ("sentence-transformers", "word2vec")  # encoders whose recorded model id is how to load the model


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[tuple[str, ...], str]:
    """The 1,000 ImageNet-1k class names in class-index order, and the names file's sha256 (checked)."""
    sums = dict(reversed(line.split(maxsplit=1)) for line in (DATA / SUMS).read_text().splitlines() if line.strip())
    path = DATA / NAMES_FILE
    if not path.is_file() or NAMES_FILE not in sums:
        raise ZsarError(f"the object names {path} are not installed; reinstall zsar (pip install --force-reinstall)")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != sums[NAMES_FILE]:
        raise ZsarError(f"the object names {path} have sha256 {actual[:12]}, not {sums[NAMES_FILE][:12]} as {SUMS} "
                        "says: the file was changed; reinstall zsar (pip install --force-reinstall)")
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    return names, actual


def classifier_backbones() -> list[str]:
    """The registered backbones that keep their own ImageNet classifier (the ``CLASSIFIER`` tag)."""
    return BACKBONES.tagged(CLASSIFIER)


def check_classifier(backbone: str, where: str) -> None:
    """Refuse, in one line, a backbone without a classifier for the ``objects`` head; name those with one."""
    if backbone not in classifier_backbones():
        raise ZsarError(f"--head objects: {where} {backbone} features, and {backbone} has no classifier of its own; "
                        f"the objects head needs a backbone with its ImageNet classifier: "
                        f"{', '.join(classifier_backbones())} (extract with --backbone {classifier_backbones()[0]})")


def object_template(encoder: TextEncoder) -> str:
    return WORD_TEMPLATE if isinstance(encoder, WordVectorEncoder) else OBJECT_TEMPLATE


def build_object_vocabulary(backbone: Backbone, encoder: TextEncoder) -> ObjectVocabulary:
    """``backbone``'s classifier and the ImageNet names embedded by ``encoder``."""
    check_classifier(backbone.name, "the backbone gives")
    assert backbone.classifier is not None, f"{backbone.name} is tagged {CLASSIFIER!r} but has no classifier"
    names, digest = imagenet_class_names()
    weight = backbone.classifier.weight.detach().float().cpu().numpy()
    if weight.shape[0] != len(names):
        raise ZsarError(f"{backbone.name}'s classifier has {weight.shape[0]} classes, not the {len(names)} "
                        f"ImageNet-1k names of {DATA / NAMES_FILE}")
    template = object_template(encoder)
    embeddings = encoder.encode([template.format(name) for name in names])
    return ObjectVocabulary(names=list(names), template=template, weight=weight,
                            bias=backbone.classifier.bias.detach().float().cpu().numpy(), embeddings=embeddings,
                            weights_id=backbone.weights_id, encoder=encoder.name, model_id=encoder.model_id,
                            names_sha256=digest)


def text_encoder_of(text: TextEmbeddings, device: str = "cpu") -> TextEncoder:
    """The text encoder that made ``text``: same name and model (its model id is checked)."""
    model = text.model_id if text.encoder in MODEL_IS_ID else (text.space or None) if text.encoder == "clip" else None
    encoder = create_text_encoder(TextEncoderConfig(text.encoder, model, device))
    if encoder.model_id != text.model_id:
        raise ZsarError(f"the label text {text.file_stem} was encoded by {text.encoder} model {text.model_id!r}, and "
                        f"this machine's is {encoder.model_id!r}: the object names would land in another space; "
                        "encode the label text again with this model (`zsar extract` with the same settings)")
    return encoder


def add_object_vocabulary(cache: Path, text: str | TextEmbeddings | None = None,
                          device: str = "cpu") -> ObjectVocabulary:
    """The object vocabulary of ``cache`` for its label ``text`` (a name, the embeddings, or its only text).

    Read from ``<cache>/objects/`` when it is there; else built from the cache's backbone
    and the text's encoder, and stored (see the module docstring).
    """
    layout = open_layout(cache)
    config = read_cache_config(layout)
    label_text = text if isinstance(text, TextEmbeddings) else load_text(layout.root, text)
    found = find_object_vocabulary(layout.root, config.weights_id, label_text.encoder, label_text.model_id)
    if found is not None:
        return found
    check_classifier(config.backbone, f"cache {layout.root} holds")
    weights = Path(config.weights) if config.weights else None
    backbone = create_backbone(BackboneConfig(name=config.backbone, weights=weights, device=device))
    if backbone.weights_id != config.weights_id:
        raise ZsarError(f"the {config.backbone} weights found now ({backbone.weights_id}) are not those of cache "
                        f"{layout.root} ({config.weights_id}); install those weights again (--weights)")
    vocabulary = build_object_vocabulary(backbone, text_encoder_of(label_text, device))
    path = write_object_vocabulary(layout.root, vocabulary)
    log.info("object vocabulary: %s (%d %s classes, %s text)", path, len(vocabulary.names), config.backbone,
             vocabulary.encoder)
    return vocabulary


def has_classifier(cache: Path) -> bool:
    """Whether ``cache``'s backbone keeps a classifier (so the ``objects`` head can run on it)."""
    return read_cache_config(open_layout(cache)).backbone in classifier_backbones()

