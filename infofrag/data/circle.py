"""The circle: 2-D points with one factor, the angle; a 1-D latent must tear it somewhere,
which is what makes it the test bed for fusing weak learners."""

from __future__ import annotations

import numpy as np

from .base import Dataset, _check_int

__all__ = ["Circle"]


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
