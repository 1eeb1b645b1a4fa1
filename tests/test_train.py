"""``zsar train-head`` end to end (CliRunner on test-built caches), the run directory, the training loop."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from _heads_data import protocol_data
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.runs.checkpoints import read_checkpoint
from zsar.runs.results import RunReader
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.heads.base import HEADS, create_head, HeadDims
from zsar.heads.experiment import TrainHeadConfig, resolve, train_for_plan
from zsar.heads.protocols import within_half
from zsar.heads.train import TrainConfig, warmup_cosine
from zsar.testing import StructuredConfig, make_structured_features

pytestmark = pytest.mark.usefixtures("single_thread")

runner = CliRunner()
SMALL = StructuredConfig(classes=10, videos=120, clips=2, frames=4, dim=16, text_dim=8)
QUICK = ["--epochs", "2", "--batch-size", "16", "--no-select"]


@pytest.fixture
def cache(structured_cache):
    return structured_cache(SMALL)


def _train(cache, out, *args):
    return runner.invoke(app, ["train-head", "--features", str(cache), "--out", str(out), *QUICK, *args])


@pytest.mark.parametrize("head", ["ridge", "linear", "actionclip", "aurl", "rest"])
def test_train_head_within_half_writes_the_run_dir(cache, tmp_path, head):
    out = tmp_path / "run"
    result = _train(cache, out, "--head", head, "--protocol", "within-half", "--splits", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{head} on within-half: 3 split(s), run in {out}"
    assert lines[1].split() == ["split", "top-1", "top-5", "selected"] and lines[-1].startswith("mean±std")
    assert [line.split()[0] for line in lines[2:5]] == ["0", "1", "2"]
    assert all(line.split()[-1] == "-" for line in lines[2:5])  # --no-select
    run = RunReader(out)
    config = run.config
    assert config.head == head and config.protocol == "within-half" and config.splits == 3
    assert config.features.key and config.features.path == str(cache)
    assert config.transfer["mode"] == ("semantic" if head == "rest" else "none")
    metrics = run.metrics
    assert [m.split for m in metrics.splits] == [0, 1, 2]
    assert all(m.n_classes == 5 and 0 <= m.top1 <= m.top5 <= 100 for m in metrics.splits)
    assert metrics.mean["top1"] == pytest.approx(np.mean([m.top1 for m in metrics.splits]))
    for split in run.splits():
        assert split.test_embeddings.shape[0] == len(split.test_video_ids) == split.scores.shape[0]
        assert split.prototypes.shape == (5, split.test_embeddings.shape[1])
        assert set(split.train_labels) == set(np.flatnonzero(split.seen))
        assert not split.seen[split.test_classes].any()
        ckpt = read_checkpoint(out / f"split-{split.split}" / "checkpoint.pt")
        assert ckpt.meta.head == head and ckpt.meta.config_hash == config.config_hash
        rebuilt = create_head(head, HeadDims(**ckpt.meta.dims), **ckpt.meta.config)
        rebuilt.load_state_dict(ckpt.state_dict)  # strict: the checkpoint rebuilds the head
    log = run.log()
    epochs = (1,) if head == "ridge" else (1, 2)  # the ridge is solved, not trained
    assert [(r.split, r.epoch) for r in log] == [(s, e) for s in range(3) for e in epochs]
    table = pq.read_table(out / "predictions.parquet").to_pydict()
    assert len(table["video_id"]) == sum(len(s.test_video_ids) for s in run.splits())
    assert all(len(p) == 5 for p in table["pred_classes"])


def test_checkpoint_loads_with_weights_only(cache, tmp_path):
    assert _train(cache, tmp_path / "r", "--head", "aurl", "--protocol", "within-half", "--splits", "1").exit_code == 0
    ckpt = torch.load(tmp_path / "r" / "split-0" / "checkpoint.pt", weights_only=True)
    assert set(ckpt) == {"state_dict", "meta"} and "centres.weight" in ckpt["state_dict"]
    assert ckpt["meta"]["train_classes"] and ckpt["meta"]["config"]["generator"] == "interpolate"


def test_an_existing_out_is_refused_unless_it_is_the_same_run(cache, tmp_path):
    out = tmp_path / "run"
    args = ["--head", "linear", "--protocol", "within-half", "--splits", "2"]
    assert _train(cache, out, *args).exit_code == 0
    first = json.loads((out / "metrics.json").read_text())
    again = _train(cache, out, *args)
    assert again.exit_code == 0 and json.loads((out / "metrics.json").read_text()) == first
    other = _train(cache, out, "--head", "linear", "--protocol", "within-half", "--splits", "2", "--lr", "0.5")
    assert other.exit_code == 2
    assert other.output.startswith(f"error: --out {out} holds a run with other settings (train.lr: 0.003 -> 0.5); ")
    assert "choose another --out" in other.output
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    refused = _train(cache, tmp_path / "junk", *args)
    assert refused.exit_code == 2 and "exists and is not a zsar run" in refused.output


def test_a_resumed_run_redoes_only_the_missing_splits(cache, tmp_path):
    out = tmp_path / "run"
    args = ["--head", "linear", "--protocol", "within-half", "--splits", "2"]
    assert _train(cache, out, *args).exit_code == 0
    first = json.loads((out / "metrics.json").read_text())
    (out / "split-1" / "embeddings.h5").unlink()
    assert _train(cache, out, *args).exit_code == 0
    assert json.loads((out / "metrics.json").read_text()) == first  # deterministic: the same numbers


def test_gzsl_prints_seen_unseen_and_harmonic(cache, tmp_path):
    result = _train(cache, tmp_path / "g", "--head", "linear", "--protocol", "gzsl", "--splits", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == ["split", "top-1", "top-5", "seen_top1", "unseen_top1", "harmonic",
                                                     "selected"]
    m = json.loads((tmp_path / "g" / "metrics.json").read_text())
    assert m["measures"] == ["seen-unseen"]
    for s in m["splits"]:
        a = s["accuracies"]
        assert s["n_classes"] == 10
        assert a["harmonic"] == pytest.approx(2 * a["seen_top1"] * a["unseen_top1"] /
                                              max(a["seen_top1"] + a["unseen_top1"], 1e-9))


def test_cross_half_with_a_source_cache_and_rerank(tmp_path):
    data = make_structured_features(StructuredConfig(classes=20, videos=200, dim=16, text_dim=8))
    src, tgt = data.labels < 12, data.labels >= 10
    write_cache_from_arrays(tmp_path / "src", data.features[src], data.labels[src], data.class_names[:12],
                            dataset="kinetics", backbone="b", text=data.text.subset(data.class_names[:12]))
    write_cache_from_arrays(tmp_path / "tgt", data.features[tgt], data.labels[tgt] - 10, data.class_names[10:],
                            dataset="ucf", backbone="b", text=data.text.subset(data.class_names[10:]))
    result = runner.invoke(app, ["train-head", "--features", str(tmp_path / "tgt"), "--source-features",
                                 str(tmp_path / "src"), "--head", "linear", "--protocol", "cross-half", "--splits", "3",
                                 "--rerank", "csls", "--out", str(tmp_path / "run"), *QUICK])
    assert result.exit_code == 0, result.output
    run = RunReader(tmp_path / "run")
    assert run.config.source_features.path == str(tmp_path / "src") and run.config.tau == 0.05
    splits = run.splits()
    assert splits[0].class_names[:10] == [f"kinetics/class_{i:03d}" for i in range(10)]  # 2 overlapping dropped
    ckpts = [tmp_path / "run" / f"split-{i}" / "checkpoint.pt" for i in range(3)]
    assert len({p.stat().st_ino for p in ckpts}) == 1  # one model, linked into every split


def test_generator_flags_set_the_head_option(tmp_path):
    from zsar.cli.heads import _generator_mode

    assert _generator_mode(None, None) is None  # the head's default
    assert _generator_mode(False, None) == "none"
    assert _generator_mode(True, None) == "interpolate"
    assert _generator_mode(None, "extrapolate") == "extrapolate"
    base = dict(features=tmp_path, out=tmp_path, head="aurl", protocol="gzsl")
    assert resolve(TrainHeadConfig(**base)).head_options == {}  # AURL's config default: interpolate
    assert resolve(TrainHeadConfig(**base, generator="extrapolate")).head_options == {"generator": "extrapolate"}
    assert resolve(TrainHeadConfig(**base, generator="none")).head_options == {"generator": "none"}


def test_user_mistakes_are_one_line_errors(cache, tmp_path):
    gen = _train(cache, tmp_path / "a", "--head", "linear", "--protocol", "within-half", "--generator")
    assert gen.exit_code == 2
    assert gen.output == ("error: --generator: head linear has no visual centres to mix; use it with aurl or rest, "
                          "or drop --generator\n")
    unknown = _train(cache, tmp_path / "b", "--head", "mlp", "--protocol", "within-half")
    assert unknown.output == "error: unknown head 'mlp'; valid heads: actionclip, aurl, frozen, linear, objects, rest, ridge\n"
    protocol = _train(cache, tmp_path / "c", "--head", "rest", "--protocol", "half")
    assert "valid protocols: base-to-novel, cross-full, cross-half, gzsl, k600-novel, official, within-half" in protocol.output
    rerank = _train(cache, tmp_path / "d", "--head", "rest", "--protocol", "gzsl", "--rerank", "hub")
    assert "valid re-rankers: csls, inverted-softmax, none" in rerank.output
    if not torch.cuda.is_available():
        cuda = _train(cache, tmp_path / "e", "--head", "rest", "--protocol", "gzsl", "--device", "cuda")
        assert cuda.exit_code == 2 and "--device cuda: no CUDA device here" in cuda.output


def test_nan_features_are_named(tmp_path):
    data = make_structured_features(SMALL)
    features = data.features.copy()
    features[3, 0, 1, 2] = np.nan
    write_cache_from_arrays(tmp_path / "c", features, data.labels, data.class_names, text=data.text,
                            video_ids=[f"clip{i}" for i in range(len(features))])
    result = _train(tmp_path / "c", tmp_path / "r", "--head", "linear", "--protocol", "within-half")
    assert result.exit_code == 2 and "1 video(s)" in result.output and "(clip3)" in result.output


def test_help_lists_the_registered_heads_and_protocols():
    from zsar.heads.protocols import PROTOCOLS

    text = " ".join(runner.invoke(app, ["train-head", "--help"], env={"COLUMNS": "300"}).output.split())
    assert "Head: actionclip, aurl, frozen, linear, objects, rest, ridge (ridge is the closed-form baseline)" in text
    assert HEADS.names() == ["actionclip", "aurl", "frozen", "linear", "objects", "rest", "ridge"]
    assert "Protocol: base-to-novel, cross-full, cross-half, gzsl, k600-novel, official, within-half." in text
    assert PROTOCOLS.names() == ["base-to-novel", "cross-full", "cross-half", "gzsl", "k600-novel", "official", "within-half"]
    assert "Hubness reduction: csls, inverted-softmax, none." in text and "{" not in text


def test_training_is_deterministic_on_cpu(tmp_path):
    data = protocol_data(SMALL)
    plan = next(within_half(data, 1))

    def trained(seed):
        config = TrainHeadConfig(features=tmp_path, out=tmp_path, head="rest", protocol="within-half",
                                 train=TrainConfig(epochs=2, batch_size=16, seed=seed),
                                 head_options={"dropout": 0.1, "generator": "extrapolate"})
        return train_for_plan(resolve(config), plan, run=None)

    a, b, c = trained(3), trained(3), trained(4)
    for (name, x), y in zip(a.head.state_dict().items(), b.head.state_dict().values()):
        assert torch.equal(x, y), name
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    assert not torch.equal(a.head.video_in.weight, c.head.video_in.weight)


def test_warmup_then_cosine_schedule():
    f = warmup_cosine(total_steps=110, warmup_steps=10)
    assert f(0) == pytest.approx(1 / 11) and f(9) == pytest.approx(10 / 11)
    assert f(10) == pytest.approx(1.0) and f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0)
    assert all(f(i) >= f(i + 1) for i in range(10, 110))

    with pytest.raises(ZsarError, match="--epochs 0: must be at least 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ZsarError, match="--lr nan: must be a finite number above 0"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ZsarError, match="give one budget, not both"):
        TrainConfig(steps=10, epochs=2)
