"""`bench/gpu.sh --dry`: the GPU benchmark script of issues 21 and 32 runs end to end on a CPU with tiny models."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _extract_data import REPO


@pytest.mark.slow  # 20-45 s on the shared 2-core test machine: data, two model saves, the table at 1 and 2 workers
def test_gpu_bench_dry_run_prints_the_table(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh"), "--dry"], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("16 videos (8 distinct files) in ") and "-> 32x32; device cpu (fp32)" in lines[0]
    assert "16 frames of 64x64 at 25 fps, avi mpeg4" in lines[0]
    table = [line for line in lines if line.startswith("|") and not line.startswith(("| NVDEC", "|---:", "| 1 |",
                                                                                        "| 2 |"))]
    assert table[0] == "| stage | 1 worker(s) | 2 worker(s) |"
    stages = [line.split(" | ")[0][2:] for line in table[2:]]
    assert stages == ["decode only, clips/s", "decode only (decord, uint8 resize), clips/s",
                      "decode only (pyav, uint8 resize), clips/s", "decode only (torchcodec, uint8 resize), clips/s",
                      "decode only (decord, float resize: before), clips/s", "decode only: defaults / before",
                      "backbone only (clip-vit-b16), clips/s", "end to end (clip-vit-b16), clips/s",
                      "end to end / min(decode, backbone) (clip-vit-b16)",
                      "backbone only (clip-vit-l14), clips/s", "end to end (clip-vit-l14), clips/s",
                      "end to end / min(decode, backbone) (clip-vit-l14)",
                      "main-process CPU ms/video, free backbone, 1 torch thread(s) [one-off ms]"]
    for line in table[2:-1]:
        values = [v.rstrip("x") for v in line.strip("| ").split(" | ")[1:]]
        if "torchcodec" in line and values[0].startswith("unavailable"):  # the extra is not installed here
            continue
        assert all(float(v) > 0 for v in values), line
    nvdec = [line for line in lines if line.startswith(("| NVDEC", "| 1 |", "| 2 |"))]
    assert nvdec[0].startswith("| NVDEC threads | decode only, clips/s | NVDEC utilisation % (mean / peak) |")
    for threads, line in zip((1, 2), nvdec[1:]):
        assert line.startswith(f"| {threads} | unavailable: --decoder torchcodec --device cuda: no CUDA device is "
                               "visible to torch; use --decoder auto"), line
    assert "batch composition (fp32 on cpu): max |features" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("bench/gpu.sh took ")
    assert not list(tmp_path.glob("zsar-gpu-bench.*")), "the work folder is removed"
