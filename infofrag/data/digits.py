"""scikit-learn's handwritten digits: a small, real, natural dataset that needs no download.

The UCI "optical recognition of handwritten digits" test set as scikit-learn ships it
(``sklearn.datasets.load_digits``): 1,797 grey images of 8 x 8 pixels, values 0-16 (counts of
set pixels in 4 x 4 blocks of the original 32 x 32 bitmaps), written by 13 people; labels 0-9,
about 180 images each. Here:

- pixel values are divided by 16, so images lie in [0, 1] (a Bernoulli likelihood, as for
  dSprites and MNIST);
- images are upsampled from 8 x 8 to ``image_size`` x ``image_size`` (default 32, what
  ``conv32`` takes; 64 for ``conv64``; any size from 8 for ``mlp``) by **bilinear**
  interpolation between pixel centres (``align_corners=False`` in torch's terms: output pixel
  ``o`` samples the source at ``(o + 0.5) * 8 / size - 0.5``, clamped to the edge pixels). Each
  output pixel is a convex combination of at most four source pixels, so values stay in [0, 1];
  at ``image_size`` 8 the images are the originals;
- the one ground-truth factor is the label, ``digit`` (10 classes). Writer, slant, stroke width
  and the like vary too but are not labelled.

Point ``k`` is row ``k`` of scikit-learn's arrays; loading involves no randomness.
"""

from __future__ import annotations

import functools

import numpy as np

from .base import Dataset, _check_int

__all__ = ["Digits", "DIGITS_N", "DIGITS_SIZE", "digits_resize_matrix"]

DIGITS_N = 1797
DIGITS_SIZE = 8  # the native image side
PIXEL_MAX = 16.0


def digits_resize_matrix(size: int, native: int = DIGITS_SIZE) -> np.ndarray:
    """``A [size, native]``: bilinear interpolation weights between pixel centres, so that an
    image ``I [native, native]`` resized is ``A @ I @ A.T``. Rows sum to 1."""
    size = _check_int(size, "dataset.image_size", minimum=DIGITS_SIZE)
    src = (np.arange(size) + 0.5) * native / size - 0.5
    src = np.clip(src, 0.0, native - 1)
    lo = np.minimum(np.floor(src).astype(np.int64), native - 2)
    w = src - lo
    a = np.zeros((size, native))
    a[np.arange(size), lo] = 1.0 - w
    a[np.arange(size), lo + 1] += w
    return a


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's images (float64 [1797, 8, 8], 0-16) and labels (int64 [1797])."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    if images.shape != (DIGITS_N, DIGITS_SIZE, DIGITS_SIZE) or labels.shape != (DIGITS_N,):
        raise ValueError(f"sklearn.datasets.load_digits: expected {DIGITS_N} images of 8 x 8, got "
                         f"{images.shape} and labels {labels.shape}")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


class Digits(Dataset):
    """scikit-learn's 1,797 handwritten digits, in [0, 1], upsampled to ``image_size`` (module
    docstring); one factor, ``digit``."""

    def __init__(self, image_size: int = 32):
        self.image_size = _check_int(image_size, "dataset.image_size", minimum=DIGITS_SIZE)
        self.name = "digits"
        self.n = DIGITS_N
        self.input_shape = (1, self.image_size, self.image_size)
        self.likelihood = "bernoulli"
        self.factor_names = ("digit",)
        self.factor_sizes = (10,)
        self._resize = digits_resize_matrix(self.image_size)

    def get(self, indices) -> np.ndarray:
        idx = self._indices(indices)
        images, _ = _load()
        small = images[idx] / PIXEL_MAX
        big = np.einsum("oi,nij,pj->nop", self._resize, small, self._resize, optimize=True)
        return np.clip(big, 0.0, 1.0).astype(np.float32)[:, None]

    def factors(self, indices) -> np.ndarray:
        idx = self._indices(indices)
        return _load()[1][idx][:, None].copy()
