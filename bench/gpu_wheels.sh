#!/usr/bin/env bash
# The wheels bench/gpu.sh needs on a GPU machine that has Python 3.12 with torch (2.11 + CUDA), transformers,
# h5py, pyarrow, numpy, typer, tqdm, scikit-learn, matplotlib, pillow, huggingface_hub and safetensors, but not
# these, and no network:
#
#   av 18.1.0         PyAV: decoding, always used; its FFmpeg has the CUDA hwaccel that --decoder pyav-nvdec uses
#   decord 0.6.0      the decord rows, and --decoder auto's fallback
#   torchcodec 0.11.1 its rows: the release built for torch 2.11, a CPU-only build, so its CUDA rows say
#                     "unavailable" (gpu.sh lends it the FFmpeg inside PyAV's wheel)
#
# Nothing else on gpu.sh's path needs a package the machine lacks: zsar imports faiss, sentence-transformers and
# the efficientnet packages only inside the commands and backbones that use them (checked by importing every
# module gpu.sh runs in a fresh venv with only the packages above; docs/benchmarks-extract.md). Run it here,
# where PyPI is reachable:
#
#   bash bench/gpu_wheels.sh [PYTHON_VERSION]      # default 3.12; writes .whl/ at the repository root (DEST=...)
#
# and there: bash bench/gpu_run.sh (installs them into /tmp/site and runs gpu.sh). The wheels are about 50 MB.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${1:-3.12}"
DEST="${DEST:-$REPO/.whl}"
mkdir -p "$DEST"
"${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: --dest "$DEST" \
  --python-version "$VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux2010_x86_64 \
  "av==18.1.0" "decord==0.6.0" "torchcodec==0.11.1"
ls -l "$DEST"
du -sh "$DEST"
