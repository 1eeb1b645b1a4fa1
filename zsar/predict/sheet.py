"""The contact sheet: a middle frame of each video with its top-3 labels and probabilities, as PNG pages.

Each tile is the video's middle frame (decoded with ``zsar.extract.decode``: one uniform
segment, its centre frame; short side to ``TILE``, centre crop), then, for a video with a
timeline (``--window``), a strip of its windows coloured by each one's top label, and
under them the caption (``caption_lines``): the file name, then the best ``SHEET_LABELS``
labels with their probabilities (with a strip: the best label, then the strip's most
frequent labels with their share of the windows, each beside its colour), or what the
table says instead: ``failed: <error>``, or the note of a video that decoded only in
part (``partly decoded: ...; left out ...``, wrapped over the caption's lines). A failed
video gets a grey tile. A page holds ``per_page`` tiles, ``COLUMNS`` to a row:
``sheet.png``, then ``sheet-2.png``, ... up to ``max_pages`` pages; videos beyond those are
left off (the returned count says how many). A page of ``n`` tiles is ``min(n, COLUMNS) *
TILE`` wide and ``ceil(n / COLUMNS) * (TILE + CAPTION)`` high.

It decodes one frame per video, so a call with ``--sheet`` reads every video once more
than the (cached) features need.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zsar.errors import ZsarError
from zsar.extract.decode import DecodeError, decode_video
from zsar.extract.sampling import SamplingConfig
from zsar.files import atomic_write, write_error
from zsar.predict.output import STATUS_FAILED, STATUS_PARTIAL, Prediction, escaped

TILE = 160           # square frame side, pixels
LINE = 14            # caption line height
STRIP = 10           # height of the timeline strip, pixels
SHEET_LABELS = 3     # labels under each frame
CAPTION = STRIP + LINE * (SHEET_LABELS + 1) + 6
COLUMNS = 5
PER_PAGE = 30        # tiles per page (6 rows of 5)
MAX_PAGES = 10       # pages written at most (300 videos); the rest are left off
NOTE_WIDTH = 26      # characters per caption line of a wrapped note
MIDDLE = SamplingConfig(mode="uniform", frames=1)
BACKGROUND, INK, FAILED, NO_LABEL = (255, 255, 255), (20, 20, 20), (200, 200, 200), (235, 235, 235)
# Colours of the strip's labels (Tableau 10), by a label's rank among the call's top labels.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def page_paths(path: Path, pages: int) -> list[Path]:
    """``sheet.png``, ``sheet-2.png``, ... for ``pages`` pages."""
    return [path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(pages)]


def page_size(tiles: int) -> tuple[int, int]:
    """``(width, height)`` in pixels of a page of ``tiles`` tiles."""
    return min(tiles, COLUMNS) * TILE, math.ceil(tiles / COLUMNS) * (TILE + CAPTION)


def caption_lines(row: Prediction) -> list[str]:
    """The caption under a tile: its name, then its top labels with probabilities, or what kept it from them."""
    lines = [escaped(Path(row.video).name)]
    if row.status == STATUS_FAILED:
        return lines + [f"failed: {row.error}"]
    if not row.labels:
        return lines + textwrap.wrap(row.note, NOTE_WIDTH)[:SHEET_LABELS]
    labels = [f"{p:4.2f} {label}" for label, p in zip(row.labels[:SHEET_LABELS], row.probabilities)]
    if row.status == STATUS_PARTIAL:  # the note first (two lines), then the best label
        return lines + textwrap.wrap(row.note, NOTE_WIDTH)[:SHEET_LABELS - 1] + labels[:1]
    if row.windows:  # the best label, then the strip's most frequent labels with their share of the windows
        tops = Counter(w.labels[0] for w in row.windows if w.labels).most_common(SHEET_LABELS - 1)
        return lines + labels[:1] + [f"{label}: {n}/{len(row.windows)} windows" for label, n in tops]
    return lines + labels


def label_colours(rows: list[Prediction]) -> dict[str, tuple[int, int, int]]:
    """A colour per label that is some window's top label, the most frequent first (grey beyond the palette)."""
    counts: dict[str, int] = {}
    for row in rows:
        for w in row.windows:
            if w.labels:
                counts[w.labels[0]] = counts.get(w.labels[0], 0) + 1
    ranked = sorted(counts, key=lambda label: (-counts[label], label))
    return {label: PALETTE[i] if i < len(PALETTE) else PALETTE[-3] for i, label in enumerate(ranked)}


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


def _strip(draw: ImageDraw.ImageDraw, row: Prediction, colours: dict[str, tuple[int, int, int]]) -> None:
    """The windows of ``row`` left to right, each coloured by its top label (light grey: no label)."""
    end = max(w.end for w in row.windows)
    for w in row.windows:
        x0, x1 = round(w.start / end * TILE), max(round(w.end / end * TILE) - 1, round(w.start / end * TILE))
        draw.rectangle((x0, TILE + 1, x1, TILE + STRIP - 1), fill=colours.get(w.labels[0], NO_LABEL)
                       if w.labels else NO_LABEL)


def _label_of(line: str, row: Prediction) -> str | None:
    """The label a caption line names (a top label, or a strip label with its windows), if any."""
    names = set(row.labels) | {w.labels[0] for w in row.windows if w.labels}
    return next((name for name in names if line.endswith(f" {name}") or line.startswith(f"{name}: ")), None)


def _tile(row: Prediction, font: ImageFont.ImageFont, colours: dict[str, tuple[int, int, int]]) -> Image.Image:
    tile = Image.new("RGB", (TILE, TILE + CAPTION), BACKGROUND)
    frame, error = _frame(row)
    tile.paste(frame, (0, 0))
    draw = ImageDraw.Draw(tile)
    if row.windows:
        _strip(draw, row, colours)
    lines = caption_lines(row) if not error else [escaped(Path(row.video).name), f"failed: {error}"]
    top = TILE + STRIP + 3
    for i, line in enumerate(lines[:SHEET_LABELS + 1]):  # the file name keeps its end, labels their start
        x = 3
        label = _label_of(line, row) if i and not error else None
        if row.windows and label in colours:
            draw.rectangle((3, top + i * LINE + 3, 10, top + i * LINE + 10), fill=colours[label])
            x = 13
        draw.text((x, top + i * LINE), _fit(draw, line, font, TILE - x - 3, keep_end=i == 0), fill=INK, font=font)
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
    colours = label_colours(shown)
    written = []
    for page, target in zip(pages, page_paths(path, len(pages))):
        sheet = Image.new("RGB", page_size(len(page)), BACKGROUND)
        for i, row in enumerate(page):
            sheet.paste(_tile(row, font, colours), ((i % COLUMNS) * TILE, (i // COLUMNS) * (TILE + CAPTION)))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_error(target.parent, err, "choose a writable --sheet") from None
        with atomic_write(target, "choose a writable --sheet") as tmp:
            sheet.save(tmp, format="PNG")
        written.append(target)
    return written, len(rows) - len(shown)
