#!/usr/bin/env bash
# The wheels bench/gpu.sh needs on a GPU machine that has torch, transformers, h5py, pyarrow, typer, tqdm, numpy
# and the rest of zsar's dependencies but not these three, and no network: PyAV (decoding, always used), decord
# (its decode rows) and torchcodec (its decode rows; 0.11.1 is the release built for torch 2.11, a CPU-only build,
# so the NVDEC rows will say "unavailable"). Run it here, where PyPI is reachable:
#
#   bash bench/gpu_wheels.sh [PYTHON_VERSION]      # default 3.12; writes .whl/ at the repository root
#
# and there: pip install --no-index --no-deps --target /tmp/site .whl/*.whl; PYTHONPATH=/tmp/site bash bench/gpu.sh
# (torchcodec finds no FFmpeg libraries there; gpu.sh lends it the ones inside PyAV's wheel).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${1:-3.12}"
OUT="$REPO/.whl"
mkdir -p "$OUT"
"${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: --dest "$OUT" \
  --python-version "$VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux2010_x86_64 \
  "av==18.1.0" "decord==0.6.0" "torchcodec==0.11.1"
ls -1 "$OUT"
