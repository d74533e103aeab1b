"""Procedural dSprites: the factor grid, the geometry and the renderer.

3 shapes (square, ellipse, heart) x 6 scales ``linspace(0.5, 1, 6)`` x 40 orientations
``2 pi k / 40`` (a full turn, no duplicate end point) x 32 x 32 positions = 737,280 binary images,
64 x 64 (or rendered directly at 32 x 32). Image ``k`` is the point ``k`` of the factor grid in
row-major order over ``(shape, scale, orientation, x, y)``; rendering involves no randomness.

Geometry (in units of the frame width ``W``; a pixel is on when its centre is inside the shape):

- the sprite's centre (its area centroid, also the centre of rotation) sits on a 32 x 32 grid
  centred in the frame with a step of ``1.5/64 W`` (1.5 px at 64 x 64, 0.75 px at 32 x 32):
  centre ``c_k = (35 + 6 k) W / 256``, from 0.137 W to 0.863 W. ``x`` moves the sprite to the
  right (column), ``y`` down (row);
- at scale 1: the square has side 0.19 W (12.2 px at 64), the ellipse semi-axes 0.13 W and
  0.065 W, the heart (the curve ``(u^2+v^2-1)^3 = u^2 v^3``) a largest radius of 0.133 W; every
  sprite, at any orientation and position, lies wholly inside the frame;
- orientation ``k`` turns the sprite by ``2 pi k / 40`` counter-clockwise as displayed (row 0 at
  the top).

This resembles the original dSprites (sprites of about a fifth of the frame, moving over most
of it) but is not pixel-identical to it. Rendering is exact and fast: every sprite is rendered
once per (shape, scale, orientation, sub-pixel phase of the centre) into a small box (a lookup
table of a few MB, built on first use), and an image is its box placed by integer translation;
because the centres are dyadic, the result equals rendering the whole frame from the geometry
directly (:func:`render_dsprites_reference`, used by the tests).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .base import Dataset

__all__ = [
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DSPRITES_SHAPES",
    "DSprites",
    "dsprites_index",
    "dsprites_classes",
    "render_dsprites",
    "render_dsprites_reference",
]

DSPRITES_FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
DSPRITES_FACTOR_SIZES = (3, 6, 40, 32, 32)
DSPRITES_SHAPES = ("square", "ellipse", "heart")
DSPRITES_SIZES = (32, 64)
DSPRITES_N = int(np.prod(DSPRITES_FACTOR_SIZES))  # 737,280

# Geometry, in units of the frame width at scale 1 (see the module docstring).
_SQUARE_HALF = 0.095
_ELLIPSE_AXES = (0.13, 0.065)
_HEART_UNIT = 0.133 / 1.2932  # frame widths per unit of the native heart curve
_HEART_CENTROID_V = 0.2935  # area centroid of the native heart (u = 0 by symmetry)
_MAX_RADIUS = max(_SQUARE_HALF * math.sqrt(2.0), max(_ELLIPSE_AXES), 0.133)


def dsprites_classes(indices) -> np.ndarray:
    """Factor classes ``[n, 5]`` (shape, scale, orientation, x, y) of dSprites grid indices."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= DSPRITES_N):
        raise ValueError(f"indices: dSprites indices must lie in [0, {DSPRITES_N})")
    return np.stack(np.unravel_index(idx, DSPRITES_FACTOR_SIZES), axis=1).astype(np.int64)


def dsprites_index(classes) -> np.ndarray:
    """Grid indices ``[n]`` of factor classes ``[n, 5]`` (inverse of :func:`dsprites_classes`)."""
    c = np.asarray(classes)
    if c.ndim == 1:
        c = c.reshape(1, -1)
    if c.ndim != 2 or c.shape[1] != len(DSPRITES_FACTOR_SIZES):
        raise ValueError(f"classes: expected shape [n, 5], got {c.shape}")
    sizes = np.asarray(DSPRITES_FACTOR_SIZES)
    if c.size and ((c < 0).any() or (c >= sizes).any()):
        raise ValueError(f"classes: each column must lie in [0, size) for sizes {DSPRITES_FACTOR_SIZES}")
    return np.ravel_multi_index(tuple(c.T.astype(np.int64)), DSPRITES_FACTOR_SIZES).astype(np.int64)


def _check_dsprites_size(image_size) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise ValueError(f"dataset.image_size: expected 32 or 64 for dsprites, got {image_size!r}")
    if int(image_size) not in DSPRITES_SIZES:
        raise ValueError(f"dataset.image_size: expected 32 or 64 for dsprites, got {image_size}")
    return int(image_size)


@functools.lru_cache(maxsize=None)
def _trig_table() -> tuple[np.ndarray, np.ndarray]:
    # Rounded so that a last-ulp difference between maths libraries cannot move a pixel.
    theta = 2.0 * np.pi * np.arange(DSPRITES_FACTOR_SIZES[2]) / DSPRITES_FACTOR_SIZES[2]
    return np.round(np.cos(theta), 12), np.round(np.sin(theta), 12)


def _centres(size: int) -> np.ndarray:
    """Sprite centres (pixel units, from the frame's edge) of the 32 positions; exact dyadics."""
    return (35.0 + 6.0 * np.arange(DSPRITES_FACTOR_SIZES[3])) * size / 256.0


def _inside(shape: int, dx, dy, scale, cos, sin, size: int) -> np.ndarray:
    """Whether points at offsets (dx, dy) pixels (dy downward) from a sprite's centre are inside.

    ``scale``, ``cos``, ``sin`` broadcast against ``dx``/``dy``.
    """
    length = scale * size  # pixels per frame width at this scale
    u = (cos * dx - sin * dy) / length
    v = (-sin * dx - cos * dy) / length
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF
    if shape == 1:  # ellipse, long axis along u
        a, b = _ELLIPSE_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    if shape == 2:  # heart, point down at orientation 0
        hu = u / _HEART_UNIT
        hv = v / _HEART_UNIT + _HEART_CENTROID_V
        r = hu * hu + hv * hv - 1.0
        return r * r * r - hu * hu * hv * hv * hv <= 0.0
    raise ValueError(f"shape: expected 0, 1 or 2, got {shape}")


class _SpriteTable:
    """Sprite boxes per (shape, scale, orientation, y-phase, x-phase) for one image size."""

    def __init__(self, size: int):
        self.size = size
        centres = _centres(size)
        origin = np.floor(centres)
        frac = centres - origin
        phases, self.phase_of = np.unique(frac, return_inverse=True)  # per position class
        self.phase_of = self.phase_of.astype(np.int64)
        self.n_phases = len(phases)
        # A pixel c is on only if |c + 0.5 - centre| <= radius: with centre = origin + phase,
        # c - origin lies in [lo, hi] for every phase.
        radius = _MAX_RADIUS * size
        lo = int(min(math.ceil(-radius - 0.5 + f) for f in phases))
        hi = int(max(math.floor(radius - 0.5 + f) for f in phases))
        self.box = hi - lo + 1
        # top-left corner of the box in the frame, per position class
        self.corner = origin.astype(np.int64) + lo
        if self.corner.min() < 0 or self.corner.max() + self.box > size:
            # boxes must lie inside the frame for the translation to be exact without clipping
            raise AssertionError("dSprites geometry: sprite boxes leave the frame")  # pragma: no cover

        offs = np.arange(self.box, dtype=np.float64) + lo + 0.5  # box pixel centre - integer origin
        d = offs[None, :] - phases[:, None]  # [P, B] offsets from the sprite's centre
        cos, sin = _trig_table()
        scales = np.linspace(0.5, 1.0, DSPRITES_FACTOR_SIZES[1])
        n_sc, n_or, p, b = len(scales), len(cos), self.n_phases, self.box
        dy = d.reshape(1, 1, p, 1, b, 1)
        dx = d.reshape(1, 1, 1, p, 1, b)
        sc = scales.reshape(n_sc, 1, 1, 1, 1, 1)
        c = cos.reshape(1, n_or, 1, 1, 1, 1)
        s = sin.reshape(1, n_or, 1, 1, 1, 1)
        table = np.empty((3, n_sc, n_or, p, p, b, b), dtype=np.float32)
        for shape in range(3):
            table[shape] = _inside(shape, dx, dy, sc, c, s, size)
        # flat lookup: row ((shape*6 + scale)*40 + orientation)*P*P + py*P + px
        self.table = table.reshape(-1, b, b)
        self._ar = np.arange(b, dtype=np.int64)

    def render(self, classes: np.ndarray) -> np.ndarray:
        n = classes.shape[0]
        s = self.size
        out = np.zeros((n, 1, s, s), dtype=np.float32)
        if n == 0:
            return out
        shape, scale, orient, xk, yk = classes.T
        p = self.n_phases
        row = (((shape * DSPRITES_FACTOR_SIZES[1] + scale) * DSPRITES_FACTOR_SIZES[2] + orient) * p
               + self.phase_of[yk]) * p + self.phase_of[xk]
        boxes = self.table[row]  # [n, B, B]
        rows = self.corner[yk][:, None] + self._ar  # [n, B]
        cols = self.corner[xk][:, None] + self._ar
        flat = out.reshape(n, s * s)
        flat[np.arange(n)[:, None, None], rows[:, :, None] * s + cols[:, None, :]] = boxes
        return out


@functools.lru_cache(maxsize=None)
def _sprite_table(size: int) -> _SpriteTable:
    return _SpriteTable(size)


def _check_classes(classes) -> np.ndarray:
    c = np.asarray(classes)
    if c.ndim == 1 and c.shape[0] == len(DSPRITES_FACTOR_SIZES):
        c = c.reshape(1, -1)
    if c.ndim != 2 or c.shape[1] != len(DSPRITES_FACTOR_SIZES):
        raise ValueError(f"classes: expected shape [n, 5], got {c.shape}")
    if c.size and not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"classes: expected integer factor classes, got dtype {c.dtype}")
    c = c.astype(np.int64, copy=False)
    if c.size and ((c < 0).any() or (c >= np.asarray(DSPRITES_FACTOR_SIZES)).any()):
        raise ValueError(f"classes: each column must lie in [0, size) for sizes {DSPRITES_FACTOR_SIZES}")
    return c


def render_dsprites(classes, image_size: int = 64) -> np.ndarray:
    """Render dSprites images from factor classes ``[n, 5]``: float32 ``[n, 1, S, S]`` of 0/1."""
    size = _check_dsprites_size(image_size)
    return _sprite_table(size).render(_check_classes(classes))


def render_dsprites_reference(classes, image_size: int = 64) -> np.ndarray:
    """Slow whole-frame rendering straight from the geometry (for tests): same output as
    :func:`render_dsprites`."""
    size = _check_dsprites_size(image_size)
    c = _check_classes(classes)
    cos, sin = _trig_table()
    scales = np.linspace(0.5, 1.0, DSPRITES_FACTOR_SIZES[1])
    centres = _centres(size)
    grid = np.arange(size, dtype=np.float64) + 0.5
    out = np.zeros((len(c), 1, size, size), dtype=np.float32)
    for i, (shape, sc, o, xk, yk) in enumerate(c):
        dx = (grid - centres[xk])[None, :]
        dy = (grid - centres[yk])[:, None]
        out[i, 0] = _inside(int(shape), dx, dy, scales[sc], cos[o], sin[o], size)
    return out


class DSprites(Dataset):
    """Procedurally rendered dSprites (see the module docstring for the geometry)."""

    def __init__(self, image_size: int = 64):
        self.image_size = _check_dsprites_size(image_size)
        self.name = "dsprites"
        self.n = DSPRITES_N
        self.input_shape = (1, self.image_size, self.image_size)
        self.likelihood = "bernoulli"
        self.factor_names = DSPRITES_FACTOR_NAMES
        self.factor_sizes = DSPRITES_FACTOR_SIZES

    def get(self, indices) -> np.ndarray:
        idx = self._indices(indices)
        return _sprite_table(self.image_size).render(dsprites_classes(idx))

    def factors(self, indices) -> np.ndarray:
        return dsprites_classes(self._indices(indices))
