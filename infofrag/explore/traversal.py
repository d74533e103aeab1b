"""Each hotspot's row of ``hotspots/traversals.png``, cut out for the explorer's hotspot panel.

The hotspots stage draws one row of image tiles per hotspot representative
(:func:`infofrag.figures.plot_traversals`), in hotspot order, and says nothing of where the rows
landed in the PNG; the rows are found again in the pixels: bands of rows that are mostly
non-white across the tiles' columns, about as tall as the tallest band and unbroken across a
tile's width (text is none of these). Only when there is one such band per hotspot is each band given to its hotspot;
otherwise (a hotspot without a decoder, data that are not images, white pictures) the explorer
shows the whole figure, and says why.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from ..errors import StoreError

#: a pixel is "ink" below this brightness (0-255; the page is white, tile frames are 0.7 grey)
INK = 235
#: a band of tiles is at least this fraction ink (text lines are far sparser) ...
TILE_INK = 0.25
#: ... at least this fraction of the tallest band's height ...
TILE_HEIGHT = 0.6
#: ... and across its middle it has an unbroken stretch of ink at least this fraction of its
#: height (a tile is about square; a line of text breaks between its letters)
TILE_RUN = 0.5


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def read_png(path) -> np.ndarray:
    """The figure as an RGB array (an error naming the file when it is not a PNG)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read the traversal figure '{path}': {type(exc).__name__}: {exc}") from exc


def tile_bands(rgb: np.ndarray) -> list:
    """``(top, bottom)`` pixel rows of each band of image tiles, top to bottom."""
    width = rgb.shape[1]
    right = rgb[:, width // 4:].min(axis=2) < INK  # the tiles' columns: labels are on the left
    ink = right.mean(axis=1)
    bands, top = [], None
    for y, inked in enumerate(np.append(ink > 0.02, False)):
        if inked and top is None:
            top = y
        elif not inked and top is not None:
            bands.append((top, y))
            top = None
    if not bands:
        return []
    tallest = max(b - a for a, b in bands)
    return [(a, b) for a, b in bands
            if b - a >= TILE_HEIGHT * tallest and right[a:b].mean() >= TILE_INK
            and _longest_run(right[(a + b) // 2]) >= TILE_RUN * (b - a)]


def _longest_run(row: np.ndarray) -> int:
    """The longest stretch of True in a row of pixels."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def hotspot_rows(path, n_hotspots: int) -> tuple[list, str | None]:
    """Each hotspot's traversal row as a PNG data URI (in hotspot order), or ``[]`` and the
    reason when the rows cannot be matched to the hotspots (then the whole figure is shown)."""
    from PIL import Image

    rgb = read_png(path)
    bands = tile_bands(rgb)
    if not n_hotspots:
        return [], "no hotspots"
    if len(bands) != n_hotspots:
        return [], (f"the traversal figure has {len(bands)} row(s) of pictures for {n_hotspots} hotspot(s) "
                    "(a representative without a decoder, or data that are not images): the whole figure "
                    "is shown")
    rows = []
    for a, b in bands:
        pad = max(2, (b - a) // 20)
        buf = io.BytesIO()
        Image.fromarray(rgb[max(0, a - pad):b + pad]).save(buf, format="PNG", optimize=True)
        rows.append(data_uri(buf.getvalue()))
    return rows, None


def whole_figure(path) -> str:
    """The traversal figure as it is, a PNG data URI."""
    try:
        return data_uri(open(path, "rb").read())
    except OSError as exc:
        raise StoreError(f"cannot read the traversal figure '{path}': {exc}") from exc
