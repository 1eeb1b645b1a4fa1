"""`bench/gpu.sh --dry`: the GPU benchmark script of issues 21 and 32 runs end to end on a CPU with tiny models."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _extract_data import REPO
from zsar.synth.containers import KINDS

CPU_STAGES = ["decode only, clips/s", "decode only (decord, uint8 resize), clips/s",
              "decode only (pyav, uint8 resize), clips/s", "decode only (torchcodec, uint8 resize), clips/s",
              "decode only (decord, float resize: before), clips/s", "decode only: defaults / before",
              "backbone only (clip-vit-b16), clips/s", "end to end (clip-vit-b16), clips/s",
              "end to end / min(decode, backbone) (clip-vit-b16)",
              "backbone only (clip-vit-l14), clips/s", "end to end (clip-vit-l14), clips/s",
              "end to end / min(decode, backbone) (clip-vit-l14)",
              "main-process CPU ms/video, free backbone, 1 torch thread(s) [one-off ms]"]
NO_CUDA = "no CUDA device is visible to torch; use --decoder auto"


def _cpu_table(lines: list[str]) -> None:
    first = next(i for i, line in enumerate(lines) if line.startswith("16 videos (8 distinct files) in "))
    assert "-> 32x32; device cpu (fp32)" in lines[first] and "16 frames of 64x64 at 25 fps, avi mpeg4" in lines[first]
    table = lines[first + 2:first + 4 + len(CPU_STAGES)]
    assert table[0] == "| stage | 1 worker(s) | 2 worker(s) |"
    assert [line.split(" | ")[0][2:] for line in table[2:]] == CPU_STAGES
    for line in table[2:-1]:
        values = [v.rstrip("x") for v in line.strip("| ").split(" | ")[1:]]
        if "torchcodec" in line and values[0].startswith("unavailable"):  # the extra is not installed here
            continue
        assert all(float(v) > 0 for v in values), line


def _nvdec_table(lines: list[str]) -> None:
    assert "8 videos (4 distinct files)" in next(line for line in lines if line.startswith("8 videos"))
    assert "16 frames of 64x64 at 25 fps, mp4 h264" in next(line for line in lines if line.startswith("8 videos"))
    for decoder in ("pyav-nvdec", "torchcodec"):
        assert f"- --decoder {decoder} --device cuda: {NO_CUDA} (CPU decoding in worker processes) or run on a GPU " \
               "machine" in lines
    head = lines.index(next(line for line in lines if line.startswith("| decoding |")))
    assert lines[head].startswith("| decoding | threads or workers | decode only, clips/s | NVDEC utilisation % "
                                  "(mean / peak) | cpu_fallback files | failed files | pixels vs CPU decoder")
    rows = [line.strip("| ").split(" | ") for line in lines[head + 2:head + 9]]
    assert [(r[0], r[1]) for r in rows] == [
        ("pyav-nvdec, threads", "1"), ("pyav-nvdec, threads", "2"), ("pyav, CPU worker processes", "1"),
        ("pyav, CPU worker processes", "2"), ("torchcodec on CUDA, threads", "1"), ("torchcodec on CUDA, threads", "2"),
        ("pyav-nvdec, every frame downloaded, threads", "2")]
    for row in rows:
        if row[0].startswith("pyav, CPU"):  # measured here: decode only and end to end, no file failed
            assert float(row[2]) > 0 and row[5] == "0 / 8" and float(row[7]) > 0, row
        else:
            assert row[2] == f"unavailable: --decoder {row[0].split(',')[0].split()[0]} --device cuda: {NO_CUDA} " \
                             "(CPU decoding in worker processes) or run on a GPU machine", row


@pytest.mark.slow  # 40-70 s on the shared 2-core test machine: two data sets, two model saves, both tables
def test_gpu_bench_dry_run_prints_every_table(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1", "OUT": str(out)}
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh"), "--dry"], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# bench/gpu.sh --dry: ")
    assert not [line for line in lines if "failed (exit" in line or "stopped at its limit" in line]
    assert "- pyav-nvdec's check on cuda: " in done.stdout and "- libnvcuvid.so.1: " in done.stdout
    codecs = [line for line in lines if line.startswith(tuple(f"| {kind} |" for kind in KINDS))]
    assert len(codecs) == len(KINDS) and all(" | yes (48) | " in line for line in codecs), codecs
    _nvdec_table(lines)
    _cpu_table(lines)
    assert "batch composition (fp32 on cpu): max |features" in done.stdout
    assert [line for line in lines if line.startswith("[")] == [
        line for line in lines if line.startswith(("[machine: ", "[data: ", "[models: ", "[nvdec: ", "[cpu-table: ",
                                                   "[composition: "))]
    assert lines[-1].startswith("bench/gpu.sh took ")
    assert (out / "gpu-bench.txt").read_text() == done.stdout, "the whole output, also under $OUT"
    assert not list(tmp_path.glob("zsar-gpu-bench.*")), "the work folder is removed"
