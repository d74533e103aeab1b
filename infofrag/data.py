"""Datasets: procedural dSprites, the circle, and loaders for files a user brings.

Every dataset is a :class:`Dataset` with a fixed number of points ``n``; ``get(indices)`` returns
the inputs as float32 ``[n, *input_shape]`` and ``factors(indices)`` the ground-truth factors as
int64 class indices ``[n, F]`` (``F`` may be 0). ``make_dataset(cfg)`` builds one from the
config's ``dataset`` section; ``draw_sample(ds, n, seed)`` draws the fingerprint sample.

Procedural dSprites
-------------------
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
import gzip
import math
import os
import zipfile
from collections.abc import Mapping

import numpy as np

__all__ = [
    "DATASET_NAMES",
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DSPRITES_SHAPES",
    "DataFileError",
    "Dataset",
    "DSprites",
    "Circle",
    "ArrayDataset",
    "make_dataset",
    "draw_sample",
    "dsprites_index",
    "dsprites_classes",
    "render_dsprites",
    "render_dsprites_reference",
    "load_dsprites_npz",
    "load_idx",
    "read_idx",
    "load_images",
]

class DataFileError(ValueError):
    """A user data file is missing, unreadable or malformed (the message names the file)."""


DATASET_NAMES = ("dsprites", "circle", "dsprites_npz", "idx", "images")

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


# --------------------------------------------------------------------------------------------
# Dataset base class
# --------------------------------------------------------------------------------------------


class Dataset:
    """A finite dataset: ``n`` points, inputs via :meth:`get`, factor classes via :meth:`factors`.

    Attributes: ``name``, ``n``, ``input_shape`` (``(1, H, W)`` for images, ``(2,)`` for the
    circle), ``likelihood`` (``"bernoulli"`` for images in [0, 1], ``"gaussian"`` for the
    circle), ``factor_names`` (tuple of str, may be empty), ``factor_sizes`` (tuple of int).
    """

    name: str
    n: int
    input_shape: tuple
    likelihood: str
    factor_names: tuple = ()
    factor_sizes: tuple = ()

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, n={self.n}, input_shape={self.input_shape}, "
            f"likelihood={self.likelihood!r}, factor_names={self.factor_names})"
        )

    def _indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1:
            raise ValueError(f"indices: expected a 1-D array of point indices, got shape {idx.shape}")
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices: expected integer indices, got dtype {idx.dtype}")
        idx = idx.astype(np.int64, copy=False)
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.n:
            raise ValueError(
                f"indices: out of range for dataset {self.name!r} with {self.n} points "
                f"(got min {lo}, max {hi})"
            )
        return idx

    def get(self, indices) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def factors(self, indices) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Procedural dSprites
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Circle
# --------------------------------------------------------------------------------------------


class Circle(Dataset):
    """Points ``(cos t, sin t)`` on the unit circle; one factor ``angle`` binned into classes.

    Angles form an even grid ``2 pi k / n`` or, with a seed, are uniform random from it.
    """

    def __init__(self, n_points: int = 1000, angle_bins: int = 12, seed: int | None = None):
        self.n = _check_int(n_points, "dataset.n_points", minimum=2)
        bins = _check_int(angle_bins, "dataset.angle_bins", minimum=2)
        if seed is None:
            k = np.arange(self.n)
            t = 2.0 * np.pi * k / self.n
            classes = k * bins // self.n  # exact: bin edges fall on grid points
        else:
            seed = _check_int(seed, "dataset.seed", minimum=0)
            t = np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, self.n)
            classes = np.minimum((t / (2.0 * np.pi) * bins).astype(np.int64), bins - 1)
        self.seed = seed
        self.angles = t
        self.name = "circle"
        self.input_shape = (2,)
        self.likelihood = "gaussian"
        self.factor_names = ("angle",)
        self.factor_sizes = (bins,)
        self._x = np.stack([np.cos(t), np.sin(t)], axis=1).astype(np.float32)
        self._f = classes.astype(np.int64)[:, None]

    def get(self, indices) -> np.ndarray:
        return self._x[self._indices(indices)]

    def factors(self, indices) -> np.ndarray:
        return self._f[self._indices(indices)]


# --------------------------------------------------------------------------------------------
# Images held in an array (user files)
# --------------------------------------------------------------------------------------------


class ArrayDataset(Dataset):
    """Images ``[N, H, W]`` (uint8/bool/int or float, possibly memory-mapped) with factor classes.

    ``scale`` multiplies the stored values into [0, 1] (1 or 1/255).
    """

    def __init__(self, name, images, scale, factors, factor_names, factor_sizes, source=None):
        self.name = name
        self.source = source
        self._images = images
        self._scale = np.float32(scale)
        self.n = int(images.shape[0])
        h, w = images.shape[1:]
        self.input_shape = (1, int(h), int(w))
        self.likelihood = "bernoulli"
        self._factors = factors
        self.factor_names = tuple(factor_names)
        self.factor_sizes = tuple(int(s) for s in factor_sizes)

    def get(self, indices) -> np.ndarray:
        idx = self._indices(indices)
        x = np.asarray(self._images[idx]).astype(np.float32)
        if self._scale != 1:
            x *= self._scale
        return x.reshape(len(idx), *self.input_shape)

    def factors(self, indices) -> np.ndarray:
        return self._factors[self._indices(indices)]


def _fail(path, problem: str):
    raise DataFileError(f"{path}: {problem}")


def _check_images(a: np.ndarray, path, image_size=None) -> tuple[np.ndarray, float]:
    """Validate an image array from ``path``; return it as ``[N, H, W]`` and its value scale."""
    if a.ndim == 4:
        if a.shape[1] != 1:
            _fail(path, f"expected images [N, H, W] or [N, 1, H, W], got shape {a.shape} "
                        f"(only single-channel images are supported)")
        a = a.reshape(a.shape[0], a.shape[2], a.shape[3])
    if a.ndim != 3:
        _fail(path, f"expected images [N, H, W] or [N, 1, H, W], got shape {a.shape}")
    if a.shape[0] == 0:
        _fail(path, "contains no images (N = 0)")
    if a.shape[1] != a.shape[2]:
        _fail(path, f"images must be square, got {a.shape[1]} x {a.shape[2]}")
    if a.shape[1] < 2:
        _fail(path, f"images of {a.shape[1]} x {a.shape[2]} pixels are too small")
    if image_size is not None and a.shape[1] != image_size:
        _fail(path, f"images are {a.shape[1]} x {a.shape[2]} but dataset.image_size is {image_size}")

    kind = a.dtype.kind
    if kind == "b":
        return a, 1.0
    chunk = max(1, (1 << 24) // max(1, a.shape[1] * a.shape[2]))  # ~16 M pixels at a time
    if kind in "ui":
        lo, hi = None, None
        for start in range(0, a.shape[0], chunk):
            part = np.asarray(a[start:start + chunk])
            plo, phi = int(part.min()), int(part.max())
            lo = plo if lo is None else min(lo, plo)
            hi = phi if hi is None else max(hi, phi)
        if lo < 0 or hi > 255:
            _fail(path, f"integer pixel values must lie in [0, 255], got min {lo}, max {hi}")
        # 0/1 integer images (the dSprites convention) are binary masks, others 8-bit grey.
        return a, (1.0 if hi <= 1 else 1.0 / 255.0)
    if kind == "f":
        lo, hi = math.inf, -math.inf
        for start in range(0, a.shape[0], chunk):
            part = np.asarray(a[start:start + chunk])
            if not np.isfinite(part).all():
                bad = start + int(np.flatnonzero(~np.isfinite(part).reshape(len(part), -1).all(1))[0])
                _fail(path, f"contains NaN or infinite pixel values (first in image {bad})")
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
        if lo < 0.0 or hi > 1.0:
            _fail(path, f"float pixel values must lie in [0, 1], got min {lo:g}, max {hi:g} "
                        f"(scale them, or save uint8)")
        return a, 1.0
    _fail(path, f"unsupported pixel dtype {a.dtype} (expected uint8, bool, or float in [0, 1])")


def _check_labels(labels, n: int, path, names=None) -> tuple[np.ndarray, tuple, tuple]:
    """Validate labels ``[N]`` or ``[N, F]``; return class indices, names, sizes.

    Each column's distinct values become classes ``0..K-1`` in sorted order (identity for
    labels that already are ``0..K-1``).
    """
    lab = np.asarray(labels)
    if lab.ndim == 1:
        lab = lab[:, None]
    if lab.ndim != 2:
        _fail(path, f"labels must have shape [N] or [N, F], got {lab.shape}")
    if lab.shape[0] != n:
        _fail(path, f"labels have {lab.shape[0]} rows but there are {n} images")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or (lab != np.round(lab)).any():
            _fail(path, "labels must be integer class labels (bin continuous factors first)")
        lab = lab.astype(np.int64)
    elif lab.dtype.kind not in "uib":
        _fail(path, f"labels must be integers, got dtype {lab.dtype}")
    f = lab.shape[1]
    if names is None:
        names = ("label",) if f == 1 else tuple(f"factor{i}" for i in range(f))
    else:
        names = tuple(str(s) for s in np.asarray(names).reshape(-1))
        if len(names) != f:
            _fail(path, f"factor_names has {len(names)} names but labels have {f} columns")
        if len(set(names)) != len(names) or any(not s for s in names):
            _fail(path, f"factor_names must be distinct, non-empty strings, got {names}")
    classes = np.empty(lab.shape, dtype=np.int64)
    sizes = []
    for j in range(f):
        values, inv = np.unique(lab[:, j], return_inverse=True)
        classes[:, j] = inv.reshape(-1)
        sizes.append(len(values))
    return classes, names, tuple(sizes)


def _resolve(path, key: str) -> str:
    if path is None:
        raise ValueError(f"{key} is required for this dataset")
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"{key}: expected a file path, got {path!r}")
    p = os.path.expanduser(os.fspath(path))
    if not os.path.exists(p):
        raise DataFileError(f"{p}: file not found ({key})")
    if os.path.isdir(p):
        raise DataFileError(f"{p}: is a directory, expected a file ({key})")
    if os.path.getsize(p) == 0:
        raise DataFileError(f"{p}: file is empty ({key})")
    return p


def _open_npz(path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(f"{path}: not a readable .npz file ({e})") from e


def _npz_array(z, key, path):
    try:
        return z[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataFileError(f"{path}: cannot read array {key!r} ({e})") from e


def load_dsprites_npz(path, image_size=None) -> ArrayDataset:
    """The original dSprites ``.npz`` (``imgs`` uint8 [N, 64, 64] of 0/1, ``latents_classes``
    [N, 6]: color, shape, scale, orientation, posX, posY; the constant color column is dropped)."""
    path = _resolve(path, "dataset.path")
    with _open_npz(path) as z:
        for key in ("imgs", "latents_classes"):
            if key not in z.files:
                _fail(path, f"missing array {key!r} (has {sorted(z.files)}); expected the dSprites .npz")
        imgs = _npz_array(z, "imgs", path)
        lat = _npz_array(z, "latents_classes", path)
    imgs, scale = _check_images(imgs, path, image_size)
    if lat.ndim != 2 or lat.shape[1] != 6:
        _fail(path, f"latents_classes must have shape [N, 6], got {lat.shape}")
    if lat.shape[0] != imgs.shape[0]:
        _fail(path, f"latents_classes has {lat.shape[0]} rows but imgs has {imgs.shape[0]} images")
    if lat.dtype.kind not in "ui":
        _fail(path, f"latents_classes must be integers, got dtype {lat.dtype}")
    lat = lat[:, 1:].astype(np.int64)
    if (lat < 0).any():
        _fail(path, "latents_classes has negative classes")
    sizes = tuple(int(s) for s in lat.max(axis=0) + 1)
    return ArrayDataset("dsprites_npz", imgs, scale, lat, DSPRITES_FACTOR_NAMES, sizes, source=path)


_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST format; gzip-compressed when it starts with the gzip magic)."""
    path = _resolve(path, "path")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataFileError(f"{path}: cannot read ({'corrupt gzip: ' if gz else ''}{e})") from e
    if len(data) < 4:
        _fail(path, "too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        _fail(path, "not an IDX file (the magic number must start with two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        _fail(path, f"unknown IDX data type code 0x{code:02X}")
    if ndim == 0:
        _fail(path, "IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        _fail(path, "truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        _fail(path, f"truncated: header declares dims {dims} ({expected} data bytes), found {got}")
    if got > expected:
        _fail(path, f"{got - expected} unexpected bytes after the data declared by dims {dims}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx(path, labels_path=None, image_size=None) -> ArrayDataset:
    """MNIST-style IDX images (idx3, [N, H, W]) with optional IDX labels (idx1, [N])."""
    p = _resolve(path, "dataset.path")
    imgs = read_idx(p)
    if imgs.ndim != 3:
        _fail(p, f"expected an idx3 image file [N, H, W], got {imgs.ndim} dimensions {imgs.shape}")
    imgs, scale = _check_images(imgs, p, image_size)
    factors, names, sizes = np.zeros((imgs.shape[0], 0), np.int64), (), ()
    if labels_path is not None:
        lp = _resolve(labels_path, "dataset.labels_path")
        lab = read_idx(lp)
        if lab.ndim != 1:
            _fail(lp, f"expected an idx1 label file [N], got {lab.ndim} dimensions {lab.shape}")
        if lab.dtype.kind not in "ui":
            _fail(lp, f"labels must be integers, got dtype {lab.dtype}")
        factors, names, sizes = _check_labels(lab, imgs.shape[0], lp)
    return ArrayDataset("idx", imgs, scale, factors, names, sizes, source=p)


_IMAGE_KEYS = ("images", "imgs", "x")
_LABEL_KEYS = ("labels", "factors")


def load_images(path, image_size=None) -> ArrayDataset:
    """A plain ``.npy`` ([N, H, W] or [N, 1, H, W]; memory-mapped) or ``.npz`` (images under
    ``images``, ``imgs`` or ``x``; optional ``labels``/``factors`` [N] or [N, F]; optional
    ``factor_names``)."""
    p = _resolve(path, "dataset.path")
    with open(p, "rb") as fh:
        head = fh.read(6)
    labels = fnames = None
    if head == b"\x93NUMPY":
        try:
            imgs = np.load(p, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise DataFileError(f"{p}: not a readable .npy file ({e})") from e
    elif head[:4] == b"PK\x03\x04":
        with _open_npz(p) as z:
            keys = [k for k in _IMAGE_KEYS if k in z.files]
            if not keys:
                _fail(p, f"no image array: expected one of {list(_IMAGE_KEYS)}, found {sorted(z.files)}")
            if len(keys) > 1:
                _fail(p, f"ambiguous: several image arrays {keys}; keep one")
            imgs = _npz_array(z, keys[0], p)
            lkeys = [k for k in _LABEL_KEYS if k in z.files]
            if len(lkeys) > 1:
                _fail(p, f"ambiguous: both {lkeys} present; keep one")
            labels = _npz_array(z, lkeys[0], p) if lkeys else None
            fnames = _npz_array(z, "factor_names", p) if "factor_names" in z.files else None
        if fnames is not None and labels is None:
            _fail(p, "factor_names given without labels/factors")
    else:
        _fail(p, "neither a .npy nor a .npz file")
    imgs, scale = _check_images(imgs, p, image_size)
    if labels is not None:
        factors, names, sizes = _check_labels(labels, imgs.shape[0], p, fnames)
    else:
        factors, names, sizes = np.zeros((imgs.shape[0], 0), np.int64), (), ()
    return ArrayDataset("images", imgs, scale, factors, names, sizes, source=p)


# --------------------------------------------------------------------------------------------
# Config -> dataset; the fingerprint sample
# --------------------------------------------------------------------------------------------

_KEYS = {
    "dsprites": ("image_size",),
    "circle": ("n_points", "angle_bins", "seed"),
    "dsprites_npz": ("path", "image_size"),
    "idx": ("path", "labels_path", "image_size"),
    "images": ("path", "image_size"),
}


def _check_int(value, key: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key}: must be at least {minimum}, got {value}")
    return int(value)


def make_dataset(cfg: Mapping) -> Dataset:
    """Build the dataset described by the config's ``dataset`` section.

    ``name`` is one of ``dsprites`` (``image_size`` 32 or 64, default 64), ``circle``
    (``n_points`` = 1000, ``angle_bins`` = 12, ``seed``: random angles from it, else an even grid),
    ``dsprites_npz`` / ``images`` (``path``), ``idx`` (``path``, optional ``labels_path``); for
    user files ``image_size`` is an optional expected size. Keys set to None count as absent;
    keys the dataset does not use are an error.
    """
    if not isinstance(cfg, Mapping):
        raise ValueError(f"dataset: expected a mapping, got {type(cfg).__name__}")
    name = cfg.get("name")
    if name is None:
        raise ValueError(f"dataset.name is required (one of {', '.join(DATASET_NAMES)})")
    if name not in _KEYS:
        raise ValueError(f"dataset.name: unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    allowed = _KEYS[name]
    for key in cfg:
        if key != "name" and key not in allowed:
            raise ValueError(
                f"dataset.{key}: not a setting of dataset {name!r} (its settings: {', '.join(allowed)})"
            )
    c = {k: v for k, v in cfg.items() if v is not None}
    if name == "dsprites":
        return DSprites(c.get("image_size", 64))
    if name == "circle":
        return Circle(c.get("n_points", 1000), c.get("angle_bins", 12), c.get("seed"))
    size = c.get("image_size")
    if size is not None:
        size = _check_int(size, "dataset.image_size", minimum=2)
    if "path" not in c:
        raise ValueError(f"dataset.path is required for dataset {name!r}")
    if name == "dsprites_npz":
        return load_dsprites_npz(_resolve(c["path"], "dataset.path"), size)
    if name == "idx":
        labels = c.get("labels_path")
        if labels is not None:
            labels = _resolve(labels, "dataset.labels_path")
        return load_idx(_resolve(c["path"], "dataset.path"), labels, size)
    return load_images(_resolve(c["path"], "dataset.path"), size)


def draw_sample(ds: Dataset, n: int, seed: int) -> dict:
    """The fingerprint sample: ``n`` distinct points drawn once from ``seed``.

    Returns ``dict(indices=int64 [n] sorted, x=float32 [n, ...], factors=int64 [n, F],
    factor_names=tuple)``.
    """
    n = _check_int(n, "sample.n_points")
    if n < 2:
        raise ValueError(f"sample.n_points: must be at least 2, got {n}")
    if n > ds.n:
        raise ValueError(f"sample.n_points: {n} is larger than dataset {ds.name!r} ({ds.n} points)")
    seed = _check_int(seed, "sample.seed", minimum=0)
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.choice(ds.n, size=n, replace=False)).astype(np.int64)
    return {
        "indices": indices,
        "x": ds.get(indices),
        "factors": ds.factors(indices),
        "factor_names": tuple(ds.factor_names),
    }
