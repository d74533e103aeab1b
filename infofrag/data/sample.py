"""The two entry points the workflow calls: the dataset from the config, the fingerprint sample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Dataset, _check_int
from .circle import Circle
from .digits import Digits
from .dsprites import DSprites
from .files import _resolve, load_dsprites_npz, load_idx, load_images

__all__ = ["DATASET_NAMES", "make_dataset", "draw_sample"]

DATASET_NAMES = ("dsprites", "circle", "digits", "dsprites_npz", "idx", "images")

_KEYS = {
    "dsprites": ("image_size",),
    "circle": ("n_points", "angle_bins", "seed"),
    "digits": ("image_size",),
    "dsprites_npz": ("path", "image_size", "pixel_max"),
    "idx": ("path", "labels_path", "image_size", "pixel_max"),
    "images": ("path", "image_size", "pixel_max"),
}


def make_dataset(cfg: Mapping) -> Dataset:
    """Build the dataset described by the config's ``dataset`` section.

    ``name`` is one of ``dsprites`` (``image_size`` 32 or 64, default 64), ``circle``
    (``n_points`` = 1000, ``angle_bins`` = 12, ``seed``: random angles from it, else an even grid),
    ``digits`` (scikit-learn's handwritten digits, ``image_size``, default 32),
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
    if name == "digits":
        return Digits(c.get("image_size", 32))
    size = c.get("image_size")
    if size is not None:
        size = _check_int(size, "dataset.image_size", minimum=2)
    if "path" not in c:
        raise ValueError(f"dataset.path is required for dataset {name!r}")
    pixel_max = c.get("pixel_max")
    if name == "dsprites_npz":
        return load_dsprites_npz(_resolve(c["path"], "dataset.path"), size, pixel_max)
    if name == "idx":
        labels = c.get("labels_path")
        if labels is not None:
            labels = _resolve(labels, "dataset.labels_path")
        return load_idx(_resolve(c["path"], "dataset.path"), labels, size, pixel_max)
    return load_images(_resolve(c["path"], "dataset.path"), size, pixel_max)


def sample_indices(ds: Dataset, n: int, seed: int) -> np.ndarray:
    """The dataset indices of the fingerprint sample (sorted), without loading its points."""
    seed = _check_int(seed, "sample.seed", minimum=0)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(ds.n, size=n, replace=False)).astype(np.int64)


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
    indices = sample_indices(ds, n, seed)
    return {
        "indices": indices,
        "x": ds.get(indices),
        "factors": ds.factors(indices),
        "factor_names": tuple(ds.factor_names),
    }
