#!/usr/bin/env bash
# bench/gpu.sh on the GPU machine as one command, with the wheels bench/gpu_wheels.sh put in .whl/ (that machine
# has no PyAV, decord or torchcodec, and no network):
#
#   bash bench/gpu_run.sh            # from anywhere; OUT (the folder whose files come back) defaults to ./gpu-out
#
# It installs .whl/*.whl into /tmp/site (SITE=...) without their dependencies (the machine has them), puts
# /tmp/site and the repository on PYTHONPATH, runs bench/gpu.sh (its whole output also goes to
# $OUT/gpu-bench.txt) and copies the tables, without the stage-time lines, to $OUT/gpu-table.md. Extra arguments
# go to gpu.sh (--dry). Exit status: gpu.sh's.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
SITE="${SITE:-/tmp/site}"
WHEELS="${WHEELS:-$REPO/.whl}"
export OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if ((${#wheels[@]} == 0)); then
  echo "no wheels in $WHEELS: run bash bench/gpu_wheels.sh where PyPI is reachable, and bring .whl/ along" \
    | tee "$OUT/gpu-bench.txt"
  exit 1
fi
echo "installing ${#wheels[@]} wheel(s) into $SITE: $(cd "$WHEELS" && echo *.whl)"
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${wheels[@]}" \
  || { echo "pip could not install the wheels into $SITE" | tee "$OUT/gpu-bench.txt"; exit 1; }
export PYTHONPATH="$SITE:$REPO" PYTHON="$PY"
bash "$REPO/bench/gpu.sh" "$@"
rc=$?
grep -v '^\[' "$OUT/gpu-bench.txt" >"$OUT/gpu-table.md"
echo "wrote $OUT/gpu-bench.txt and $OUT/gpu-table.md"
exit $rc
