#!/usr/bin/env bash
# The extraction tables of issues 21 and 32 on a GPU machine, in one run (meant to take under 6 minutes on an
# H100/H200 with 16 cores; it prints its own time at the end):
#
#   0. torchcodec: where it is installed but finds no FFmpeg shared libraries, points it at the FFmpeg that
#      PyAV's wheel bundles (links under their plain names, LD_LIBRARY_PATH); a torchcodec that still cannot
#      load gives rows that say so;
#   1. makes the data: 160 synthetic 320x240 mpeg4 clips of 100 frames (8 `zsar synth` runs side by side),
#      hard-linked 8 times over into 1,280 videos (decoding reads each link in full; the header says so);
#   2. saves random-weight CLIP ViT-B/16 and ViT-L/14 from local configs (transformers CLIPConfig, no download);
#   3. runs bench/extract.py at 4, 8 and 15 decoding workers, fp16 on cuda, 8 frames at 224 px: decode only
#      (today's defaults; decord, PyAV and torchcodec with the uint8 resize; decord with the float resize, the
#      code before issue 32, and the defaults' speed-up over it), backbone only, end to end and its ratio,
#      main-process CPU per video with a free backbone;
#   4. the NVDEC table: torchcodec decoding on the GPU in 1, 7 and 14 threads, decode only and end to end, the
#      NVDEC utilisation nvidia-smi reports, cpu_fallback files and the pixel check against the CPU decoders
#      (rows that say "unavailable: <reason>" where torchcodec cannot decode on CUDA);
#   5. how much fp16 batch composition moves the B/16 features.
#
#   bash bench/gpu.sh          # on the GPU machine, from the repository root
#   bash bench/gpu.sh --dry    # on a CPU in a minute or so: tiny data, tiny CLIP configs, 1 and 2 workers
#
# PYTHON picks the interpreter (default: python3); the work folder is removed at the end unless KEEP=1.
# A machine without PyAV, decord or torchcodec: bash bench/gpu_wheels.sh (here, with a network) fills .whl/;
# there, pip install --no-index --no-deps --target /tmp/site .whl/*.whl and PYTHONPATH=/tmp/site.
set -euo pipefail

DRY=0
[[ "${1:-}" == "--dry" ]] && DRY=1
PY="${PYTHON:-python3}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zsar-gpu-bench.XXXXXX")"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT
STARTED=$SECONDS

# 0. torchcodec without system FFmpeg libraries: lend it PyAV's (FFmpeg 8, which torchcodec 0.11 takes)
if "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torchcodec') is None)" 2>/dev/null \
   && ! "$PY" -c "import torchcodec.decoders" >/dev/null 2>&1; then
  AVLIBS="$("$PY" -c 'import av, os; print(os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs"))')"
  if [[ -d "$AVLIBS" ]]; then
    mkdir -p "$WORK/ffmpeg"
    for lib in "$AVLIBS"/lib{avcodec,avformat,avutil,swscale,swresample,avdevice,avfilter}-*.so.*; do
      name="$(basename "$lib")"
      ln -sf "$lib" "$WORK/ffmpeg/${name%%-*}.so.$(sed -E 's/.*\.so\.([0-9]+).*/\1/' <<<"$name")"
    done
    export LD_LIBRARY_PATH="$WORK/ffmpeg:$AVLIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi

if [[ $DRY == 1 ]]; then
  SYNTH=(--classes 2 --per-class 2 --frames 16 --size 64x64); PARTS=2; LINKS=2
  DEVICE=(--device cpu --precision fp32); WORKERS=1,2; NVDEC=1,2
  MORE=(--free-videos 16 --backbone-clips 16 --batch-size 8)
else
  SYNTH=(--classes 20 --per-class 1 --frames 100 --size 320x240); PARTS=8; LINKS=8
  DEVICE=(--device cuda --precision fp16); WORKERS=4,8,15; NVDEC=1,7,14; MORE=(--free-videos 480 --backbone-clips 512)
fi

# 1. data: PARTS synth runs with their own seeds, side by side, merged into one HMDB51-layout folder
DATA="$WORK/data"
for part in $(seq 1 "$PARTS"); do
  "$PY" -m zsar -q synth "$WORK/part$part" "${SYNTH[@]}" --seed "$part" >/dev/null &
done
wait
mkdir -p "$DATA/videos"
cp -r "$WORK/part1/splits" "$DATA/splits"  # every class has a split file; other videos get split ""
for part in $(seq 1 "$PARTS"); do
  for video in "$WORK/part$part"/videos/*/*.avi; do
    class="$(basename "$(dirname "$video")")"; name="$(basename "$video" .avi)"
    mkdir -p "$DATA/videos/$class"
    for copy in $(seq 1 "$LINKS"); do
      if [[ $part == 1 && $copy == 1 ]]; then target="$name.avi"; else target="${name}_p${part}_l${copy}.avi"; fi
      ln "$video" "$DATA/videos/$class/$target"
    done
  done
done

# 2. random-weight CLIP models from local configs
"$PY" - "$WORK" "$DRY" <<'EOF' 2>"$WORK/models.log" || { tail -n 20 "$WORK/models.log" >&2; exit 1; }
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

# 3. and 4. the tables (CPU decoding workers, then NVDEC threads)
"$PY" "$REPO/bench/extract.py" --backbone clip-vit-b16,clip-vit-l14 --weights "$WORK/clip-b16,$WORK/clip-l14" \
  "${DEVICE[@]}" --workers "$WORKERS" --free-threads 1 --data "$DATA" "${MORE[@]}" \
  --decoders decord,pyav,torchcodec --resizes uint8 --nvdec-threads "$NVDEC" 2>"$WORK/bench.log" \
  || { tail -n 20 "$WORK/bench.log" >&2; exit 1; }

# 5. fp16 batch composition: the same clips alone and in one batch
"$PY" - "$WORK" "${DEVICE[1]}" "${DEVICE[3]}" <<'EOF' 2>"$WORK/composition.log" \
  || { tail -n 20 "$WORK/composition.log" >&2; exit 1; }
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
print(f"\nbatch composition ({precision} on {device}): max |features of 64 clips in one batch - the same in "
      f"batches of 7, 1 and 56| = {diff:.3g}, {diff / scale:.2g} of the largest |feature| ({scale:.3g})")
EOF
echo
echo "bench/gpu.sh took $((SECONDS - STARTED)) s"
