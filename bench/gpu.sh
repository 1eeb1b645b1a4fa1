#!/usr/bin/env bash
# The extraction tables of issues 21 and 32 on a GPU machine, in one run of under 5 minutes on an H100/H200 with
# 16 cores (each stage prints its time; no stage runs past BUDGET seconds from the start, 270 unless set: one
# that would is stopped, and the rows it printed stay):
#
#   0. torchcodec: where it is installed but finds no FFmpeg shared libraries, points it at the FFmpeg that
#      PyAV's wheel bundles (links under their plain names, LD_LIBRARY_PATH); a torchcodec that still cannot
#      load gives rows that say so;
#   1. the machine (bench/gpu_machine.py): GPU, driver, torch, PyAV's hardware devices, whether libcuda and
#      libnvcuvid load, torchcodec; then, per container and codec, whether pyav-nvdec decodes it on NVDEC,
#      counts its frames as the CPU decoders do, and by how much its pixels differ from theirs;
#   2. the data: 80 synthetic 320x240 mpeg4 .avi clips of 100 frames hard-linked 8 times over (640 videos) for
#      the CPU table, and 40 h264 .mp4 clips of 100 frames linked 16 times over (640) for the NVDEC table
#      (NVDEC decodes H.264 on every NVIDIA GPU; decoding reads each link in full; the headers say so);
#   3. random-weight CLIP ViT-B/16 and ViT-L/14 from local configs (transformers CLIPConfig, no download);
#   4. the NVDEC table (bench/nvdec_rows.py): decode only and end to end (B/16, fp16) with pyav-nvdec in 1, 7
#      and 14 threads, beside PyAV on the CPU in 1, 7 and 14 worker processes, torchcodec on CUDA (rows that
#      say "unavailable" or fail where its build has no CUDA), and pyav-nvdec with every frame downloaded;
#      NVDEC utilisation (nvidia-smi), cpu_fallback and failed files, pixels against the CPU decoder;
#   5. the CPU table (bench/extract.py) at 8 and 15 decoding workers, fp16 on cuda, 8 frames at 224 px: decode
#      only (today's defaults; decord, PyAV and torchcodec with the uint8 resize; decord with the float resize,
#      the code before issue 32, and the defaults' speed-up over it), backbone only, end to end and its ratio,
#      main-process CPU per video with a free backbone;
#   6. how much fp16 batch composition moves the B/16 features.
#
#   bash bench/gpu.sh          # on the GPU machine, from the repository root (bench/gpu_run.sh: with the wheels)
#   bash bench/gpu.sh --dry    # on a CPU in a minute or so: tiny data, tiny CLIP configs, 1 and 2 workers
#
# A stage that fails prints one line (its error) and the next stage runs. With OUT set, the whole output also
# goes to $OUT/gpu-bench.txt. PYTHON picks the interpreter (default: python3); the work folder is removed at the
# end unless KEEP=1. A machine without PyAV, decord or torchcodec: bench/gpu_wheels.sh and bench/gpu_run.sh.
set -uo pipefail

DRY=0
[[ "${1:-}" == "--dry" ]] && DRY=1
PY="${PYTHON:-python3}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zsar-gpu-bench.XXXXXX")"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT
STARTED=$SECONDS

if [[ $DRY == 1 ]]; then
  AVI=(--classes 2 --per-class 2 --frames 16 --size 64x64); AVI_PARTS=2; AVI_LINKS=2
  MP4=(--classes 2 --per-class 2 --frames 16 --size 64x64 --format mp4); MP4_PARTS=1; MP4_LINKS=2
  DEVICE=(--device cpu --precision fp32); WORKERS=1,2; THREADS=1,2; SIZE=32; MIN_SECONDS=0
  MORE=(--free-videos 16 --backbone-clips 16 --batch-size 8); BUDGET="${BUDGET:-600}"
else
  AVI=(--classes 20 --per-class 1 --frames 100 --size 320x240); AVI_PARTS=4; AVI_LINKS=8
  MP4=(--classes 20 --per-class 1 --frames 100 --size 320x240 --format mp4); MP4_PARTS=2; MP4_LINKS=16
  DEVICE=(--device cuda --precision fp16); WORKERS=8,15; THREADS=1,7,14; SIZE=224; MIN_SECONDS=3
  MORE=(--free-videos 640 --backbone-clips 512); BUDGET="${BUDGET:-270}"
fi

# stage NAME CAP COMMAND...: runs COMMAND for at most CAP seconds and what is left of the budget; its stdout is
# shown as it comes, its stderr goes to a log; a failure or the time limit is one line.
stage() {
  local name="$1" cap="$2" t0=$SECONDS; shift 2
  local left=$((BUDGET - (SECONDS - STARTED))); local limit=$((cap < left ? cap : left))
  if ((limit < 5)); then echo "[$name: skipped, the budget of $BUDGET s is spent]"; return; fi
  timeout --kill-after=10 "$limit" "$@" 2>"$WORK/$name.log"
  local rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "[$name: stopped at its limit of $limit s; the rows above it are complete]"
  elif ((rc != 0)); then
    echo "[$name failed (exit $rc): $(grep -v '^[[:space:]]*$' "$WORK/$name.log" | tail -n 1 | cut -c1-400)]"
  fi
  echo "[$name: $((SECONDS - t0)) s; $((SECONDS - STARTED)) s since the start]"
  echo
}

# lend_ffmpeg: torchcodec installed without system FFmpeg libraries gets PyAV's (FFmpeg 8, which 0.11 takes)
lend_ffmpeg() {
  "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torchcodec') is None)" 2>/dev/null || return 0
  "$PY" -c "import torchcodec.decoders" >/dev/null 2>&1 && return 0
  local avlibs
  avlibs="$("$PY" -c 'import av, os; print(os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs"))')"
  [[ -d "$avlibs" ]] || return 0
  mkdir -p "$WORK/ffmpeg"
  for lib in "$avlibs"/lib{avcodec,avformat,avutil,swscale,swresample,avdevice,avfilter}-*.so.*; do
    [[ -e "$lib" ]] || continue
    name="$(basename "$lib")"
    ln -sf "$lib" "$WORK/ffmpeg/${name%%-*}.so.$(sed -E 's/.*\.so\.([0-9]+).*/\1/' <<<"$name")"
  done
  export LD_LIBRARY_PATH="$WORK/ffmpeg:$avlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# synth_parts NAME PARTS SEED SYNTH...: PARTS synth runs in the background (seeds SEED, SEED+1, ...) into
# $WORK/NAME-partN; the caller waits for them
synth_parts() {
  local name="$1" parts="$2" seed="$3"; shift 3
  for part in $(seq 1 "$parts"); do
    "$PY" "$WORK/synth.py" "$WORK/$name-part$part" "$@" --seed $((seed + part - 1)) 2>>"$WORK/data.log" &
  done
}

# merge_parts NAME PARTS LINKS: the parts merged into $WORK/NAME (HMDB51 layout), each video hard-linked LINKS
# times; the first part's splits cover every class
merge_parts() {
  local name="$1" parts="$2" links="$3" class base ext target
  mkdir -p "$WORK/$name/videos"
  cp -r "$WORK/$name-part1/splits" "$WORK/$name/splits" 2>/dev/null
  for part in $(seq 1 "$parts"); do
    for video in "$WORK/$name-part$part"/videos/*/*.*; do
      [[ -e "$video" ]] || continue
      class="$(basename "$(dirname "$video")")"; base="$(basename "$video")"; ext="${base##*.}"; base="${base%.*}"
      mkdir -p "$WORK/$name/videos/$class"
      for copy in $(seq 1 "$links"); do
        if [[ $part == 1 && $copy == 1 ]]; then target="$base.$ext"; else target="${base}_p${part}_l${copy}.$ext"; fi
        ln "$video" "$WORK/$name/videos/$class/$target"
      done
    done
  done
}

# zsar synth without the CLI: building the CLI imports every command's modules (faiss for metrics), which the GPU
# machine does not have
cat >"$WORK/synth.py" <<'EOF'
import argparse
from zsar.synth import SynthConfig, generate_dataset, parse_size

parser = argparse.ArgumentParser()
parser.add_argument("out")
for flag in ("--classes", "--per-class", "--frames", "--seed"):
    parser.add_argument(flag, type=int)
parser.add_argument("--size")
parser.add_argument("--format", default="avi")
args = parser.parse_args()
width, height = parse_size(args.size)
generate_dataset(SynthConfig(classes=args.classes, per_class=args.per_class, frames=args.frames, width=width,
                             height=height, seed=args.seed, format=args.format), args.out)
EOF

cat >"$WORK/models.py" <<'EOF'
import sys
import torch
from transformers import CLIPConfig, CLIPModel

work, dry = sys.argv[1], sys.argv[2] == "1"
text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2)
if dry:
    vision = {"b16": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                          patch_size=16, image_size=32),
              "l14": dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=2,
                          patch_size=8, image_size=32)}
    projection = {"b16": 16, "l14": 24}
else:
    vision = {"b16": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                          patch_size=16, image_size=224),
              "l14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                          patch_size=14, image_size=224)}
    projection = {"b16": 512, "l14": 768}
for name in ("b16", "l14"):
    torch.manual_seed(0)
    config = CLIPConfig(text_config=text, vision_config=vision[name], projection_dim=projection[name])
    CLIPModel(config).save_pretrained(f"{work}/clip-{name}")
EOF

cat >"$WORK/composition.py" <<'EOF'
import sys
import torch
from zsar.extract.models.backbones import BackboneConfig, create_backbone

work, device, precision = sys.argv[1:]
backbone = create_backbone(BackboneConfig(name="clip-vit-b16", weights=f"{work}/clip-b16", device=device,
                                          precision=precision))
size = backbone.input_size
frames = torch.randint(0, 256, (64, 8, size, size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
together = backbone.encode(frames)
apart = torch.cat([backbone.encode(frames[:7]), backbone.encode(frames[7:8]), backbone.encode(frames[8:])])
diff = (together - apart).abs().max().item()
scale = together.abs().max().item()
print(f"batch composition ({precision} on {device}): max |features of 64 clips in one batch - the same in "
      f"batches of 7, 1 and 56| = {diff:.3g}, {diff / scale:.2g} of the largest |feature| ({scale:.3g})")
EOF

main() {
  echo "# bench/gpu.sh$([[ $DRY == 1 ]] && echo ' --dry'): $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  lend_ffmpeg
  stage machine 60 "$PY" "$REPO/bench/gpu_machine.py" --device cuda

  local t0=$SECONDS
  synth_parts avi "$AVI_PARTS" 1 "${AVI[@]}"
  synth_parts mp4 "$MP4_PARTS" 11 "${MP4[@]}"
  wait
  merge_parts avi "$AVI_PARTS" "$AVI_LINKS"
  merge_parts mp4 "$MP4_PARTS" "$MP4_LINKS"
  for set in avi mp4; do
    [[ -n "$(ls "$WORK/$set/videos" 2>/dev/null)" ]] \
      || echo "[data: the $set set is empty: $(grep -v '^[[:space:]]*$' "$WORK/data.log" | tail -n 1 | cut -c1-400)]"
  done
  echo "[data: $((SECONDS - t0)) s; $((SECONDS - STARTED)) s since the start]"
  echo
  stage models 120 "$PY" "$WORK/models.py" "$WORK" "$DRY"
  [[ -f "$WORK/clip-l14/config.json" ]] || { echo "no models: the tables need them; see the line above"; return 1; }

  echo "## NVDEC: pyav-nvdec threads beside PyAV in CPU worker processes and torchcodec on CUDA"
  echo
  stage nvdec 130 "$PY" "$REPO/bench/nvdec_rows.py" --data "$WORK/mp4" --backbone clip-vit-b16 \
    --weights "$WORK/clip-b16" "${DEVICE[@]}" --threads "$THREADS" --resolution "$SIZE" --min-seconds "$MIN_SECONDS"

  echo "## CPU decoding workers, backbones and end to end"
  echo
  local left=$((BUDGET - (SECONDS - STARTED) - 25))
  stage cpu-table "$left" "$PY" "$REPO/bench/extract.py" --backbone clip-vit-b16,clip-vit-l14 \
    --weights "$WORK/clip-b16,$WORK/clip-l14" "${DEVICE[@]}" --workers "$WORKERS" --free-threads 1 \
    --data "$WORK/avi" "${MORE[@]}" --decoders decord,pyav,torchcodec --resizes uint8

  stage composition 40 "$PY" "$WORK/composition.py" "$WORK" "${DEVICE[1]}" "${DEVICE[3]}"
  echo "bench/gpu.sh took $((SECONDS - STARTED)) s"
}

if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  main 2>&1 | tee "$OUT/gpu-bench.txt"
else
  main
fi
