"""``similarity/shards/<A>__<B>.zarr``: one block pair's similarities.

Variables over (a, b): ``nmi``, ``vi`` (bits), ``i_joint`` (I(UV;X), bits) and ``bound`` (bits: 0
where the pair was computed; for a pair with a channel below the information threshold, the
largest error of ``i_joint``, and half that of ``vi``; its ``nmi`` is NaN). Coords a, b are the
channel ids (``<member>/<channel>``) of block A's and block B's channels; attrs block_a, block_b.
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, strings, write_dataset

VARIABLES = ("nmi", "vi", "i_joint", "bound")


def write(path, nmi, vi, i_joint, bound, a_ids, b_ids, block_a: str, block_b: str) -> None:
    import xarray as xr

    store = xr.Dataset(
        {name: (("a", "b"), np.asarray(v, np.float64)) for name, v in zip(VARIABLES, (nmi, vi, i_joint, bound))},
        coords={"a": strings(a_ids), "b": strings(b_ids)},
        attrs={"block_a": block_a, "block_b": block_b})
    write_dataset(path, store)


def read(path, check: bool = True):
    """The shard as an xarray Dataset (variables nmi, vi, i_joint, bound; coords a, b)."""
    return open_dataset(path, check=check)
