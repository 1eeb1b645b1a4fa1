"""`bench/gpu.sh --dry`: the GPU benchmark script of issue 21 runs end to end on a CPU with tiny models."""

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
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| stage | 1 worker(s) | 2 worker(s) |"
    stages = [line.split(" | ")[0][2:] for line in table[2:]]
    assert stages == ["decode only, clips/s",
                      "backbone only (clip-vit-b16), clips/s", "end to end (clip-vit-b16), clips/s",
                      "end to end / min(decode, backbone) (clip-vit-b16)",
                      "backbone only (clip-vit-l14), clips/s", "end to end (clip-vit-l14), clips/s",
                      "end to end / min(decode, backbone) (clip-vit-l14)",
                      "main-process CPU ms/video, free backbone, 1 torch thread(s) [one-off ms]"]
    for line in table[2:-1]:
        assert all(float(v) > 0 for v in line.strip("| ").split(" | ")[1:]), line
    assert "batch composition (fp32 on cpu): max |features" in done.stdout
    assert not list(tmp_path.glob("zsar-gpu-bench.*")), "the work folder is removed"
