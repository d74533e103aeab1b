"""``boost/fused.zarr``: the fused representation.

Variables ``mu``, ``logvar`` (sample, dim) float32 and ``objective`` (step), the mean objective
at every step; attrs status, message, objective_name, target.
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, write_dataset


def write(path, mu, logvar, curve, status: str, message: str, objective: str, target: str) -> None:
    import xarray as xr

    store = xr.Dataset({"mu": (("sample", "dim"), np.asarray(mu, np.float32)),
                        "logvar": (("sample", "dim"), np.asarray(logvar, np.float32)),
                        "objective": ("step", np.asarray(curve, dtype=np.float64))},
                       attrs={"status": status, "message": message or "",
                              "objective_name": objective, "target": target})
    write_dataset(path, store)


def read(path, check: bool = True):
    return open_dataset(path, check=check)
