#!/usr/bin/env bash
# The extraction table of issue 21 on a GPU machine, in one run (under 8 minutes on an H100/H200 with 16 cores):
#
#   1. makes the data: 160 synthetic 320x240 mpeg4 clips of 100 frames (8 `zsar synth` runs side by side),
#      hard-linked 12 times over into 1,920 videos (decoding reads each link in full; the header says so);
#   2. saves random-weight CLIP ViT-B/16 and ViT-L/14 from local configs (transformers CLIPConfig, no download);
#   3. runs bench/extract.py at 4, 8 and 15 decoding workers, fp16 on cuda, 8 frames at 224 px: decode only,
#      backbone only, end to end and its ratio, main-process CPU per video with a free backbone;
#   4. prints one Markdown table, then how much fp16 batch composition moves the B/16 features.
#
#   bash bench/gpu.sh          # on the GPU machine, from the repository root
#   bash bench/gpu.sh --dry    # on a CPU in a minute or so: tiny data, tiny CLIP configs, 1 and 2 workers
#
# PYTHON picks the interpreter (default: python3); the work folder is removed at the end unless KEEP=1.
set -euo pipefail

DRY=0
[[ "${1:-}" == "--dry" ]] && DRY=1
PY="${PYTHON:-python3}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zsar-gpu-bench.XXXXXX")"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT

if [[ $DRY == 1 ]]; then
  SYNTH=(--classes 2 --per-class 2 --frames 16 --size 64x64); PARTS=2; LINKS=2
  DEVICE=(--device cpu --precision fp32); WORKERS=1,2; MORE=(--free-videos 16 --backbone-clips 16 --batch-size 8)
else
  SYNTH=(--classes 20 --per-class 1 --frames 100 --size 320x240); PARTS=8; LINKS=12
  DEVICE=(--device cuda --precision fp16); WORKERS=4,8,15; MORE=(--free-videos 480 --backbone-clips 512)
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

# 3. the table
"$PY" "$REPO/bench/extract.py" --backbone clip-vit-b16,clip-vit-l14 --weights "$WORK/clip-b16,$WORK/clip-l14" \
  "${DEVICE[@]}" --workers "$WORKERS" --free-threads 1 --data "$DATA" "${MORE[@]}" 2>"$WORK/bench.log" \
  || { tail -n 20 "$WORK/bench.log" >&2; exit 1; }

# 4. fp16 batch composition: the same clips alone and in one batch
"$PY" - "$WORK" "${DEVICE[1]}" "${DEVICE[3]}" <<'EOF' 2>"$WORK/composition.log" \
  || { tail -n 20 "$WORK/composition.log" >&2; exit 1; }
import sys
import torch
from zsar.extract.models.backbones import BackboneConfig, create_backbone

work, device, precision = sys.argv[1:]
backbone = create_backbone(BackboneConfig("clip-vit-b16", weights=f"{work}/clip-b16", device=device,
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
