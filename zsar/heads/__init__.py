"""Heads trained on cached features, zero-shot inference and evaluation protocols.

- ``base``: the head contract, ``HEADS``, ``create_head``, the torch ``l2_normalise``;
- ``linear``, ``actionclip``, ``aurl``, ``rest``: the heads; ``losses`` (``LOSSES``);
  ``generator``: visual centres and AURL's class generator;
- ``transfer``: semantic transfer; ``rerank``: hubness reduction (``RERANKERS``);
- ``protocols`` (``PROTOCOLS``), ``train`` (the loop), ``evaluate`` (inference, accuracy),
  ``experiment`` (``train_head``: what ``zsar train-head`` runs);
- ``structured``: features with a known structure for tests and benchmarks.

Importing this package (or ``rerank``) does not import torch.
"""
