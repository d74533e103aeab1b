"""Datasets: procedural dSprites, the circle, scikit-learn's digits, and loaders for files a user brings.

Every dataset is a :class:`Dataset` with a fixed number of points ``n``; ``get(indices)`` returns
the inputs as float32 ``[n, *input_shape]`` and ``factors(indices)`` the ground-truth factors as
int64 class indices ``[n, F]`` (``F`` may be 0). ``make_dataset(cfg)`` builds one from the
config's ``dataset`` section; ``draw_sample(ds, n, seed)`` draws the fingerprint sample.

One module per kind of data, so each can be read on its own: :mod:`.base` (the interface),
:mod:`.dsprites` (the renderer; its docstring is the geometry's spec), :mod:`.circle`, :mod:`.digits`,
:mod:`.files` (the user-file parsers and their checks) and :mod:`.sample` (config to dataset,
the fingerprint sample). Callers import everything from here.
"""

from __future__ import annotations

from ..errors import DataFileError
from .base import Dataset
from .circle import Circle
from .digits import DIGITS_N, Digits
from .dsprites import (
    DSPRITES_FACTOR_NAMES,
    DSPRITES_FACTOR_SIZES,
    DSPRITES_N,
    DSPRITES_SHAPES,
    DSPRITES_SIZES,
    DSprites,
    _sprite_table,  # the benchmark clears its cache to time the table build
    dsprites_classes,
    dsprites_index,
    render_dsprites,
    render_dsprites_reference,
)
from .files import ArrayDataset, load_dsprites_npz, load_idx, load_images, read_idx
from .sample import DATASET_NAMES, draw_sample, make_dataset, sample_indices

__all__ = [
    "DATASET_NAMES",
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DSPRITES_SHAPES",
    "DataFileError",
    "Dataset",
    "DSprites",
    "Circle",
    "Digits",
    "DIGITS_N",
    "ArrayDataset",
    "make_dataset",
    "draw_sample",
    "sample_indices",
    "dsprites_index",
    "dsprites_classes",
    "render_dsprites",
    "render_dsprites_reference",
    "load_dsprites_npz",
    "load_idx",
    "read_idx",
    "load_images",
]
