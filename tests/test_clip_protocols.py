"""k600-novel and base-to-novel on caches with the real class names, and the shipped lists' checksums."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from typer.testing import CliRunner

from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.heads import class_lists
from zsar.heads.class_lists import (base_novel, class_key, few_shot_videos, k600_novel_classes, k600_novel_split,
                                    kinetics_labels, read_list)
from zsar.heads.experiment import TrainHeadConfig, train_head
from zsar.runs.checkpoints import read_checkpoint
from zsar.heads.clip_protocols import LISTS_SEED, BaseToNovelOptions
from zsar.testing import random_text

pytestmark = pytest.mark.usefixtures("single_thread")

RENAMED = ["changing wheel (not on bike)", "cooking sausages (not on barbeque)", "dyeing hair", "hugging (not baby)",
           "inflating balloons", "making the bed", "opening bottle (not wine)", "person collecting garbage",
           "throwing ball (not baseball or American football)", "tying necktie", "waking up"]


def _cache(folder, names, per_class=1, dataset="arrays", dim=8, seed=0, splits=None, video_ids=None, text_dim=64):
    labels = np.repeat(np.arange(len(names)), per_class)
    features = np.random.default_rng(seed).normal(size=(len(labels), 1, 2, dim)).astype(np.float32)
    # one draw over every name, so both caches give a name one vector; 64-d: no two other names are near
    text = random_text(sorted(set(names) | set(kinetics_labels(400)) | set(kinetics_labels(600))), dim=text_dim,
                       seed=1).subset(names)
    write_cache_from_arrays(folder, features, labels, names, dataset=dataset, text=text, splits=splits,
                            video_ids=video_ids)
    return labels


def test_the_shipped_lists_are_the_published_ones():
    k400, k600 = kinetics_labels(400), kinetics_labels(600)
    novel = k600_novel_classes()
    assert len(k400) == 400 and len(k600) == 600 and len(novel) == 220
    keys = lambda names: {class_key(n) for n in names}  # noqa: E731 ("passing American football" in K400)
    assert len(keys(k600) - keys(k400)) == 231  # set difference is not the novel set ...
    assert keys(k600) - keys(k400) - keys(novel) == keys(RENAMED)  # ... 11 are renamed K400 classes
    for split in (1, 2, 3):
        listed = k600_novel_split(split)
        assert len(set(listed)) == 160 and set(listed) <= set(novel) and listed == sorted(listed)
    assert len(set().union(*(k600_novel_split(s) for s in (1, 2, 3)))) == 217
    for name, sizes in {"k400": (200, 200), "hmdb51": (26, 25), "ucf101": (51, 50), "ssv2": (87, 87)}.items():
        base, novel_half = base_novel(name)
        assert (len(base), len(novel_half)) == sizes and not set(base) & set(novel_half)
        assert len(few_shot_videos(name, 1)) == 16 * sizes[0]


def test_a_changed_list_is_refused(tmp_path, monkeypatch):
    shutil.copytree(class_lists.DATA, tmp_path / "data")
    with open(tmp_path / "data" / "k600_novel" / "split1.txt", "a") as f:
        f.write("juggling fire\n")
    monkeypatch.setattr(class_lists, "DATA", tmp_path / "data")
    read_list.cache_clear()
    try:
        with pytest.raises(ZsarError, match=r"k600_novel/split1.txt has sha256 \w+, not \w+ as SHA256SUMS says"):
            k600_novel_split(1)
    finally:
        read_list.cache_clear()


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinetics")
    _cache(root / "k400", kinetics_labels(400), per_class=2, dataset="kinetics400")
    _cache(root / "k600", kinetics_labels(600), per_class=1, dataset="kinetics600", seed=1)
    return root


def test_k600_novel_tests_exactly_the_listed_classes(kinetics, tmp_path):
    """With the default options k600-novel trains on all 400 K400 classes, as every paper that reports it."""
    metrics = train_head(TrainHeadConfig(features=kinetics / "k600", source_features=kinetics / "k400",
                                         out=tmp_path / "run", head="ridge", protocol="k600-novel"))
    assert [s.split for s in metrics.splits] == [1, 2, 3]
    assert all(s.n_classes == 160 and s.n_test == 160 for s in metrics.splits)
    table = pq.read_table(tmp_path / "run" / "predictions.parquet").to_pydict()
    for split in (1, 2, 3):
        rows = [i for i, s in enumerate(table["split"]) if s == split]
        assert sorted({table["true_class"][i] for i in rows}) == k600_novel_split(split)
        predicted = {c for i in rows for c in table["pred_classes"][i]}
        assert predicted <= set(k600_novel_split(split)) and not predicted & set(RENAMED)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert len(config["source_classes"]) == 400 and config["tau"] == 0.0 and config["protocol_options"] == {"tau": 0.0}
    assert not any("tau" in note for note in metrics.notes)


def test_k600_novel_filters_the_source_against_the_novel_classes_only(kinetics, tmp_path):
    """``--tau 0.05`` still filters, against the 220 novel classes only, and a note says it is not the papers' set."""
    _cache(tmp_path / "k400", kinetics_labels(400) + ["arguing"], per_class=2, dataset="kinetics400")
    metrics = train_head(TrainHeadConfig(features=kinetics / "k600", source_features=tmp_path / "k400",
                                         out=tmp_path / "run", head="ridge", protocol="k600-novel", splits=1,
                                         protocol_options={"tau": 0.05}))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    # every K400 class is also a K600 class (same text), but none is novel: against all 600 none would be kept;
    # "arguing" is a novel class, and goes
    assert len(config["source_classes"]) == 400 and "arguing" not in config["source_classes"]
    note = next(note for note in metrics.notes if "--tau 0.05" in note)
    assert "against the 220 novel Kinetics-600 classes" in note and "train on all 400 classes (--tau 0" in note
    assert not any("UCF101" in n or "HMDB51" in n for n in metrics.notes)


def test_a_cache_missing_a_listed_class_is_one_error_naming_it(kinetics, tmp_path):
    names = [n for n in kinetics_labels(600) if n != "arguing"]
    _cache(tmp_path / "k600", names, dataset="kinetics600")
    with pytest.raises(ZsarError, match=r"k600-novel split 1 lists class 'arguing', which --features .* does not"):
        train_head(TrainHeadConfig(features=tmp_path / "k600", source_features=kinetics / "k400",
                                   out=tmp_path / "run", head="ridge", protocol="k600-novel"))


def _ucf(folder, video_ids=None):
    base, novel = base_novel("ucf101")
    names = sorted(base + novel, key=str.lower)
    labels = np.repeat(np.arange(len(names)), 4)
    column = np.tile(["train", "train", "train", "test"], len(names)).tolist()
    ids = video_ids or [f"{names[c]}/v_{names[c]}_g{i:02d}_c01" for c, i in zip(labels, np.tile(np.arange(4),
                                                                                                 len(names)))]
    _cache(folder, names, per_class=4, dataset="ucf101", splits={"split1": column}, video_ids=ids)
    return names, base, novel


def test_base_to_novel_reports_base_novel_and_hm_per_seed(tmp_path):
    names, base, novel = _ucf(tmp_path / "ucf")
    metrics = train_head(TrainHeadConfig(features=tmp_path / "ucf", out=tmp_path / "run", head="ridge",
                                         protocol="base-to-novel", protocol_options={"base_train": "all"}))
    assert [s.split for s in metrics.splits] == [1, 2, 3] and metrics.measures == ("base-novel",)
    for s in metrics.splits:
        b, n = s.accuracies["base_top1"], s.accuracies["novel_top1"]
        assert s.accuracies["hm"] == pytest.approx(0 if b + n == 0 else 2 * b * n / (b + n))
        assert s.n_test == len(names) and "seen_top1" not in s.accuracies
    assert set(metrics.mean) >= {"base_top1", "novel_top1", "hm"}
    table = pq.read_table(tmp_path / "run" / "predictions.parquet").to_pydict()
    for true, predicted in zip(table["true_class"], table["pred_classes"]):
        assert predicted[0] in (base if true in base else novel)  # ranked within its own half
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["protocol_options"] == {"base_train": "all", "class_lists": None, "train_seed": LISTS_SEED}
    seeds = [read_checkpoint(tmp_path / "run" / f"split-{s}" / "checkpoint.pt").meta.train["seed"] for s in (1, 2, 3)]
    assert seeds == [LISTS_SEED, LISTS_SEED + 1, LISTS_SEED + 2]  # all: the training seed is what changes per seed
    printed = CliRunner().invoke(app, ["train-head", "--features", str(tmp_path / "ucf"), "--head", "ridge",
                                       "--protocol", "base-to-novel", "--base-train", "all", "--splits", "1",
                                       "--out", str(tmp_path / "cli")])
    assert printed.exit_code == 0, printed.output
    header = next(line for line in printed.output.splitlines() if line.strip().startswith("split"))
    assert header.split()[:6] == ["split", "top-1", "top-5", "base_top1", "novel_top1", "hm"]


def test_base_to_novel_16_shot_trains_on_vifi_clips_list(tmp_path):
    base, novel = base_novel("ucf101")
    listed = few_shot_videos("ucf101", 1)
    names = sorted(base + novel, key=str.lower)
    ids, chosen = [], 0
    for c, name in enumerate(names):  # the first 2 listed videos of each base class, then made-up ones
        mine = [v for v in listed if v.startswith(f"v_{name}_")][:2] if name in base else []
        ids += mine + [f"{name}/v_{name}_g99_c{j:02d}" for j in range(4 - len(mine))]
        chosen += len(mine)
    _ucf(tmp_path / "ucf", video_ids=ids)
    metrics = train_head(TrainHeadConfig(features=tmp_path / "ucf", out=tmp_path / "run", head="ridge",
                                         protocol="base-to-novel", splits=1))  # 16-shot: the default
    note = next(n for n in metrics.notes if "16-shot" in n)
    assert chosen > 90 and f"{816 - chosen} of ViFi-CLIP's 816" in note and f"trained on the {chosen} it has" in note
    assert read_checkpoint(tmp_path / "run" / "split-1" / "checkpoint.pt").meta.train["seed"] == LISTS_SEED
    with pytest.raises(ZsarError, match="--base-train 'five-shot' is not one of 16-shot, all"):
        BaseToNovelOptions(base_train="five-shot")
    with pytest.raises(ZsarError, match="--protocol base-to-novel has no option 'tau'"):
        train_head(TrainHeadConfig(features=tmp_path / "ucf", out=tmp_path / "run2", head="ridge",
                                   protocol="base-to-novel", protocol_options={"tau": 0.1}))


def test_base_to_novel_needs_lists_for_the_dataset(tmp_path):
    _cache(tmp_path / "c", ["a", "b", "c"], per_class=2, splits={"split1": ["train", "test"] * 3})
    with pytest.raises(ZsarError, match="not for dataset 'arrays'; pick one with --class-lists NAME"):
        train_head(TrainHeadConfig(features=tmp_path / "c", out=tmp_path / "run", head="ridge",
                                   protocol="base-to-novel"))
    with pytest.raises(ZsarError, match="base-to-novel ucf101 base list lists class 'Typing'"):
        train_head(TrainHeadConfig(features=tmp_path / "c", out=tmp_path / "run2", head="ridge",
                                   protocol="base-to-novel", protocol_options={"class_lists": "ucf101"}))


def test_the_recipe_commands_parse_with_the_cli():
    import re
    import shlex
    from pathlib import Path

    import typer

    from zsar.cli import app

    text = (Path(__file__).resolve().parent.parent / "docs" / "clip-era.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()
                if line.startswith("zsar ")]
    assert len(commands) >= 20
    group = typer.main.get_command(app)
    for line in commands:
        args = shlex.split(line)[1:]
        ctx = group.context_class(group, info_name="zsar")
        command = group.get_command(ctx, args[0])
        assert command is not None, line
        try:
            command.make_context(args[0], args[1:], parent=ctx)  # parses and checks every option, runs nothing
        except Exception as error:  # typer's own click: a usage error (unknown or missing option, bad value)
            raise AssertionError(f"{line}: {error}") from None
