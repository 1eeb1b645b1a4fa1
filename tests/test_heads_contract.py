"""One contract test over every registered head, plus the losses' values and the head factory's errors."""

import math

import numpy as np
import pytest
import torch

from zsar.errors import UnknownNameError, ZsarError
from zsar.heads.base import (BASELINE, HEAD_MODULES, HEADS, SHARED_SPACE_BASELINE, ClassText, HeadDims, baseline_head,
                             create_head, head_class, heads_in_order, l2_normalise)
from zsar.registry import load_plugins
from zsar.heads.losses import LOSSES, CosineLoss, ScaledCosineCELoss, SymmetricKLLoss, UnitMSELoss
from zsar.testing import random_object_vocabulary

pytestmark = pytest.mark.usefixtures("single_thread")
load_plugins()  # heads of the ZSAR_PLUGINS modules meet the same contract

DIMS = HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5)
SHARED = HeadDims(video_dim=8, text_dim=8, frames=4, n_classes=5, shared_space=True)


def _text(classes=5, prompts=3, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ClassText(l2_normalise(torch.randn(classes, prompts, dim, generator=g)))


def _tiny(name):
    return head_class(name).tiny_options


def test_every_built_in_module_registers_a_head_and_the_baselines_come_first():
    modules = {HEADS.entry(name).obj.__module__ for name in HEADS.names()}
    assert set(HEAD_MODULES) <= modules
    order = heads_in_order()
    assert sorted(order) == HEADS.names() and order[:2] == [baseline_head(SHARED_SPACE_BASELINE), baseline_head()]
    assert baseline_head() == "ridge" and HEADS.tagged(BASELINE) == ["ridge"]


@pytest.mark.parametrize("name", HEADS.names())
def test_every_head_meets_the_contract(name):
    check_head_contract(name)


def check_head_contract(name):
    """The contract of ``zsar.heads.base`` for the registered head ``name``, built with its ``tiny_options``."""
    torch.manual_seed(0)
    dims = SHARED if head_class(name).needs_shared_space else DIMS
    head = create_head(name, dims, **_tiny(name))
    if head.needs_objects:  # the cache's classifier and object text (``objects``): a random vocabulary
        vocabulary = random_object_vocabulary(dims.video_dim, dims.text_dim)
        head.set_objects(vocabulary.weight, vocabulary.bias, vocabulary.embeddings)
    video = torch.randn(6, 2, dims.frames, dims.video_dim)
    head.eval()
    z = head.embed_video(video)
    assert z.shape[0] == 6 and z.ndim == 2
    torch.testing.assert_close(z.norm(dim=1), torch.ones(6))
    text = _text(dim=dims.text_dim)
    views = head.embed_classes(text)
    assert views.shape[0] == 5 and views.shape[2] == z.shape[1]
    torch.testing.assert_close(views.norm(dim=2), torch.ones(views.shape[:2]))
    scores = head.scores(z, views)
    assert scores.shape == (6, 5) and torch.isfinite(scores).all()
    head.train()
    if head.training_free:  # no parameters and no loss: it is never trained
        assert not list(head.parameters())
        with pytest.raises(ZsarError, match="training-free"):
            head.loss(video, torch.zeros(6, dtype=torch.long), text, torch.Generator())
    else:
        loss = head.loss(video[:, :1], torch.tensor([0, 1, 2, 3, 4, 0]), text, torch.Generator().manual_seed(0))
        assert loss.ndim == 0 and torch.isfinite(loss)
        loss.backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    # a checkpoint's state dict rebuilds the same head, standardisation included
    head.set_feature_stats(torch.randn(dims.video_dim), torch.rand(dims.video_dim) + 0.5)
    head.eval()
    twin = create_head(name, dims, **_tiny(name))
    twin.load_state_dict(head.state_dict())
    twin.eval()
    torch.testing.assert_close(twin.embed_video(video), head.embed_video(video))


def test_embed_video_averages_clip_embeddings():
    head = create_head("linear", DIMS).eval()
    video = torch.randn(3, 2, DIMS.frames, DIMS.video_dim)
    clips = head.encode_clips(video.flatten(0, 1)).view(3, 2, -1)
    torch.testing.assert_close(head.embed_video(video), l2_normalise(clips.mean(dim=1)))


def test_rest_ignores_padded_words():
    torch.manual_seed(0)
    head = create_head("rest", DIMS, **_tiny("rest")).eval()
    words = torch.randn(5, 4, 8)
    mask = torch.tensor([[True, True, False, False]] * 5)
    first = head.embed_classes(ClassText(_text().prompts, words, mask))
    words[:, 2:] = torch.randn(5, 2, 8) * 100
    torch.testing.assert_close(head.embed_classes(ClassText(_text().prompts, words, mask)), first)


def test_actionclip_probability_ensemble_averages_per_prompt_softmax():
    head = create_head("actionclip", DIMS).eval()
    z = l2_normalise(torch.randn(4, 8))
    views = l2_normalise(torch.randn(5, 3, 8))
    expected = sum(torch.softmax(head.scale * z @ views[:, p].T, dim=1) for p in range(3)) / 3
    torch.testing.assert_close(head.scores(z, views), expected)
    torch.testing.assert_close(head.scores(z, views).sum(dim=1), torch.ones(4))


def test_factory_errors_name_the_value_and_the_choices():
    with pytest.raises(UnknownNameError, match=f"valid heads: {', '.join(HEADS.names())}"):
        create_head("resnet", DIMS)
    with pytest.raises(ZsarError, match="head 'aurl' has no option 'width'; its options: hidden"):
        create_head("aurl", DIMS, width=3)
    with pytest.raises(ZsarError, match="heads=3 does not divide the joint dim 128"):
        create_head("actionclip", DIMS, fusion="transformer", heads=3)
    with pytest.raises(ZsarError, match="max_tokens=2 is less than the 4 frames"):
        create_head("rest", DIMS, max_tokens=2)


def test_losses_give_their_formulas():
    assert LOSSES.names() == ["cosine", "cross-entropy", "mse", "symmetric-kl"]
    p, t = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert CosineLoss()(p, t).item() == pytest.approx((1 - 1 / math.sqrt(2)) / 2)
    assert UnitMSELoss()(p, t).item() == pytest.approx(((1 - 0.5 ** 0.5) ** 2 + 0.5) / 4)
    q, k = torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.5, 0.75 ** 0.5]])  # cosines 1 and 0.5
    assert ScaledCosineCELoss()(q, k, torch.tensor([0])).item() == pytest.approx(math.log(1 + math.exp(-5)), rel=1e-4)


def test_symmetric_kl_is_zero_at_its_target_and_positive_elsewhere():
    labels = torch.tensor([0, 0, 1])
    same = (labels[:, None] == labels[None, :]).float()
    assert SymmetricKLLoss()(10 * same, labels).item() == pytest.approx(0.0, abs=1e-6)
    assert SymmetricKLLoss()(10 * torch.eye(3), labels).item() > 0.1
    # KL(target || softmax(logits)) by hand for one row set
    logits = torch.tensor([[1.0, 0.0, 2.0], [0.5, 0.5, 0.5], [0.0, 3.0, 1.0]])
    target = torch.softmax(10 * same, dim=1)
    kl = lambda lg: (target * (target.log() - torch.log_softmax(lg, dim=1))).sum(dim=1).mean()  # noqa: E731
    assert SymmetricKLLoss()(logits, labels).item() == pytest.approx(((kl(logits) + kl(logits.T)) / 2).item(), rel=1e-5)


def test_l2_normalise_keeps_zero_vectors_and_matches_numpy():
    from zsar.vectors import l2_normalise as np_l2

    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(l2_normalise(torch.from_numpy(x)).numpy(), np_l2(x))
