"""ResT's joint cross-modal encoder (and its dual mode), and ActionCLIP's defaults, against their descriptions."""

import numpy as np
import pytest
import torch

from zsar.heads.batches import FeatureBatches
from zsar.errors import ZsarError
from zsar.heads import rest as rest_module
from zsar.heads.actionclip import QuickGELU, TransformerFusion
from zsar.heads.base import ClassText, HeadDims, create_head, l2_normalise
from zsar.heads.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("single_thread")

DIMS = HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5)
TINY_REST = {"width": 16, "heads": 2, "embed_dim": 12}


def _problem():
    g = torch.Generator().manual_seed(1)
    text = ClassText(l2_normalise(torch.randn(5, 3, 8, generator=g)))
    return text, torch.randn(40, 1, 4, 16, generator=g), torch.arange(40) % 5


def test_rest_dual_mode_reproduces_the_previous_rest_weight_for_weight():
    """Values of the rest head before joint mode existed (same seed, data and 6 steps)."""
    text, features, labels = _problem()
    torch.manual_seed(0)
    head = create_head("rest", DIMS, mode="dual", **TINY_REST)
    result = fit(head, FeatureBatches(features.numpy(), np.arange(40), labels.numpy()), text,
                 TrainConfig(steps=6, batch_size=8, lr=1e-2))
    with torch.no_grad():
        z, views = head.eval().embed_video(features[:3]), head.embed_classes(text)
    assert result.losses == pytest.approx([3.84215], abs=1e-4)
    np.testing.assert_allclose(z[0, :4], [-0.138617, 0.312625, 0.287003, -0.053001], atol=1e-5)
    np.testing.assert_allclose(views[1, 0, :4], [-0.329986, 0.215848, -0.074644, 0.071015], atol=1e-5)
    assert not hasattr(head, "match_token") and not head.scores_pairs


def test_rest_defaults_to_joint_and_a_bad_mode_is_one_line():
    assert create_head("rest", DIMS, **TINY_REST).scores_pairs
    with pytest.raises(ZsarError, match="rest mode 'both' is not one of joint, dual"):
        create_head("rest", DIMS, mode="both")
    with pytest.raises(ZsarError, match=r"rest pair_weight=1.5: must be in \[0, 1\]"):
        create_head("rest", DIMS, pair_weight=1.5)


def test_rest_joint_video_tokens_attend_to_the_label_text():
    torch.manual_seed(0)
    head = create_head("rest", DIMS, **TINY_REST).eval()
    text, features, _ = _problem()
    outputs = []
    hook = head.encoder.register_forward_hook(lambda module, args, out: outputs.append(out))
    with torch.no_grad():
        video = head._video_tokens(features[:1, 0])
        tokens, mask = head._text_tokens(text)
        head._pair_logits(video, tokens, mask, torch.tensor([0, 0]), torch.tensor([0, 1]))
    hook.remove()
    frames = outputs[0][:, 1:1 + DIMS.frames]  # the video tokens' outputs in the pairs with class 0 and class 1
    assert (frames[0] - frames[1]).abs().max() > 1e-4


def test_rest_pair_scores_in_chunks_equal_pairs_one_at_a_time(monkeypatch):
    torch.manual_seed(0)
    head = create_head("rest", DIMS, **TINY_REST).eval()
    text, features, _ = _problem()
    video = torch.randn(3, 2, 4, 16)  # 3 videos of 2 clips
    with torch.no_grad():
        whole = head.pair_scores(video, text)
        monkeypatch.setattr(rest_module, "PAIR_CHUNK", 4)
        chunked = head.pair_scores(video, text)
        tokens, mask = head._text_tokens(text)
        single = torch.zeros(3, 5)
        for i in range(3):
            clips = head._video_tokens(head.standardise(video[i]))
            for c in range(5):
                pair = [head._pair_logits(clips, tokens, mask, torch.tensor([k]), torch.tensor([c])) for k in range(2)]
                single[i, c] = torch.cat(pair).mean()
    assert whole.shape == (3, 5)
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(single, whole, atol=1e-5, rtol=1e-5)


def test_rest_joint_training_scores_at_most_match_videos_x_match_classes_pairs(monkeypatch):
    torch.manual_seed(0)
    dims = HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=30)
    head = create_head("rest", dims, match_videos=6, match_classes=4, **TINY_REST)
    seen = []
    original = head._pair_logits

    def record(video, text, mask, v, c):
        seen.append((v.clone(), c.clone()))
        return original(video, text, mask, v, c)

    monkeypatch.setattr(head, "_pair_logits", record)
    text = ClassText(l2_normalise(torch.randn(30, 3, 8)))
    targets = torch.arange(10) * 3
    loss = head.loss(torch.randn(10, 1, 4, 16), targets, text, torch.Generator().manual_seed(0))
    loss.backward()
    (v, c), = seen
    assert len(v) == 6 * 4  # 6 videos, each with its own class and 3 hard negatives
    pairs = c.view(6, 4)
    assert (pairs[:, 0] == targets[:6]).all() and all(len(set(row.tolist())) == 4 for row in pairs)
    assert head.match_token.grad is not None and head.match_token.grad.abs().sum() > 0


def test_rest_joint_fuses_softmaxes_of_cosine_and_pair_scores():
    torch.manual_seed(0)
    cosine, pairs = torch.rand(4, 5) * 2 - 1, torch.randn(4, 5)
    for weight in (0.0, 0.3, 1.0):
        head = create_head("rest", DIMS, pair_weight=weight, **TINY_REST)
        expected = (1 - weight) * torch.softmax(10 * cosine, dim=1) + weight * torch.softmax(pairs, dim=1)
        torch.testing.assert_close(head.fuse(cosine, pairs), expected)
    dual = create_head("rest", DIMS, mode="dual", **TINY_REST)
    with pytest.raises(ZsarError, match="mode=dual has no pair scores"):
        dual.pair_scores(torch.randn(2, 1, 4, 16), _problem()[0])


def test_actionclip_defaults_are_its_transf_with_clip_logit_scale():
    head = create_head("actionclip", HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5))
    config = head.config
    assert (config.fusion, config.layers, config.activation) == ("transformer", 6, "quick-gelu")
    assert isinstance(head.fusion, TransformerFusion) and len(head.fusion.encoder.layers) == 6
    layer = head.fusion.encoder.layers[0]
    assert isinstance(layer.activation, QuickGELU) and layer.self_attn.num_heads == 128 // 64
    assert layer.linear1.out_features == 4 * 128 and layer.norm_first  # CLIP's pre-LN block, MLP 4x width
    assert 0.015 < layer.linear1.weight.std().item() < 0.025 and layer.linear1.bias.abs().max() == 0
    x = torch.linspace(-3, 3, 7)
    torch.testing.assert_close(QuickGELU()(x), x * torch.sigmoid(1.702 * x))


def test_actionclip_logit_scale_is_clips_100_in_a_shared_space_and_clips_init_otherwise():
    z, views = l2_normalise(torch.randn(4, 8)), l2_normalise(torch.randn(5, 3, 8))
    ensemble = lambda scale: sum(torch.softmax(scale * z @ views[:, p].T, dim=1) for p in range(3)) / 3  # noqa: E731
    clip = create_head("actionclip", HeadDims(video_dim=8, text_dim=8, frames=4, n_classes=5, shared_space=True),
                       fusion="mean").eval()
    assert clip.scale.item() == pytest.approx(100.0)  # CLIP's pretrained scale, which ActionCLIP fine-tunes
    torch.testing.assert_close(clip.video_proj.weight, torch.eye(8))  # starts from CLIP's zero-shot
    with torch.no_grad():
        clip.logit_scale.fill_(2.0)
    torch.testing.assert_close(clip.scores(z, views), ensemble(100.0))  # test.py: a fixed 100, not the learned one
    fresh = create_head("actionclip", HeadDims(video_dim=8, text_dim=8, frames=4, n_classes=5), fusion="mean").eval()  # same dims, unrelated models
    assert fresh.scale.item() == pytest.approx(1 / 0.07) and not torch.equal(fresh.video_proj.weight, torch.eye(8))
    torch.testing.assert_close(fresh.scores(z, views), ensemble(fresh.scale))  # the learned scale
    fixed = create_head("actionclip", HeadDims(video_dim=8, text_dim=8, frames=4, n_classes=5), fusion="mean",
                        scale=5.0, test_scale=10.0).eval()
    assert fixed.scale.item() == pytest.approx(5.0)
    torch.testing.assert_close(fixed.scores(z, views), ensemble(10.0))
    with pytest.raises(ZsarError, match=r"actionclip scale=200.0: must be in \(0, 100\], or 0"):
        create_head("actionclip", HeadDims(video_dim=8, text_dim=8, frames=4, n_classes=5), scale=200.0)


def test_build_head_marks_a_shared_space_only_when_cache_and_text_agree():
    from dataclasses import replace
    from _heads_data import protocol_data
    from zsar.heads.experiment import build_head
    from zsar.heads.protocols import within_half
    from zsar.testing import StructuredConfig

    plan = next(within_half(protocol_data(StructuredConfig(classes=10, videos=60)), 1))
    assert not build_head("actionclip", plan, {"fusion": "mean"}, 0, torch.device("cpu")).dims.shared_space
    clip_set = replace(plan.train.cache, config=replace(plan.train.cache.config, space="clip:ViT-B/16"))
    clip_plan = replace(plan, train=replace(plan.train, cache=clip_set,
                                            text=replace(plan.train.text, space="clip:ViT-B/16")))
    assert build_head("actionclip", clip_plan, {"fusion": "mean"}, 0, torch.device("cpu")).dims.shared_space
    other = replace(clip_plan, train=replace(clip_plan.train, text=replace(plan.train.text, space="clip:ViT-L/14")))
    assert not build_head("actionclip", other, {"fusion": "mean"}, 0, torch.device("cpu")).dims.shared_space


def test_actionclip_fuses_in_the_joint_space_and_mean_is_the_projected_frame_mean():
    torch.manual_seed(0)
    head = create_head("actionclip", HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5), fusion="mean")
    clips = torch.randn(3, 4, 16)
    torch.testing.assert_close(head.encode_clips(clips), head.video_proj(clips.mean(dim=1)), atol=1e-6, rtol=1e-5)
    deep = create_head("actionclip", HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5))
    assert deep.fusion.position.shape == (4, 128)  # ActionCLIP's Transf runs on the projected frame embeddings


def test_zero_shot_scores_of_a_joint_rest_fuse_its_pair_scores():
    from _heads_data import protocol_data
    from zsar.heads.protocols import within_half
    from zsar.heads.transfer import TransferConfig
    from zsar.heads.classifier import embed_rows, pair_scores_of_rows
    from zsar.heads.zero_shot import score_plan
    from zsar.testing import StructuredConfig

    plan = next(within_half(protocol_data(StructuredConfig(classes=10, videos=60)), 1))
    d = plan.test.cache.features.shape
    text = ClassText.from_embeddings(plan.test.text)
    dims = HeadDims(video_dim=d[-1], text_dim=text.prompts.shape[-1], frames=d[2], n_classes=len(plan.train.classes))
    torch.manual_seed(0)
    device = torch.device("cpu")
    for weight in (1.0, 0.0):
        head = create_head("rest", dims, pair_weight=weight, **TINY_REST).eval()
        test = embed_rows(head, plan.test.cache.features, plan.test.rows, device)
        _, scores = score_plan(head, plan, test, test[:0], np.zeros(0, int), TransferConfig(mode="none"), "none",
                               device)
        pairs = pair_scores_of_rows(head, plan.test.cache.features, plan.test.rows, text, device)
        if weight == 1.0:
            np.testing.assert_allclose(scores, torch.softmax(torch.as_tensor(pairs), dim=1).numpy(), atol=1e-6)
        else:
            cosine = test @ head.prototypes(head.embed_classes(text)).detach().numpy().T
            np.testing.assert_allclose(scores, torch.softmax(10 * torch.as_tensor(cosine), dim=1).numpy(), atol=1e-5)


def test_actionclip_layer_norms_are_actionclips_tf_style_eps_1e_12():
    """ActionCLIP's LayerNorm (modules/Visual_Prompt.py): (x - mean) / sqrt(var + 1e-12), not torch's 1e-5."""
    head = create_head("actionclip", HeadDims(video_dim=16, text_dim=8, frames=4, n_classes=5))
    norms = [m for m in head.fusion.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 2 * 6 and {m.eps for m in norms} == {1e-12}
    x = 1e-3 * torch.randn(3, 128, generator=torch.Generator().manual_seed(0))  # variance 1e-6: eps 1e-5 would show
    released = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-12)
    torch.testing.assert_close(norms[0](x), released, atol=1e-4, rtol=1e-4)
    assert (torch.nn.LayerNorm(128, eps=1e-5)(x) - released).abs().max() > 0.1
