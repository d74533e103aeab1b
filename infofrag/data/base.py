"""The interface every dataset implements, and the integer check its settings share."""

from __future__ import annotations

import numpy as np

__all__ = ["Dataset"]


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


def _check_int(value, key: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key}: must be at least {minimum}, got {value}")
    return int(value)
