"""Heads trained on cached features, zero-shot inference and evaluation protocols.

- ``base``: the head contract, ``HEADS``, ``create_head``, the torch ``l2_normalise``;
- ``frozen``: the training-free baseline of a shared video-text space (CLIP's own zero-shot);
- ``ridge``, ``linear``, ``actionclip``, ``aurl``, ``rest``: the heads; ``options``: their
  ``--head-opt`` values; ``losses`` (``LOSSES``); ``generator``: visual centres and AURL's
  class generator;
- ``transfer``: semantic transfer; ``rerank``: hubness reduction (``RERANKERS``);
- ``protocols`` (``PROTOCOLS``), ``clip_protocols`` (``k600-novel``, ``base-to-novel``) on the
  shipped lists of ``class_lists``, ``filter_text`` (``--filter-text``), ``train`` (the loop),
  ``selection`` (model selection on held-out seen classes), ``zero_shot`` (inference of a split and its accuracy),
  ``experiment`` (``train_head``: what ``zsar train-head`` runs).

Features with a known structure for tests and benchmarks are in ``zsar.testing``.

Importing this package (or ``rerank``) does not import torch.
"""
