"""One device resolution for every command, and the per-device defaults of extraction."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from zsar.cli import app
from zsar.devices import (backbone_threads, default_batch_size, default_workers, rank_device, resolve_device,
                          resolve_precision, torch_threads)
from zsar.errors import ZsarError
from zsar.testing import StructuredConfig, write_structured_cache

runner = CliRunner()
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cuda:", "cuda:x", "gpu", "cuda0"):
        with pytest.raises(ZsarError, match=f"--device '{bad}': choose one of cpu, cuda, cuda:N, auto"):
            resolve_device(bad)


@NO_GPU
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_a_gpu_name_without_a_gpu_says_there_is_no_gpu(name):
    with pytest.raises(ZsarError, match=f"--device {name}: no CUDA device here"):
        resolve_device(name)


@NO_GPU
def test_cuda_n_means_the_same_in_extract_and_train_head(tmp_path):
    cache = write_structured_cache(tmp_path / "cache", StructuredConfig(classes=4, videos=16)).root
    train = runner.invoke(app, ["train-head", "--features", str(cache), "--head", "linear", "--protocol",
                                "within-half", "--out", str(tmp_path / "run"), "--device", "cuda:0"])
    extract = runner.invoke(app, ["extract", "--dataset", "synthetic", "--root", str(tmp_path), "--backbone",
                                  "tiny-random", "--cache", str(tmp_path / "c"), "--device", "cuda:0"])
    for result in (train, extract):
        assert result.exit_code == 2
        assert result.output.startswith("error: --device cuda:0: no CUDA device here (torch sees no GPU)")


def test_half_precision_needs_a_gpu():
    assert resolve_precision("fp32", torch.device("cpu")) == torch.float32
    with pytest.raises(ZsarError, match="--precision fp16 needs a GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ZsarError, match="valid precisions: fp32, fp16, bf16"):
        resolve_precision("int8", torch.device("cpu"))


def test_torchrun_gives_each_rank_its_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert rank_device("cuda") == "cuda:3"
    assert rank_device("cuda:1") == "cuda:1" and rank_device("cpu") == "cpu"
    monkeypatch.delenv("LOCAL_RANK")
    assert rank_device("cuda") == "cuda"


@pytest.mark.parametrize("cores, ranks, gpu, cpu", [(2, 1, 1, 0), (3, 1, 2, 1), (16, 1, 15, 1), (64, 1, 63, 1),
                                                    (64, 8, 7, 1), (1, 1, 0, 0)])
def test_decoding_workers_scale_with_the_cores_of_a_gpu_machine(monkeypatch, cores, ranks, gpu, cpu):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(ranks))
    assert default_workers("cuda") == gpu
    assert default_workers("cpu") == cpu
    workers = default_workers("cpu")
    assert backbone_threads(None, workers, "cpu") == (None if workers == 0 else max(1, cores // ranks - workers))
    assert backbone_threads(3, workers, "cpu") == 3 and backbone_threads(None, 4, "cuda") == 1
    assert backbone_threads(2, 4, "cuda") == 2


def test_batch_size_per_device():
    assert default_batch_size("cpu") == 8 and default_batch_size("cuda") == 64


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ZsarError, match="--threads 0: must be at least 1"):
        with torch_threads(0):
            pass
    assert torch.get_num_threads() == before
