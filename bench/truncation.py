"""What `zsar extract` says of a video cut short: one row per container/codec and cut, as a Markdown table.

Writes one video of each container and codec zsar reads (``zsar.synth.containers.KINDS``:
.avi mpeg4, .mp4 h264 with the ``moov`` index at the end and at the front, .mkv h264,
.webm vp9, .mov h264), keeps its first 40, 60 and 90 % of bytes as separate files of a
``folder`` dataset (the whole file too), extracts them with the tiny random backbone and
prints each manifest row: status, the decoder that read it, frames decoded, and its note
or error. Every cut file should say what was lost: a ``partly decoded: N of the M frames
its container claims`` note, or an error that says ``truncated or damaged``.

::

    PYTHONPATH=$PWD python bench/truncation.py [--frames 75] [--size 160x120] [--decoder auto]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

CUTS = (40, 60, 90, 100)
SWEPT = ("avi-mpeg4", "mp4-h264", "mp4-h264-faststart", "mkv-h264", "webm-vp9", "mov-h264")


def make_videos(root: Path, frames: int, width: int, height: int) -> None:
    """``root/<kind>/<kind>_<percent>.<ext>``: each kind's video cut to each percentage of its bytes."""
    from zsar.synth.containers import KINDS, write_container_video

    for kind in SWEPT:
        folder = root / kind
        folder.mkdir(parents=True)
        whole = write_container_video(folder / f"whole{KINDS[kind].suffix}", kind, frames, width, height).read_bytes()
        (folder / f"whole{KINDS[kind].suffix}").unlink()
        for percent in CUTS:
            (folder / f"{kind}_{percent:03d}{KINDS[kind].suffix}").write_bytes(whole[:len(whole) * percent // 100])


def sweep(root: Path, cache: Path, decoder: str) -> list[dict]:
    """Extract ``root`` as a ``folder`` dataset; its manifest rows in order."""
    from zsar.cache.layout import CacheLayout
    from zsar.cache.manifest import read_manifest
    from zsar.extract.extractor import ExtractConfig, extract

    result = extract(ExtractConfig(dataset="folder", root=root, backbone="tiny-random", text_encoder="none",
                                   cache=cache, workers=0, resolution=32, decoder=decoder))
    return read_manifest(CacheLayout(result.cache_dir)).to_pylist()


def table(rows: list[dict], root: Path) -> str:
    """The Markdown table of ``rows``; paths are shown relative to ``root``."""
    lines = ["| file | bytes kept | status | decoder | frames decoded | note or error |", "|---|---:|---|---|---:|---|"]
    for row in rows:
        kind, percent = row["video_id"].split("/")[1].rsplit("_", 1)
        said = (row["note"] or row["error"] or "-").replace(f"{root}/", "").replace("|", "/")
        frames = row["n_frames"] if row["status"] == "ok" else "-"
        lines.append(f"| {kind} | {int(percent)} % | {row['status']} | {row['decoder'] or '-'} | {frames} | {said} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=75)
    parser.add_argument("--size", default="160x120")
    parser.add_argument("--decoder", default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "videos"
        make_videos(root, args.frames, width, height)
        print(f"{len(SWEPT)} videos of {args.frames} frames at {width}x{height}, cut to {', '.join(map(str, CUTS))} % "
              f"of their bytes; zsar extract --decoder {args.decoder}\n")
        print(table(sweep(root, Path(tmp) / "cache", args.decoder), root))


if __name__ == "__main__":
    main()
