"""Heads trained on cached features, zero-shot inference and evaluation protocols.

- ``base``: the head contract, ``HEADS``, ``create_head``, the torch ``l2_normalise``;
- ``ridge``, ``linear``, ``actionclip``, ``aurl``, ``rest``: the heads; ``options``: their
  ``--head-opt`` values; ``losses`` (``LOSSES``); ``generator``: visual centres and AURL's
  class generator;
- ``transfer``: semantic transfer; ``rerank``: hubness reduction (``RERANKERS``);
- ``protocols`` (``PROTOCOLS``), ``train`` (the loop), ``selection`` (model selection on
  held-out seen classes), ``zero_shot`` (inference of a split and its accuracy),
  ``experiment`` (``train_head``: what ``zsar train-head`` runs).

Features with a known structure for tests and benchmarks are in ``zsar.testing``.

Importing this package (or ``rerank``) does not import torch.
"""
