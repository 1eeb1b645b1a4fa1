"""Heads trained on cached features, zero-shot inference and evaluation protocols.

- ``base``: the head contract, ``HEADS``, ``create_head``, the torch ``l2_normalise``;
- ``frozen``: the training-free baseline of a shared video-text space (CLIP's own zero-shot);
- ``ridge``, ``linear``, ``actionclip``, ``aurl``, ``rest``: the heads; ``options``: their
  ``--head-opt`` values; ``losses`` (``LOSSES``); ``generator``: visual centres and AURL's
  class generator;
- ``transfer``: semantic transfer; ``rerank``: hubness reduction (``RERANKERS``);
- ``classifier``: the zero-shot classifier, pure functions from embeddings and class text to
  scores (evaluation, selection and ``zsar predict`` share it); ``batches``: batches of
  cached features;
- ``plans`` (``SplitPlan`` and its adapter to the classifier), ``protocols`` (``PROTOCOLS``),
  ``protocol_options`` (each protocol's options type), ``clip_protocols`` (``k600-novel``,
  ``base-to-novel``) on the shipped lists of ``class_lists``, ``filter_text``
  (``--filter-text``), ``inputs`` (the caches a run reads), ``train`` (the loop),
  ``selection`` (model selection on held-out seen classes), ``zero_shot`` (a split's
  evaluation and its accuracy), ``experiment`` (``train_head``: what ``zsar train-head`` runs).

Features with a known structure for tests and benchmarks are in ``zsar.testing``.

Importing this package (or ``rerank``) does not import torch.
"""
