"""How much the uint8 resize (issue 32) moves pixels and features against the float resize zsar used before.

The same sampled frames (decord, 8 per video) are resized both ways, and the two frame sets
go through efficientnet-lite0 (224 px, its real ImageNet weights) and a tiny random CLIP
(``zsar.testing.write_tiny_clip``, at its input size); prints the pixel difference (max and
mean absolute, in levels of 255, and the share of values that differ) and each backbone's
feature difference (max and mean absolute, the largest |feature| for scale, and the lowest
cosine similarity of a frame's two features). It also compares the decoders on the same
frames (PyAV and torchcodec against decord, uint8 resize).

::

    PYTHONPATH=$PWD python bench/resize_diff.py [--data DIR] [--videos 40]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def frames(paths: list[Path], size: int, resize: str, decoder: str = "decord"):
    import torch

    from zsar.extract.decode import decode_video
    from zsar.extract.sampling import SamplingConfig

    return torch.cat([decode_video(p, SamplingConfig(), size, decoder=decoder, resize=resize).frames for p in paths])


def pixel_row(name: str, a, b) -> str:
    diff = (a.int() - b.int()).abs()
    return (f"| {name} | {int(diff.max())} | {float(diff.float().mean()):.3f} | "
            f"{100 * float((diff > 0).float().mean()):.1f} % |")


def feature_row(name: str, backbone, old, new) -> str:
    import torch

    with torch.inference_mode():
        a = backbone.encode(old).flatten(0, -2)
        b = backbone.encode(new).flatten(0, -2)
    diff = (a - b).abs()
    cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return (f"| {name} | {float(diff.max()):.4g} | {float(diff.mean()):.3g} | {float(a.abs().max()):.3g} | "
            f"{float(cosine.min()):.6f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="a zsar synth folder (default: 40 new 320x240 clips)")
    parser.add_argument("--videos", type=int, default=40)
    args = parser.parse_args()
    import torch

    from zsar.extract.decoders import installed
    from zsar.extract.models.backbones import BackboneConfig, create_backbone
    from zsar.synth import SynthConfig, generate_dataset
    from zsar.testing import write_tiny_clip

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "synth"
        if args.data is None:
            generate_dataset(SynthConfig(classes=20, per_class=2, frames=100, width=320, height=240), data)
        paths = sorted((Path(data) / "videos").glob("*/*"))[:args.videos]
        lite = create_backbone(BackboneConfig(name="efficientnet-lite0"))
        clip = create_backbone(BackboneConfig(name="clip-vit-b32", weights=write_tiny_clip(Path(tmp) / "clip")))
        print(f"{len(paths)} videos of {data}, 8 frames each (decord)\n")
        print("| frames compared | max abs | mean abs | values that differ |\n|---|---:|---:|---:|")
        old224, new224 = frames(paths, 224, "float"), frames(paths, 224, "uint8")
        print(pixel_row("float vs uint8 resize, 224 px", old224, new224))
        old_clip, new_clip = frames(paths, clip.input_size, "float"), frames(paths, clip.input_size, "uint8")
        print(pixel_row(f"float vs uint8 resize, {clip.input_size} px", old_clip, new_clip))
        for decoder in ("pyav", "torchcodec"):
            if installed(decoder):
                print(pixel_row(f"{decoder} vs decord, uint8 resize, 224 px", new224, frames(paths, 224, "uint8",
                                                                                           decoder)))
        print("\n| features: float vs uint8 resize | max abs | mean abs | largest abs feature | lowest cosine |")
        print("|---|---:|---:|---:|---:|")
        print(feature_row("efficientnet-lite0, 224 px (ImageNet weights)", lite, old224, new224))
        print(feature_row(f"tiny random CLIP (clip-vit-b32 config), {clip.input_size} px", clip, old_clip, new_clip))


if __name__ == "__main__":
    main()
