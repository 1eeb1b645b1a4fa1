"""The contact sheet: a middle frame of each video with its top-3 labels and scores, as PNG pages.

Each tile is the video's middle frame (decoded with ``zsar.extract.decode``: one uniform
segment, its centre frame; short side to ``TILE``, centre crop), its name and its best
``SHEET_LABELS`` labels with their scores under it; a failed video gets a grey tile with
the decoder's message. A page holds ``per_page`` tiles, ``COLUMNS`` to a row: ``sheet.png``,
then ``sheet-2.png``, ``sheet-3.png``, ... up to ``max_pages`` pages; videos beyond those
are left off (the returned note says how many). A page of ``n`` tiles is
``min(n, COLUMNS) * TILE`` wide and ``ceil(n / COLUMNS) * (TILE + CAPTION)`` high.

It decodes one frame per video, so a call with ``--sheet`` reads every video once more
than the (cached) features need.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zsar.errors import ZsarError
from zsar.extract.decode import DecodeError, decode_video
from zsar.extract.sampling import SamplingConfig
from zsar.files import atomic_write, write_error
from zsar.predict.output import STATUS_FAILED, Prediction

TILE = 160           # square frame side, pixels
LINE = 14            # caption line height
SHEET_LABELS = 3     # labels under each frame
CAPTION = LINE * (SHEET_LABELS + 1) + 6
COLUMNS = 5
PER_PAGE = 30        # tiles per page (6 rows of 5)
MAX_PAGES = 10       # pages written at most (300 videos); the rest are left off
MIDDLE = SamplingConfig(mode="uniform", frames=1)
BACKGROUND, INK, FAILED = (255, 255, 255), (20, 20, 20), (200, 200, 200)


def page_paths(path: Path, pages: int) -> list[Path]:
    """``sheet.png``, ``sheet-2.png``, ... for ``pages`` pages."""
    return [path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(pages)]


def page_size(tiles: int) -> tuple[int, int]:
    """``(width, height)`` in pixels of a page of ``tiles`` tiles."""
    return min(tiles, COLUMNS) * TILE, math.ceil(tiles / COLUMNS) * (TILE + CAPTION)


def _frame(row: Prediction) -> tuple[Image.Image, str]:
    """The middle frame of ``row``'s video (or a grey tile) and an error, if decoding failed."""
    if row.status != STATUS_FAILED:
        try:
            frames = decode_video(row.path, MIDDLE, TILE).frames
            return Image.fromarray(frames[0, 0].numpy()), ""
        except DecodeError as err:
            return Image.new("RGB", (TILE, TILE), FAILED), str(err)
    return Image.new("RGB", (TILE, TILE), FAILED), row.error


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int, keep_end: bool = False) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels: its end cut off, or its start (``keep_end``)."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[1:] if keep_end else text[:-1]
    return "…" + text if keep_end else text + "…"


def _tile(row: Prediction, font: ImageFont.ImageFont) -> Image.Image:
    tile = Image.new("RGB", (TILE, TILE + CAPTION), BACKGROUND)
    frame, error = _frame(row)
    tile.paste(frame, (0, 0))
    draw = ImageDraw.Draw(tile)
    lines = [Path(row.video).name]
    if error:
        lines.append(f"failed: {error}")
    else:
        lines += [f"{score:5.2f} {label}" for label, score in zip(row.labels[:SHEET_LABELS], row.scores)]
    for i, line in enumerate(lines):  # the file name keeps its end (numbers, extension), labels their start
        draw.text((3, TILE + 3 + i * LINE), _fit(draw, line, font, TILE - 6, keep_end=i == 0), fill=INK, font=font)
    return tile


def write_sheet(rows: list[Prediction], path: Path, per_page: int = PER_PAGE,
                max_pages: int = MAX_PAGES) -> tuple[list[Path], int]:
    """Write the contact sheet pages of ``rows`` from ``path`` on; returns the pages and the videos left off."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".png":
        raise ZsarError(f"--sheet {path}: the contact sheet is a PNG; name it e.g. sheet.png")
    if per_page < 1 or max_pages < 1:
        raise ZsarError(f"contact sheet: {per_page} tiles per page, {max_pages} pages; both must be at least 1")
    shown = rows[:per_page * max_pages]
    pages = [shown[i:i + per_page] for i in range(0, len(shown), per_page)]
    font = ImageFont.load_default()
    written = []
    for page, target in zip(pages, page_paths(path, len(pages))):
        sheet = Image.new("RGB", page_size(len(page)), BACKGROUND)
        for i, row in enumerate(page):
            sheet.paste(_tile(row, font), ((i % COLUMNS) * TILE, (i // COLUMNS) * (TILE + CAPTION)))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_error(target.parent, err, "choose a writable --sheet") from None
        with atomic_write(target, "choose a writable --sheet") as tmp:
            sheet.save(tmp, format="PNG")
        written.append(target)
    return written, len(rows) - len(shown)
