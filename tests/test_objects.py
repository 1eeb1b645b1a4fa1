"""The training-free ``objects`` head (Objects2action, ConSE) on caches whose classifier's top objects are known."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch

from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cache.objects import find_object_vocabulary, read_object_vocabulary, write_object_vocabulary
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, HeadDims, create_head, head_class
from zsar.heads.experiment import TrainHeadConfig, train_head
from zsar.heads.objects import ObjectsConfig, objects_scores
from zsar.testing import PlantedObjectsConfig, random_object_vocabulary, random_text, write_planted_objects_cache

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return write_planted_objects_cache(tmp_path_factory.mktemp("planted") / "cache", PlantedObjectsConfig())


def _features(planted):
    from zsar.cache.features import load_features

    return load_features(planted.layout.root)


@pytest.mark.parametrize("rule", ["objects2action", "conse"])
def test_the_labels_closest_to_a_videos_objects_rank_first(planted, rule):
    features = _features(planted)
    head = create_head("objects", HeadDims(video_dim=32, text_dim=64, frames=4, n_classes=6), rule=rule, top_t=3)
    head.set_objects(planted.vocabulary.weight, planted.vocabulary.bias, planted.vocabulary.embeddings)
    probabilities = head.object_probabilities(torch.as_tensor(features.features))
    top = probabilities.topk(2, dim=1).indices.numpy()
    for i, label in enumerate(features.labels):  # the planted objects are the classifier's top objects
        assert set(top[i]) == set(planted.class_objects[label])
    scores = objects_scores(features.features, planted.vocabulary, planted.text, ObjectsConfig(rule=rule, top_t=3))
    assert (scores.argmax(axis=1) == features.labels).all()  # the label whose text is closest to those objects
    # and the rule reads the text: label texts in another order move the answers with them
    order = np.roll(np.arange(6), 1)
    moved = planted.text.subset([planted.text.class_names[j] for j in order])
    moved.class_names = list(planted.text.class_names)
    shuffled = objects_scores(features.features, planted.vocabulary, moved, ObjectsConfig(rule=rule, top_t=3))
    np.testing.assert_array_equal(order[shuffled.argmax(axis=1)], features.labels)


def test_objects2action_is_the_papers_sum_over_each_labels_top_objects(planted):
    features = _features(planted).features[:5]
    vocabulary, text = planted.vocabulary, planted.text
    scores = objects_scores(features, vocabulary, text, ObjectsConfig(top_t=7))
    x = torch.as_tensor(features).float()
    p = torch.softmax(x @ torch.as_tensor(vocabulary.weight).T + torch.as_tensor(vocabulary.bias), -1).mean(dim=(1, 2))
    affinity = torch.as_tensor(text.mean) @ torch.as_tensor(vocabulary.embeddings).T  # (C, K)
    top = affinity.topk(7, dim=1).indices
    expected = torch.stack([(p[:, top[a]] * affinity[a, top[a]]).sum(dim=1) for a in range(len(affinity))], dim=1)
    ratio = scores / expected.numpy()  # one positive factor per video (its probabilities' norm, the labels' scale)
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(ratio.shape[1], axis=1), rtol=1e-4)
    assert (ratio > 0).all()


def test_conse_is_the_convex_combination_of_the_videos_top_objects(planted):
    features = _features(planted).features[:4]
    vocabulary, text = planted.vocabulary, planted.text
    scores = objects_scores(features, vocabulary, text, ObjectsConfig(rule="conse", top_t=10))
    x = torch.as_tensor(features).float()
    p = torch.softmax(x @ torch.as_tensor(vocabulary.weight).T + torch.as_tensor(vocabulary.bias), -1).mean(dim=(1, 2))
    values, index = p.topk(10, dim=1)
    f = (values[:, :, None] * torch.as_tensor(vocabulary.embeddings)[index]).sum(1) / values.sum(1, keepdim=True)
    expected = torch.nn.functional.normalize(f, dim=1) @ torch.as_tensor(text.mean).T
    np.testing.assert_allclose(scores, expected.numpy(), atol=1e-5)


def test_train_head_runs_objects_training_free_and_the_checkpoint_keeps_the_vocabulary(planted, tmp_path):
    metrics = train_head(TrainHeadConfig(features=planted.layout.root, out=tmp_path / "run", head="objects",
                                         protocol="within-half", splits=2))
    assert [s.top1 for s in metrics.splits] == [100.0, 100.0]
    assert not (tmp_path / "run" / "split-0" / "selection.json").exists()  # never selected
    state = torch.load(tmp_path / "run" / "split-0" / "checkpoint.pt", weights_only=True)
    state = state.get("state_dict", state)
    np.testing.assert_allclose(state["classifier_weight"].numpy(), planted.vocabulary.weight)
    assert bool(state["bound"])


def test_a_cache_without_an_object_vocabulary_is_refused_before_any_split(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(4)]
    layout = write_cache_from_arrays(tmp_path / "cache", rng.normal(size=(8, 1, 2, 32)).astype(np.float32),
                                     np.repeat(np.arange(4), 2), names, text=random_text(names, dim=16))
    with pytest.raises(ZsarError, match=r"--head objects: --features .* has no object vocabulary for its test-enc "
                                         r"text; .*add_object_vocabulary"):
        train_head(TrainHeadConfig(features=layout.root, out=tmp_path / "run", head="objects", protocol="within-half",
                                   splits=1))
    assert not (tmp_path / "run").exists()


def test_an_unbound_head_and_bad_options_are_one_line_errors():
    dims = HeadDims(video_dim=8, text_dim=4, frames=2, n_classes=3)
    head = create_head("objects", dims)
    with pytest.raises(ZsarError, match="has no object vocabulary yet"):
        head.embed_video(torch.zeros(1, 1, 2, 8))
    with pytest.raises(ZsarError, match="objects top_t=0: must be 1 to 1000"):
        create_head("objects", dims, top_t=0)
    with pytest.raises(ZsarError, match="conse|objects2action"):
        create_head("objects", dims, rule="knn")
    with pytest.raises(ZsarError, match=r"\(1000, 8\) and \(1000, 4\)"):
        head.set_objects(np.zeros((1000, 16)), np.zeros(1000), np.zeros((1000, 4)))
    assert head_class("objects").training_free and head_class("objects").needs_objects


def test_the_vocabulary_file_round_trips_and_damage_is_named(tmp_path):
    vocabulary = random_object_vocabulary(8, 4, seed=3)
    path = write_object_vocabulary(tmp_path, vocabulary)
    back = read_object_vocabulary(path)
    np.testing.assert_array_equal(back.weight, vocabulary.weight)
    assert back.names == vocabulary.names and back.key == vocabulary.key
    assert find_object_vocabulary(tmp_path, "test-classifier", "test-enc", "random").key == vocabulary.key
    assert find_object_vocabulary(tmp_path, "other-weights", "test-enc", "random") is None
    with open(path, "r+b") as f:
        f.seek(-10, 2)
        f.write(b"0123456789")
    with pytest.raises(ZsarError, match="does not match its checksum file"):
        read_object_vocabulary(path)
    assert find_object_vocabulary(tmp_path, "test-classifier", "test-enc", "random") is None  # rebuilt by its caller


def test_the_shipped_names_are_checked_against_their_sha256(tmp_path, monkeypatch):
    from zsar.extract import objects

    names, digest = objects.imagenet_class_names()
    assert len(names) == 1000 and names[:2] == ("tench", "goldfish") and names[444] == "tandem bicycle"
    assert digest == hashlib.sha256((objects.DATA / objects.NAMES_FILE).read_bytes()).hexdigest()
    shutil.copytree(objects.DATA, tmp_path / "data")
    (tmp_path / "data" / objects.NAMES_FILE).write_text("\n".join(names[:-1]) + "\ntoilet tissue\n")
    monkeypatch.setattr(objects, "DATA", tmp_path / "data")
    objects.imagenet_class_names.cache_clear()
    try:
        with pytest.raises(ZsarError, match="imagenet1k.txt have sha256 .* the file was changed"):
            objects.imagenet_class_names()
    finally:
        objects.imagenet_class_names.cache_clear()


def test_a_backbone_without_a_classifier_is_refused_naming_those_with_one(tmp_path):
    from zsar.extract.objects import add_object_vocabulary, classifier_backbones

    names = ["a", "b"]
    layout = write_cache_from_arrays(tmp_path / "cache", np.zeros((2, 1, 2, 32), np.float32), np.arange(2), names,
                                     backbone="tiny-random", text=random_text(names, dim=16))
    assert classifier_backbones() == ["efficientnet-lite0"]
    with pytest.raises(ZsarError, match=r"holds tiny-random features, and tiny-random has no classifier of its own; "
                                        r".*: efficientnet-lite0 \(extract with --backbone efficientnet-lite0\)"):
        add_object_vocabulary(layout.root)


def test_efficientnet_lite0s_own_classifier_and_the_encoders_names_are_stored_once(tmp_path, monkeypatch):
    from zsar.extract import objects
    from zsar.extract.models.backbones import BackboneConfig, create_backbone

    backbone = create_backbone(BackboneConfig(name="efficientnet-lite0"))
    names = ["ride a bike", "play guitar"]
    text = random_text(names, dim=16)
    text.encoder, text.model_id = "tiny-random", "tiny-random:sha256"
    layout = write_cache_from_arrays(tmp_path / "cache", np.zeros((2, 1, 2, 1280), np.float32), np.arange(2), names,
                                     backbone="efficientnet-lite0", text=text,
                                     extra_config={"weights_id": backbone.weights_id})
    vocabulary = objects.add_object_vocabulary(layout.root)
    np.testing.assert_array_equal(vocabulary.weight, backbone.classifier.weight.detach().numpy())
    assert vocabulary.embeddings.shape == (1000, 16) and vocabulary.template == "{}"  # word vectors: bare names
    assert len(list((layout.root / "objects").glob("*.h5"))) == 1
    monkeypatch.setattr(objects, "create_backbone", lambda config: pytest.fail("the vocabulary is built again"))
    assert objects.add_object_vocabulary(layout.root).key == vocabulary.key


def test_a_sweep_runs_objects_by_default_only_where_the_cache_has_a_vocabulary(planted, tmp_path):
    from zsar.sweep.grid import SweepConfig, default_heads

    with_vocabulary = default_heads(SweepConfig(features=planted.layout.root, out=tmp_path / "a"))
    assert with_vocabulary[:2] == ["ridge", "objects"] and "frozen" not in with_vocabulary
    names = ["a", "b", "c", "d"]
    plain = write_cache_from_arrays(tmp_path / "plain", np.zeros((4, 1, 2, 32), np.float32), np.arange(4), names,
                                    text=random_text(names, dim=16))
    assert "objects" not in default_heads(SweepConfig(features=plain.root, out=tmp_path / "b"))


def test_cli_train_head_and_sweep_run_objects_on_a_cache_with_a_vocabulary(planted, tmp_path):
    from typer.testing import CliRunner

    from zsar.cli import app

    result = CliRunner().invoke(app, ["train-head", "--features", str(planted.layout.root), "--head", "objects",
                                      "--protocol", "within-half", "--splits", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "mean±std 100.00" in result.output
    result = CliRunner().invoke(app, ["sweep", "--features", str(planted.layout.root), "--heads", "objects",
                                      "--generator", "off", "--transfer", "none", "--splits", "1",
                                      "--out", str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert any(line.startswith("| objects ") and "100.0 ± 0.0" in line for line in result.output.splitlines())


def test_predict_without_a_run_takes_objects_when_no_clip_weights_are_here_and_says_so(tmp_path, monkeypatch):
    from zsar.predict import PredictConfig, parse_labels
    from zsar.predict.choice import training_free_choice
    from zsar.testing import write_hf_snapshot, write_tiny_clip

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    labels = parse_labels("riding a bike, playing guitar")
    config, note = training_free_choice(PredictConfig(videos=("v.mp4",), labels=labels))
    assert (config.head, config.backbone, config.text_encoder) == ("objects", "efficientnet-lite0", "minilm")
    assert note.startswith("no CLIP weights here (clip-vit-b16: `hf download openai/clip-vit-base-patch16` gets "
                           "them), so the training-free objects head") and "never by motion" in note
    explicit, _ = training_free_choice(PredictConfig(videos=("v.mp4",), labels=labels, backbone="efficientnet-lite0"))
    assert explicit.head == "objects"  # a backbone with a classifier and no joint text space
    write_hf_snapshot(tmp_path / "hf" / "hub", "openai/clip-vit-base-patch16", write_tiny_clip(tmp_path / "clip"))
    config, note = training_free_choice(PredictConfig(videos=("v.mp4",), labels=labels))
    assert (config.head, config.backbone, config.text_encoder) == ("frozen", "clip-vit-b16", "clip")
    assert note.startswith("frozen clip-vit-b16 (its weights are here: ")
