"""The extraction pipeline of issue 21: shared-slot decoding workers, batch buffers one batch ahead, chunks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _extract_data import assert_same_cache, loaded_video, make_synth, read_cache
from zsar.errors import ZsarError
from zsar.extract.batcher import encode_videos
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.loader import DecodePool, VideoDecodeDataset, group_size, make_loader
from zsar.extract.sampling import SamplingConfig


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=4)
    first_class = sorted((root / "videos").iterdir())[0]
    (first_class / "broken.avi").write_bytes(b"not a video")  # one failure in the list
    return root


@pytest.fixture(scope="module")
def records(synth):
    from zsar.extract.datasets import DatasetConfig, create_dataset

    return create_dataset("synthetic", DatasetConfig(synth)).records


def test_workers_hand_over_groups_through_shared_slots_in_order(records):
    sampling = SamplingConfig(clips=2, frames=4)
    dataset = VideoDecodeDataset(records, sampling, 40)
    pool = DecodePool(dataset, workers=2, prefetch=1)
    assert pool.group > 1 and pool.n_slots < pool.n_tasks  # slots are reused
    seen = []
    for video in pool:
        expected = dataset[video.position]
        assert video.error == expected.error
        if expected.decoded is None:
            assert video.decoded is None and "cannot open video" in video.error
        else:
            assert torch.equal(video.decoded.frames, expected.decoded.frames)
            assert np.array_equal(video.decoded.frame_index, expected.decoded.frame_index)
            assert video.decoded.fps == expected.decoded.fps and video.n_clips == 2
        seen.append(video.position)
    assert seen == list(range(len(records)))
    assert not pool.processes


def test_leaving_early_stops_the_workers(records):
    pool = make_loader(records, SamplingConfig(), 32, workers=2)
    processes = list(pool.processes)
    for video in pool:
        break
    pool.close()
    assert all(not p.is_alive() for p in processes)


def test_a_worker_that_dies_is_one_error_naming_it(records, monkeypatch):
    monkeypatch.setattr("zsar.extract.loader.CHECK_S", 0.2)
    monkeypatch.setattr(VideoDecodeDataset, "__getitem__", lambda self, i: __import__("os")._exit(3))
    with pytest.raises(ZsarError, match=r"a decoding worker \(pid \d+\) died \(exit code 3\); run again with "
                                        r"--workers 0"):
        list(make_loader(records, SamplingConfig(), 32, workers=1))


def test_group_size_stays_within_memory_and_feeds_every_worker():
    assert group_size(video_bytes=1 << 20, n_videos=1000, workers=2) == 4
    assert group_size(video_bytes=20 << 20, n_videos=1000, workers=2) == 1
    assert group_size(video_bytes=1 << 20, n_videos=10, workers=4) == 1


class _Launches:
    """A ``launch`` that records the order of launches and of result() calls."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self, frames: torch.Tensor):
        n = len([e for e in self.events if e.startswith("launch")])
        self.events.append(f"launch{n}:{frames.shape[0]}")
        features = frames[:, :, 0, 0, :1].float()  # (B, T, 1): the video's position
        launches = self

        class Pending:
            def result(self):
                launches.events.append(f"result{n}")
                return features

        return Pending()


def test_features_are_taken_one_batch_after_the_launch_and_frames_are_released():
    launches = _Launches()
    videos = [loaded_video(i, c) for i, c in enumerate([3, None, 1, 4, None, 2])]
    out = list(encode_videos(iter(videos), launches, batch_size=4))
    assert launches.events == ["launch0:4", "launch1:4", "result0", "launch2:2", "result1", "result2"]
    assert [o.item.position for o in out] == list(range(6))
    for o in out:
        if o.item.decoded is not None:
            assert o.item.decoded.frames.numel() == 0 and o.item.decoded.fps == 25.0  # metadata stays
            assert (o.features == o.item.position).all() and o.features.shape == (o.item.n_clips, 2, 1)


def test_batches_run_across_chunks_with_the_same_features(synth, tmp_path, monkeypatch):
    from zsar.extract.models.backbones import Backbone

    sizes = []
    real = Backbone.launch

    def counting(self, frames):
        sizes.append(frames.shape[0])
        return real(self, frames)

    monkeypatch.setattr(Backbone, "launch", counting)
    settings = dict(backbone="tiny-random", text_encoder="none", resolution=48, sampling=SamplingConfig(clips=2))
    spanning = extract(ExtractConfig(dataset="synthetic", root=synth, cache=tmp_path / "a", videos_per_shard=2,
                                     batch_size=3,
                                     workers=2, **settings))
    clips = 2 * spanning.ok
    assert sizes == [3] * (clips // 3) + ([clips % 3] if clips % 3 else [])  # chunks of 4 clips, batches of 3
    assert spanning.failed == 1 and spanning.ok == 12
    single = extract(ExtractConfig(dataset="synthetic", root=synth, cache=tmp_path / "b", videos_per_shard=13,
                                   batch_size=1,
                                   workers=0, **settings))
    assert_same_cache(read_cache(spanning.cache_dir), read_cache(single.cache_dir))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pinned_buffers_and_one_batch_behind_on_a_gpu_give_the_cpu_features():
    from zsar.extract.models.backbones import BackboneConfig, create_backbone

    cpu = create_backbone(BackboneConfig(name="tiny-random"))
    gpu = create_backbone(BackboneConfig(name="tiny-random", device="cuda"))
    videos = [loaded_video(i, c) for i, c in enumerate([3, None, 1, 4, 2, 5, 1])]
    for v in videos:
        if v.decoded is not None:
            v.decoded.frames = torch.randint(0, 256, (v.n_clips, 2, 32, 32, 3), dtype=torch.uint8)
    expected = {v.position: cpu.encode(v.decoded.frames) for v in videos if v.decoded is not None}
    out = list(encode_videos(iter(videos), gpu.launch, batch_size=4, pinned=True))
    assert [o.item.position for o in out] == list(range(7))
    for o in out:
        if o.item.position in expected:
            assert torch.allclose(torch.from_numpy(o.features), expected[o.item.position], atol=1e-4)
