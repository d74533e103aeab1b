"""Images a user brings: the dSprites ``.npz``, IDX (MNIST), ``.npy``/``.npz`` image arrays.

Each file is checked when it is opened, so that a bad one fails before any job runs, with a
:class:`DataFileError` that names the file and the problem.
"""

from __future__ import annotations

import gzip
import math
import os
import zipfile

import numpy as np

from ..errors import DataFileError
from .base import Dataset
from .dsprites import DSPRITES_FACTOR_NAMES

__all__ = ["ArrayDataset", "load_dsprites_npz", "load_idx", "read_idx", "load_images"]


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


def _check_images(a: np.ndarray, path, image_size=None, pixel_max=None) -> tuple[np.ndarray, float]:
    """Validate an image array from ``path``; return it as ``[N, H, W]`` and its value scale.

    Integer pixels are binary masks when the largest value is 1 and 8-bit grey when it lies in
    [200, 255]; any other range needs ``pixel_max`` (the value that means white): guessing would
    silently train on images scaled to a sliver of [0, 1]."""
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
        if lo < 0:
            _fail(path, f"integer pixel values must not be negative, got min {lo}")
        if pixel_max is not None:
            if hi > pixel_max:
                _fail(path, f"integer pixel values reach {hi}, above dataset.pixel_max = {pixel_max:g}")
            return a, 1.0 / float(pixel_max)
        if hi <= 1:  # 0/1 integer images (the dSprites convention) are binary masks
            return a, 1.0
        if 200 <= hi <= 255:  # 8-bit grey
            return a, 1.0 / 255.0
        _fail(path, f"integer pixel values range from {lo} to {hi}: neither binary (max 1) nor 8-bit "
                    f"grey (max 200-255); set dataset.pixel_max to the value that means white "
                    f"(e.g. pixel_max: {hi} if the brightest pixel is white)")
    if kind == "f":
        if pixel_max is not None:
            _fail(path, "dataset.pixel_max is for integer images; these are floats (expected in [0, 1])")
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
        where = "" if os.path.isabs(p) else f", relative to the working directory {os.getcwd()}"
        raise DataFileError(f"{p}: file not found ({key}{where})")
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


def load_dsprites_npz(path, image_size=None, pixel_max=None) -> ArrayDataset:
    """The original dSprites ``.npz`` (``imgs`` uint8 [N, 64, 64] of 0/1, ``latents_classes``
    [N, 6]: color, shape, scale, orientation, posX, posY; the constant color column is dropped)."""
    path = _resolve(path, "dataset.path")
    with _open_npz(path) as z:
        for key in ("imgs", "latents_classes"):
            if key not in z.files:
                _fail(path, f"missing array {key!r} (has {sorted(z.files)}); expected the dSprites .npz")
        imgs = _npz_array(z, "imgs", path)
        lat = _npz_array(z, "latents_classes", path)
    imgs, scale = _check_images(imgs, path, image_size, pixel_max)
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


def load_idx(path, labels_path=None, image_size=None, pixel_max=None) -> ArrayDataset:
    """MNIST-style IDX images (idx3, [N, H, W]) with optional IDX labels (idx1, [N])."""
    p = _resolve(path, "dataset.path")
    imgs = read_idx(p)
    if imgs.ndim != 3:
        _fail(p, f"expected an idx3 image file [N, H, W], got {imgs.ndim} dimensions {imgs.shape}")
    imgs, scale = _check_images(imgs, p, image_size, pixel_max)
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


def load_images(path, image_size=None, pixel_max=None) -> ArrayDataset:
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
    imgs, scale = _check_images(imgs, p, image_size, pixel_max)
    if labels is not None:
        factors, names, sizes = _check_labels(labels, imgs.shape[0], p, fnames)
    else:
        factors, names, sizes = np.zeros((imgs.shape[0], 0), np.int64), (), ()
    return ArrayDataset("images", imgs, scale, factors, names, sizes, source=p)
