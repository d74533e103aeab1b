"""``similarity/shards/<A>__<B>.zarr``: one block pair's similarities.

Variables ``nmi``, ``vi`` (bits), ``i_joint`` (I(UV;X), bits) over (a, b); coords a, b are the
channel ids (``<member>/<channel>``) of block A's and block B's channels; attrs block_a, block_b.
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, strings, write_dataset


def write(path, nmi, vi, i_joint, a_ids, b_ids, block_a: str, block_b: str) -> None:
    import xarray as xr

    store = xr.Dataset(
        {name: (("a", "b"), np.asarray(v, np.float64)) for name, v in
         (("nmi", nmi), ("vi", vi), ("i_joint", i_joint))},
        coords={"a": strings(a_ids), "b": strings(b_ids)},
        attrs={"block_a": block_a, "block_b": block_b})
    write_dataset(path, store)


def read(path, check: bool = True):
    """The shard as an xarray Dataset (variables nmi, vi, i_joint; coords a, b)."""
    return open_dataset(path, check=check)
