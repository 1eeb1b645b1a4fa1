"""Semantic transfer's formula and the class generator's mixing weights."""

import numpy as np
import pytest
import torch

from zsar.errors import ZsarError
from zsar.heads.generator import EXTRAPOLATE_RANGE, ClassGenerator, VisualCentres, mixing_weights
from zsar.heads.transfer import TransferConfig, class_means, semantic_transfer, transfer_weights
from zsar.vectors import l2_normalise

pytestmark = pytest.mark.usefixtures("single_thread")


def _unit(rng, *shape):
    return l2_normalise(rng.normal(size=shape)).astype(np.float32)


def test_k1_with_a_tiny_temperature_returns_the_most_related_seen_prototype():
    rng = np.random.default_rng(0)
    seen_text, target_text = _unit(rng, 6, 10), _unit(rng, 4, 10)
    seen_protos, target_protos = _unit(rng, 6, 7), _unit(rng, 4, 7)
    out = semantic_transfer(seen_protos, seen_text, target_text, target_protos,
                            TransferConfig("semantic", k=1, temperature=1e-6, lam=1.0))
    nearest = (target_text @ seen_text.T).argmax(axis=1)
    np.testing.assert_allclose(out, seen_protos[nearest], atol=1e-6)


def test_weights_are_a_softmax_over_the_top_k_related_classes():
    seen_text = np.eye(4, dtype=np.float32)
    target = np.array([[0.9, 0.3, 0.1, 0.0]], np.float32)
    w = transfer_weights(target, seen_text, k=2, temperature=0.5)
    cos = target[0] / np.linalg.norm(target[0])
    e = np.exp(cos[:2] / 0.5)
    np.testing.assert_allclose(w[0], [e[0] / e.sum(), e[1] / e.sum(), 0, 0], rtol=1e-6)


def test_lambda_mixes_in_the_text_prototype():
    seen_protos = np.array([[1.0, 0.0]], np.float32)
    text_proto = np.array([[0.0, 1.0]], np.float32)
    t = np.ones((1, 3), np.float32)
    mixed = semantic_transfer(seen_protos, t, t, text_proto, TransferConfig("semantic", k=1, lam=0.5))
    np.testing.assert_allclose(mixed, [[2 ** -0.5, 2 ** -0.5]], rtol=1e-6)
    only_text = semantic_transfer(seen_protos, t, t, text_proto, TransferConfig("semantic", k=1, lam=0.0))
    np.testing.assert_allclose(only_text, text_proto)


def test_class_means_are_normalised_means_and_need_every_class():
    emb = np.array([[1, 0], [0, 1], [3, 0]], np.float32)
    np.testing.assert_allclose(class_means(emb, np.array([0, 0, 1]), 2), [[2 ** -0.5, 2 ** -0.5], [1, 0]], rtol=1e-6)
    with pytest.raises(ZsarError, match=r"class\(es\) \[2\] have none"):
        class_means(emb, np.array([0, 0, 1]), 3)


def test_transfer_options_are_checked():
    with pytest.raises(ZsarError, match="--transfer-temperature 0"):
        TransferConfig("semantic", temperature=0)
    with pytest.raises(ZsarError, match="--transfer 'visual': choose one of none, semantic"):
        TransferConfig("visual")


@pytest.mark.parametrize("mode", ["interpolate", "extrapolate"])
def test_generator_weights_per_mode(mode):
    w = mixing_weights(300, 200, mode, torch.Generator().manual_seed(0))
    assert w.shape == (300, 200)
    again = mixing_weights(300, 200, mode, torch.Generator().manual_seed(0))
    torch.testing.assert_close(w, again)
    if mode == "interpolate":
        assert w.min() >= 0 and w.max() < 1
        assert abs(w.mean().item() - 0.5) < 0.01
    else:
        low, high = EXTRAPOLATE_RANGE
        assert w.min() >= low and w.max() < high
        assert (w < 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
        assert (w > 1).float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_generator_loss_is_low_when_centres_match_the_text():
    g = torch.Generator().manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    gen = ClassGenerator("interpolate", scale=10.0)
    matched = gen(text, text.clone(), torch.Generator().manual_seed(1))
    unrelated = gen(text, torch.randn(8, 16, generator=g), torch.Generator().manual_seed(1))
    assert matched.item() < unrelated.item()
    with pytest.raises(ZsarError, match="unknown class-generator mode 'mixup'"):
        ClassGenerator("mixup", 10.0)


def test_visual_centres_start_in_u01_as_aurls_cosine_layer():
    torch.manual_seed(0)
    w = VisualCentres(200, 256).weight.detach()
    assert w.shape == (200, 256)
    # AURL's torch.nn.init.uniform_: U[0, 1), not a symmetric +-1/sqrt(d) range
    assert w.min().item() >= 0 and w.max().item() < 1
    assert w.mean().item() == pytest.approx(0.5, abs=0.01)
    assert (w > 0.9).float().mean().item() == pytest.approx(0.1, abs=0.01)
    # so the centres start close together: pairwise cosine near (1/4) / (1/3) = 0.75
    cosine = l2_normalise(w.numpy()) @ l2_normalise(w.numpy()).T
    off_diagonal = cosine[~np.eye(200, dtype=bool)]
    assert off_diagonal.mean() == pytest.approx(0.75, abs=0.02)
