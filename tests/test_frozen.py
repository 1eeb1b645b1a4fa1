"""The training-free ``frozen`` head on a shared video-text space, and ActionCLIP starting exactly from it."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from zsar.cache.text import write_text_embeddings
from zsar.cache.layout import CacheLayout
from zsar.cli import app
from zsar.heads.base import ClassText, HeadDims, create_head, l2_normalise
from zsar.heads.experiment import (TrainHeadConfig, build_head, protocol_data, resolve, train_head)
from zsar.heads.frozen import frozen_scores, pool_video
from zsar.heads.protocols import e2e_half_classes
from zsar.heads.train import prepare
from zsar.heads.batches import FeatureBatches
from zsar.testing import SharedSpaceConfig, make_shared_space, write_shared_space_cache, write_structured_cache
from zsar.testing import StructuredConfig

pytestmark = pytest.mark.usefixtures("single_thread")

SMALL = SharedSpaceConfig(classes=40, videos=400, dim=16)
TRAINED = ("linear", "actionclip", "aurl", "rest")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shared") / "cache"
    return folder, write_shared_space_cache(folder, SMALL)


def _planted(data, splits):
    tops = []
    for split in range(splits):
        unseen = np.sort(e2e_half_classes(len(data.class_names), split))
        tops.append(data.frozen_top1(np.flatnonzero(np.isin(data.labels, unseen)), unseen))
    return tops


def test_the_shared_space_plants_an_imperfect_training_free_rule():
    data = make_shared_space(SMALL)
    pooled = pool_video(torch.from_numpy(data.features.astype(np.float32))).numpy()
    np.testing.assert_allclose(pooled, data.directions, atol=2e-3)  # the frame pairs pool to the planted direction
    np.testing.assert_allclose(l2_normalise(torch.from_numpy(data.text.embeddings).mean(1)).numpy(), data.text.mean,
                               atol=1e-6)
    every = np.arange(len(data.class_names))
    assert 30 < data.frozen_top1(np.arange(len(data.labels)), every) < 80  # imperfect, far above chance (2.5 %)
    undistorted = make_shared_space(dataclasses.replace(SMALL, distortion=0.0, gap=0.0, video_noise=0.0))
    assert undistorted.frozen_top1(np.arange(len(undistorted.labels)), every) == 100.0


def test_frozen_gives_the_planted_accuracy_in_seconds_with_no_training(shared, tmp_path):
    folder, data = shared
    metrics = train_head(TrainHeadConfig(features=folder, out=tmp_path / "run", head="frozen",
                                         protocol="within-half", splits=3))
    assert [s.top1 for s in metrics.splits] == pytest.approx(_planted(data, 3), abs=1e-9)
    assert all(s.selected is None for s in metrics.splits)  # nothing selected
    assert json.loads((tmp_path / "run" / "config.json").read_text())["head"] == "frozen"


def test_frozen_scores_is_the_head_and_both_ensembles(shared):
    _, data = shared
    video, prompts = torch.from_numpy(data.features[:30].astype(np.float32)), torch.from_numpy(data.text.embeddings)
    dims = HeadDims(video_dim=SMALL.dim, text_dim=SMALL.dim, frames=SMALL.frames, n_classes=SMALL.classes,
                    shared_space=True)
    for ensemble in ("embedding", "probability"):
        head = create_head("frozen", dims, ensemble=ensemble).eval()
        scores = head.scores(head.embed_video(video), head.embed_classes(ClassText(prompts)))
        torch.testing.assert_close(scores, frozen_scores(video, prompts, ensemble), atol=1e-6, rtol=0)
    by_hand = pool_video(video) @ l2_normalise(l2_normalise(prompts).mean(dim=1)).T
    torch.testing.assert_close(frozen_scores(video, prompts), by_hand)
    probability = frozen_scores(video, prompts, "probability")
    torch.testing.assert_close(probability.sum(dim=1), torch.ones(30))


@pytest.mark.parametrize("fusion", ["transformer", "mean"])
@pytest.mark.parametrize("ensemble", ["probability", "embedding"])
def test_actionclip_step_0_scores_are_frozens(shared, tmp_path, fusion, ensemble):
    folder, data = shared
    config = TrainHeadConfig(features=folder, out=tmp_path / "unused", head="actionclip", protocol="within-half",
                             splits=1)
    plan = next(resolve(config).protocol.plan(protocol_data(config), 1))
    head = build_head("actionclip", plan, {"fusion": fusion, "ensemble": ensemble}, 0, torch.device("cpu"))
    prepare(head, FeatureBatches(plan.train.cache.features, plan.train.rows, plan.train.targets), config.train)
    assert head.dims.shared_space and head.feature_scale.std() > 0  # z-scoring statistics are set, and unused
    head.eval()
    video = torch.from_numpy(data.features[plan.test.rows].astype(np.float32))
    prompts = torch.from_numpy(plan.test.text.embeddings)
    with torch.no_grad():
        scores = head.scores(head.embed_video(video), head.embed_classes(ClassText(prompts)))
    torch.testing.assert_close(scores, frozen_scores(video, prompts, ensemble), atol=1e-5, rtol=0)


@pytest.mark.parametrize("head", [pytest.param(h, marks=pytest.mark.slow) if h == "rest" else h for h in TRAINED])
def test_no_trained_head_ends_below_frozen(shared, tmp_path, head):
    """With default settings every trained head is at least 0.98 x the training-free row (bench/frozen_baseline.py)."""
    folder, data = shared
    metrics = train_head(TrainHeadConfig(features=folder, out=tmp_path / head, head=head, protocol="within-half",
                                         splits=1))
    assert metrics.mean["top1"] >= 0.98 * _planted(data, 1)[0], metrics.splits


def test_a_cache_without_a_shared_space_is_one_error_line_naming_the_text_that_fits(tmp_path):
    write_structured_cache(tmp_path / "plain", StructuredConfig(classes=6, videos=36))
    result = CliRunner().invoke(app, ["train-head", "--features", str(tmp_path / "plain"), "--head", "frozen",
                                      "--protocol", "within-half", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: --head frozen:") and "space 'none'" in result.output
    data = make_shared_space(SharedSpaceConfig(classes=6, videos=36, dim=8))
    write_shared_space_cache(tmp_path / "two", SharedSpaceConfig(classes=6, videos=36, dim=8))
    other = dataclasses.replace(data.text, encoder="minilm", model_id="m", space="", key="k1")
    write_text_embeddings(CacheLayout(tmp_path / "two"), other)
    result = CliRunner().invoke(app, ["train-head", "--features", str(tmp_path / "two"), "--head", "frozen",
                                      "--protocol", "within-half", "--text", "minilm", "--out", str(tmp_path / "r2")])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "pass --text shared-plain-" in result.output


def _pooling_set(folder, classes=6):
    """A cache where each video's long frame leans to its class and its short frame to the next class.

    Frame A = 10 x unit(0.8 t_c + 0.6 t_c+1), frame B = unit(0.1 t_c + 0.99 t_c+1): the mean of the
    unit frames is nearer t_c+1 (normalised-mean ranks the next class first), the raw mean nearer t_c.
    """
    from zsar.cache.from_arrays import write_cache_from_arrays
    from zsar.cache.text import TextEmbeddings

    eye = np.eye(classes, dtype=np.float32)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    features = np.stack([[[10 * unit(0.8 * eye[c] + 0.6 * eye[(c + 1) % classes]),
                           unit(0.1 * eye[c] + 0.99 * eye[(c + 1) % classes])]] for c in range(classes)])
    names = [f"action_{c}" for c in range(classes)]
    text = TextEmbeddings(encoder="shared", model_id="basis", prompt_set="plain", class_names=names,
                          class_texts=names, prompts=["{}"], embeddings=eye[:, None], space="basis")
    write_cache_from_arrays(folder, features.astype(np.float16), np.arange(classes), names, dataset="pools",
                            backbone="shared", text=text, extra_config={"space": "basis"})
    return torch.from_numpy(features), torch.from_numpy(eye[:, None])


def test_raw_mean_pooling_changes_the_ranking_where_frame_norms_differ(tmp_path):
    video, prompts = _pooling_set(tmp_path / "cache")
    normalised, raw = (frozen_scores(video, prompts, pool=p).argmax(dim=1) for p in ("normalised-mean", "raw-mean"))
    assert raw.tolist() == list(range(6)) and normalised.tolist() == [(c + 1) % 6 for c in range(6)]
    torch.testing.assert_close(pool_video(video, "raw-mean"), l2_normalise(video.float().mean(dim=(1, 2))))
    tops = {}
    for pool in ("normalised-mean", "raw-mean"):
        result = CliRunner().invoke(app, ["train-head", "--features", str(tmp_path / "cache"), "--source-features",
                                          str(tmp_path / "cache"), "--tau", "0", "--head", "frozen", "--protocol",
                                          "cross-full", "--pool", pool, "--out", str(tmp_path / pool)])
        assert result.exit_code == 0, result.output
        tops[pool] = json.loads((tmp_path / pool / "metrics.json").read_text())["mean"]["top1"]
    assert tops == {"normalised-mean": 0.0, "raw-mean": 100.0}
    wrong_head = CliRunner().invoke(app, ["train-head", "--features", str(tmp_path / "cache"), "--head", "ridge",
                                          "--protocol", "within-half", "--pool", "raw-mean", "--out", str(tmp_path / "r")])
    assert wrong_head.exit_code == 2 and "pool" in wrong_head.output and not (tmp_path / "r").exists()
    with pytest.raises(Exception, match="frozen pool 'max' is not one of normalised-mean, raw-mean"):
        create_head("frozen", HeadDims(video_dim=6, text_dim=6, frames=2, n_classes=6, shared_space=True), pool="max")
