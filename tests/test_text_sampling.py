"""Heads whose text side samples one prompt per class at each step (``text="sample"``) when a class has several."""

import numpy as np
import pytest
import torch

from zsar.heads.batches import FeatureBatches
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, HeadDims, create_head, l2_normalise
from zsar.heads.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("single_thread")

DIMS = HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5)
TINY = {"aurl": {"hidden": 16, "embed_dim": 12}}


def _problem(prompts: int):
    g = torch.Generator().manual_seed(1)
    text = ClassText(l2_normalise(torch.randn(5, prompts, 8, generator=g)))
    return text, torch.randn(40, 1, 4, 16, generator=g), torch.arange(40) % 5


def _fit(head: str, class_text: ClassText, features: torch.Tensor, labels: torch.Tensor, **options):
    torch.manual_seed(0)
    model = create_head(head, DIMS, **TINY[head], **options)
    result = fit(model, FeatureBatches(features.numpy(), np.arange(40), labels.numpy()), class_text,
                 TrainConfig(steps=6, batch_size=8, lr=1e-2))
    return model.eval(), result


def test_aurl_samples_prompts_by_default_and_with_one_prompt_both_modes_are_one_model():
    text, features, labels = _problem(prompts=1)
    sample, sample_fit = _fit("aurl", text, features, labels)
    mean, mean_fit = _fit("aurl", text, features, labels, text="mean")
    assert sample.config.text == "sample"
    assert sample_fit.losses == mean_fit.losses
    for a, b in zip(sample.state_dict().values(), mean.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_aurl_sampling_trains_on_single_prompts_and_tests_on_every_prompt():
    text, features, labels = _problem(prompts=3)
    sample, sample_fit = _fit("aurl", text, features, labels)
    _, mean_fit = _fit("aurl", text, features, labels, text="mean")
    assert sample_fit.losses != mean_fit.losses  # the text MLP saw other inputs
    with torch.no_grad():
        views = sample.embed_classes(text)
        expected = l2_normalise(sample.text_mlp(text.prompts[:, 2]))
    assert views.shape == (5, 3, 12)
    torch.testing.assert_close(views[:, 2], expected)  # view p is prompt p through the text MLP
    # a training step draws one prompt per class: the loss depends on the draw
    sample.train()
    with torch.no_grad():
        losses = {round(sample.loss(features[:8], labels[:8], text, torch.Generator().manual_seed(s)).item(), 6)
                  for s in range(4)}
    assert len(losses) > 1


def test_a_bad_text_mode_is_one_line():
    with pytest.raises(ZsarError, match=r"^aurl text 'words' is not one of sample, mean$"):
        create_head("aurl", DIMS, text="words")
