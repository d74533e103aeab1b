"""``posteriors/<member>.zarr``: one member's posteriors on the fingerprint sample.

Variables ``mu``, ``logvar`` (sample, channel) float32; attr ``member``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import StoreError
from .zarr_io import open_dataset, write_dataset


@dataclasses.dataclass(frozen=True)
class Posteriors:
    mu: np.ndarray  # [N, d]
    logvar: np.ndarray
    member: str


def write(path, mu, logvar, member: str) -> None:
    import xarray as xr

    mu, logvar = np.asarray(mu, dtype=np.float32), np.asarray(logvar, dtype=np.float32)
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise StoreError(f"'{path}': mu {mu.shape} and logvar {logvar.shape} must both be [N, d]")
    store = xr.Dataset({"mu": (("sample", "channel"), mu), "logvar": (("sample", "channel"), logvar)},
                       coords={"channel": np.arange(mu.shape[1])}, attrs={"member": str(member)})
    write_dataset(path, store)


def read(path, check: bool = True) -> Posteriors:
    ds = open_dataset(path, check=check)
    return Posteriors(mu=ds["mu"].values, logvar=ds["logvar"].values, member=str(ds.attrs["member"]))
