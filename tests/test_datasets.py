"""Dataset adapters on tiny fixture trees (empty placeholder videos: adapters never decode)."""

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zsar.errors import UnknownNameError, ZsarError
from zsar.extract.datasets import DatasetConfig, create_dataset, list_datasets, natural_text
from zsar.heads.protocols import e2e_half_classes
from zsar.synth import SynthConfig, generate_dataset


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


HMDB = {"brush_hair": ["a.avi", "b.avi", "c.avi"], "Clap": ["d.avi", "e.avi"]}


def make_hmdb(root: Path, videos: str = "videos", splits: str = "testTrainMulti_7030_splits") -> Path:
    """Two classes; video k of split file n has id [1, 2, 0][(k + n - 1) % 3] (1 train, 2 test, 0 unused)."""
    for cls, names in HMDB.items():
        for k, name in enumerate(names):
            touch(root / videos / cls / name)
        for n in (1, 2, 3):
            ids = [(k + n - 1) % 3 for k in range(len(names))]
            write(root / splits / f"{cls}_test_split{n}.txt",
                  "".join(f"{name} {[1, 2, 0][i]} \n" for name, i in zip(names, ids)))
    return root


def test_hmdb51_records_classes_and_splits(tmp_path):
    ds = create_dataset("hmdb51", DatasetConfig(make_hmdb(tmp_path)))
    assert ds.name == "hmdb51"
    assert ds.class_names == ["Clap", "brush_hair"]  # code-point order, as E2E's np.unique
    assert ds.class_texts == ["clap", "brush hair"]
    assert [r.video_id for r in ds.records] == ["Clap/d", "Clap/e", "brush_hair/a", "brush_hair/b", "brush_hair/c"]
    first = ds.records[2]
    assert first.path == tmp_path / "videos" / "brush_hair" / "a.avi" and first.path.is_absolute()
    assert first.label == "brush_hair" and math.isnan(first.start) and math.isnan(first.end)
    assert [r.splits for r in ds.records[2:]] == [("train", "test", "unused"), ("test", "unused", "train"),
                                                  ("unused", "train", "test")]
    assert "2 classes, 5 videos" in ds.found and "testTrainMulti_7030_splits" in ds.found


@pytest.mark.parametrize("videos,splits", [("", "splits"), ("videos", "annotations"), ("", "annotations")])
def test_hmdb51_alternative_layouts(tmp_path, videos, splits):
    ds = create_dataset("hmdb51", DatasetConfig(make_hmdb(tmp_path, videos, splits)))
    assert len(ds.records) == 5
    assert ds.records[2].path == tmp_path / videos / "brush_hair" / "a.avi"
    assert str(tmp_path / splits) in ds.found


def test_hmdb51_splits_override_and_unlisted_video(tmp_path):
    make_hmdb(tmp_path / "data", splits="../elsewhere")
    touch(tmp_path / "data" / "videos" / "Clap" / "extra.avi")
    ds = create_dataset("hmdb51", DatasetConfig(tmp_path / "data", splits=tmp_path / "elsewhere"))
    extra = next(r for r in ds.records if r.video_id == "Clap/extra")
    assert extra.splits == ("", "", "")
    assert "1 videos in no split file" in ds.found
    with pytest.raises(ZsarError, match="no split files.*--splits DIR"):
        create_dataset("hmdb51", DatasetConfig(tmp_path / "data"))


def test_hmdb51_missing_split_file_is_named(tmp_path):
    make_hmdb(tmp_path)
    (tmp_path / "testTrainMulti_7030_splits" / "Clap_test_split2.txt").unlink()
    with pytest.raises(ZsarError, match=r"has no split file .*Clap_test_split2\.txt"):
        create_dataset("hmdb51", DatasetConfig(tmp_path))


def test_hmdb51_listed_video_missing_on_disk(tmp_path):
    make_hmdb(tmp_path)
    (tmp_path / "videos" / "Clap" / "e.avi").unlink()
    with pytest.raises(ZsarError, match=r"1 videos listed .* missing on disk \(.*e\.avi"):
        create_dataset("hmdb51", DatasetConfig(tmp_path))


@pytest.mark.parametrize("entry", ["../a.avi", "../../../etc/passwd", "/etc/passwd", ".."])
def test_hmdb51_refuses_entries_outside_the_root(tmp_path, entry):
    make_hmdb(tmp_path)
    split = tmp_path / "testTrainMulti_7030_splits" / "Clap_test_split1.txt"
    split.write_text(split.read_text() + f"{entry} 1\n")
    with pytest.raises(ZsarError) as error:
        create_dataset("hmdb51", DatasetConfig(tmp_path))
    assert repr(entry) in str(error.value) and str(split) in str(error.value)


def test_nonexistent_root_and_unknown_name(tmp_path):
    for name in ("hmdb51", "ucf101", "kinetics400", "activitynet", "folder", "csv"):
        with pytest.raises(ZsarError, match=f"{tmp_path / 'nope'}.*does not exist"):
            create_dataset(name, DatasetConfig(tmp_path / "nope"))
    with pytest.raises(ZsarError, match=r"run `zsar synth .*nope` first"):
        create_dataset("synthetic", DatasetConfig(tmp_path / "nope"))
    with pytest.raises(UnknownNameError, match="hmdb52.*valid datasets: activitynet, csv, folder, hmdb51"):
        create_dataset("hmdb52", DatasetConfig(tmp_path))
    assert {"hmdb51", "ucf101", "kinetics400", "kinetics600", "kinetics700", "activitynet",
            "folder", "csv", "synthetic"} <= set(list_datasets())


def make_ucf(root: Path) -> Path:
    classes = ["ApplyEyeMakeup", "JumpingJack", "JumpRope"]  # classInd's (case-insensitive) order
    lists = root / "ucfTrainTestlist"
    write(lists / "classInd.txt", "".join(f"{i} {c}\r\n" for i, c in enumerate(classes, 1)))
    for n in (1, 2, 3):
        train, test = [], []
        for i, cls in enumerate(classes, 1):
            for g in (1, 2):
                entry = f"{cls}/v_{cls}_g0{g}_c01.avi"
                touch(root / "UCF-101" / entry)
                (train.append(f"{entry} {i}") if (g + n) % 2 else test.append(entry))
        write(lists / f"trainlist0{n}.txt", "\n".join(train) + "\n")
        write(lists / f"testlist0{n}.txt", "\n".join(test) + "\n")
    return root


def test_ucf101_lists(tmp_path):
    ds = create_dataset("ucf101", DatasetConfig(make_ucf(tmp_path)))
    assert ds.class_names == ["ApplyEyeMakeup", "JumpRope", "JumpingJack"]  # E2E's order, not classInd's
    assert ds.class_texts == ["apply eye makeup", "jump rope", "jumping jack"]
    assert len(ds.records) == 6
    r = ds.records[0]
    assert r.video_id == "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01"
    assert r.path == tmp_path / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"
    assert r.splits == ("test", "train", "test") and ds.records[1].splits == ("train", "test", "train")


def test_ucf101_errors(tmp_path):
    make_ucf(tmp_path)
    lists = tmp_path / "ucfTrainTestlist"
    (lists / "testlist03.txt").unlink()
    with pytest.raises(ZsarError, match=r"missing .*testlist03\.txt"):
        create_dataset("ucf101", DatasetConfig(tmp_path))
    write(lists / "testlist03.txt", "../../outside.avi\n")
    with pytest.raises(ZsarError, match=r"'\.\./\.\./outside\.avi' in .*testlist03\.txt"):
        create_dataset("ucf101", DatasetConfig(tmp_path))
    write(lists / "testlist03.txt", "")
    write(lists / "trainlist03.txt", "JumpRope/v_JumpRope_g01_c01.avi 1\n")
    with pytest.raises(ZsarError, match="classInd.txt, not the folder 'JumpRope'"):
        create_dataset("ucf101", DatasetConfig(tmp_path))
    write(lists / "classInd.txt", "1 ApplyEyeMakeup\n2 JumpingJack\n")
    with pytest.raises(ZsarError, match="only on disk: 'JumpRope'"):
        create_dataset("ucf101", DatasetConfig(tmp_path))


KINETICS_CSV = {
    "train.csv": [("abseiling", "aaaaaaaaaaa", 0, 10), ("air drumming", "-bbbbbbbbbb", 14, 24),
                  ("air drumming", "ccccccccccc", 5, 15)],
    "validate.csv": [("abseiling", "ddddddddddd", 100, 110), ("zumba", "eeeeeeeeeee", 3, 13)],
}


def make_kinetics(root: Path) -> Path:
    for file, rows in KINETICS_CSV.items():
        split = "train" if file == "train.csv" else "val"
        write(root / "annotations" / "kinetics400" / file,
              "label,youtube_id,time_start,time_end,split,is_cc\n"
              + "".join(f"{lab},{y},{s},{e},{split},0\n" for lab, y, s, e in rows))
    # label folders with spaces and with underscores; one clip ("zumba") is gone from YouTube
    touch(root / "train" / "abseiling" / "aaaaaaaaaaa_000000_000010.mp4")
    touch(root / "train" / "air drumming" / "-bbbbbbbbbb_000014_000024.mp4")
    touch(root / "train" / "air_drumming" / "ccccccccccc_000005_000015.mkv")
    touch(root / "val" / "abseiling" / "ddddddddddd_000100_000110.mp4")
    write(root / "annotations" / "kinetics400" / "test.csv", "youtube_id,time_start,time_end,split\n"
          "fffffffffff,1,11,test\n")
    return root


def test_kinetics_csv_and_missing_clips(tmp_path):
    ds = create_dataset("kinetics400", DatasetConfig(make_kinetics(tmp_path)))
    assert ds.class_names == ["abseiling", "air drumming", "zumba"]  # zumba kept: its clip is gone
    assert [r.video_id for r in ds.records] == ["aaaaaaaaaaa_000000_000010", "ddddddddddd_000100_000110",
                                                "-bbbbbbbbbb_000014_000024", "ccccccccccc_000005_000015"]
    assert [r.splits[0] for r in ds.records] == ["train", "val", "train", "train"]
    assert ds.records[3].path == tmp_path / "train" / "air_drumming" / "ccccccccccc_000005_000015.mkv"
    assert "4 of 5 clips" in ds.found and "1 missing on disk, skipped" in ds.found
    assert "1 unlabelled rows skipped" in ds.found
    val = create_dataset("kinetics400", DatasetConfig(tmp_path, subset="validation"))
    assert [r.video_id for r in val.records] == ["ddddddddddd_000100_000110"]
    assert val.class_names == ["abseiling", "zumba"]
    with pytest.raises(ZsarError, match="no Kinetics annotation CSVs.*--splits"):
        create_dataset("kinetics700", DatasetConfig(tmp_path / "train"))


def test_activitynet_segments(tmp_path):
    database = {
        "vid1": {"subset": "training", "duration": 20.0, "annotations": [
            {"segment": [1.5, 8.0], "label": "Ping-pong"}, {"segment": [10.0, 25.0], "label": "Beer pong"}]},
        "vid2": {"subset": "validation", "duration": 9.0, "annotations": [
            {"segment": [0.0, 4.0], "label": "Beer pong"}]},
        "gone": {"subset": "training", "duration": 5.0, "annotations": [
            {"segment": [0.0, 4.0], "label": "Archery"}]},
        "vid3": {"subset": "testing", "duration": 5.0, "annotations": []},
    }
    write(tmp_path / "annotations" / "activity_net.v1-3.min.json", json.dumps({"database": database}))
    touch(tmp_path / "a" / "b" / "v_vid1.mp4")
    touch(tmp_path / "vid2.webm")
    touch(tmp_path / "vid3.mkv")
    ds = create_dataset("activitynet", DatasetConfig(tmp_path))
    assert ds.class_names == ["Archery", "Beer pong", "Ping-pong"]
    assert ds.class_texts == ["archery", "beer pong", "ping pong"]
    got = [(r.video_id, r.label, r.splits[0], r.start, r.end, r.path.name) for r in ds.records]
    assert got == [("vid1#1", "Beer pong", "train", 10.0, 20.0, "v_vid1.mp4"),
                   ("vid2#0", "Beer pong", "val", 0.0, 4.0, "vid2.webm"),
                   ("vid1#0", "Ping-pong", "train", 1.5, 8.0, "v_vid1.mp4")]
    assert "1 segments of 1 missing videos skipped" in ds.found
    val = create_dataset("activitynet", DatasetConfig(tmp_path, subset="val"))
    assert [r.video_id for r in val.records] == ["vid2#0"]


def test_folder_dataset(tmp_path):
    touch(tmp_path / "walk" / "x.mp4")
    touch(tmp_path / "walk" / "sub" / "y.MOV")
    touch(tmp_path / "walk" / ".x.mp4.tmp")
    touch(tmp_path / "walk" / "notes.txt")
    touch(tmp_path / "Run" / "z.webm")
    ds = create_dataset("folder", DatasetConfig(tmp_path))
    assert ds.class_names == ["Run", "walk"]
    assert [(r.video_id, r.splits) for r in ds.records] == [
        ("Run/z", ("", "", "")), ("walk/sub/y", ("", "", "")), ("walk/x", ("", "", ""))]
    with pytest.raises(ZsarError, match="no videos found"):
        create_dataset("folder", DatasetConfig(tmp_path / "walk" / "sub"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_list(tmp_path, fmt):
    touch(tmp_path / "clips" / "one.mp4")
    touch(tmp_path / "clips" / "two.avi")
    rows = {"path": ["clips/one.mp4", "clips/two.avi"], "label": ["wave", "Bow"],
            "split": ["training", "test"]}
    listing = tmp_path / f"list.{fmt}"
    if fmt == "csv":
        write(listing, "path,label,split\n" + "".join(f"{p},{l},{s}\n" for p, l, s in zip(*rows.values())))
    else:
        pq.write_table(pa.table(rows), listing)
    for config in (DatasetConfig(listing), DatasetConfig(tmp_path, splits=listing)):
        ds = create_dataset("csv", config)
        assert ds.class_names == ["Bow", "wave"]
        assert [(r.video_id, r.label, r.splits) for r in ds.records] == [
            ("clips/two", "Bow", ("test", "", "")), ("clips/one", "wave", ("train", "", ""))]
        assert ds.records[1].path == tmp_path / "clips" / "one.mp4"


def test_csv_list_refuses_paths_outside_root(tmp_path):
    touch(tmp_path / "outside.mp4")
    listing = write(tmp_path / "data" / "list.csv", "path,label\n../outside.mp4,wave\n")
    with pytest.raises(ZsarError, match=r"'\.\./outside\.mp4' in .*list\.csv points outside"):
        create_dataset("csv", DatasetConfig(listing))
    with pytest.raises(ZsarError, match="no list file given"):
        create_dataset("csv", DatasetConfig(tmp_path))


@pytest.mark.parametrize("raw,text", [
    ("ApplyEyeMakeup", "apply eye makeup"), ("YoYo", "yo yo"), ("PlayingDaf", "playing daf"),
    ("brush_hair", "brush hair"), ("fall_floor", "fall on the floor"), ("Skijet", "jet ski"),
    ("BlowDryHair", "blow dry hair"), ("Ping-pong", "ping pong"), ("PlayingDJ", "playing dj"),
    ("passing American football (in game)", "passing american football (in game)"),
    ("  two__words ", "two words")])
def test_natural_text(raw, text):
    assert natural_text(raw) == text


def test_synth_output_loads_as_synthetic_and_hmdb51(tmp_path):
    generate_dataset(SynthConfig(classes=3, per_class=2, frames=8, width=64, height=64), tmp_path)
    synthetic = create_dataset("synthetic", DatasetConfig(tmp_path))
    hmdb = create_dataset("hmdb51", DatasetConfig(tmp_path))
    assert synthetic.records == hmdb.records and synthetic.class_names == hmdb.class_names
    assert len(synthetic.class_names) == 3 and len(synthetic.records) == 6
    assert all(r.path.is_file() and "" not in r.splits for r in synthetic.records)
    assert {r.splits[0] for r in synthetic.records} == {"train", "test"}


ANET_FILE = Path(__file__).parent / "data" / "activitynet_v1-3_classes.txt"
ANET_CLASSES = [line for line in ANET_FILE.read_text().splitlines() if line and not line.startswith("#")]


def test_activitynet_classes_follow_e2es_underscore_order(tmp_path):
    """E2E sorted ActivityNet labels spelled with underscores: only Rock-paper-scissors / Rock climbing move."""
    assert len(ANET_CLASSES) == 200
    database = {f"v{i:03d}": {"subset": "validation", "duration": 10.0,
                              "annotations": [{"segment": [0.0, 5.0], "label": label}]}
                for i, label in enumerate(ANET_CLASSES)}
    write(tmp_path / "activity_net.v1-3.min.json", json.dumps({"database": database}))
    for i in range(len(ANET_CLASSES)):
        touch(tmp_path / "videos" / f"v_v{i:03d}.mp4")
    names = create_dataset("activitynet", DatasetConfig(tmp_path)).class_names
    plain = sorted(ANET_CLASSES)
    moved = [(i, a, b) for i, (a, b) in enumerate(zip(plain, names)) if a != b]
    assert moved == [(142, "Rock climbing", "Rock-paper-scissors"), (143, "Rock-paper-scissors", "Rock climbing")]
    # E2E's split 0 (np.random.seed(0); permutation(200)[:100]) leaves index 143 unseen and 142 seen:
    unseen = {names[i] for i in e2e_half_classes(200, 0)}
    assert "Rock climbing" in unseen and "Rock-paper-scissors" not in unseen
    first = [names[i] for i in e2e_half_classes(200, 0)[:5]]
    assert first == ["Building sandcastles", "Swimming", "Playing blackjack", "Painting furniture",
                     "Trimming branches or hedges"]
    differs = [s for s in range(10) if {names[i] for i in e2e_half_classes(200, s)}
               != {plain[i] for i in e2e_half_classes(200, s)}]
    assert differs == [0, 3, 4, 5, 7, 8, 9]


HMDB51_CLASSES = """
brush_hair cartwheel catch chew clap climb climb_stairs dive draw_sword dribble drink eat fall_floor
fencing flic_flac golf handstand hit hug jump kick kick_ball kiss laugh pick pour pullup punch push
pushup ride_bike ride_horse run shake_hands shoot_ball shoot_bow shoot_gun sit situp smile smoke
somersault stand swing_baseball sword sword_exercise talk throw turn walk wave
""".split()


def test_hmdb51_order_is_e2es_although_e2e_sorts_names_with_spaces():
    """E2E's get_hmdb sorts 'brush hair', zsar 'brush_hair': for HMDB51's 51 names the orders agree."""
    assert len(HMDB51_CLASSES) == 51
    assert sorted(HMDB51_CLASSES) == sorted(HMDB51_CLASSES, key=lambda n: n.replace("_", " "))
