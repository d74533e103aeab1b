"""``posteriors/<member>.zarr``: one member's posteriors on the fingerprint sample.

Variables ``mu``, ``logvar`` (sample, channel) float32; coord ``channel``; attr ``member``.
Written and read directly (:func:`infofrag.store.zarr_io.write_arrays`: numpy and json only),
as a member's encode, fingerprint and scores jobs are many and small; ``xarray.open_zarr``
opens it as any store.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import StoreError
from .zarr_io import read_arrays, write_arrays


@dataclasses.dataclass(frozen=True)
class Posteriors:
    mu: np.ndarray  # [N, d]
    logvar: np.ndarray
    member: str


def write(path, mu, logvar, member: str) -> None:
    mu, logvar = np.asarray(mu, dtype=np.float32), np.asarray(logvar, dtype=np.float32)
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise StoreError(f"'{path}': mu {mu.shape} and logvar {logvar.shape} must both be [N, d]")
    write_arrays(path, {"mu": (("sample", "channel"), mu), "logvar": (("sample", "channel"), logvar),
                        "channel": ("channel", np.arange(mu.shape[1], dtype=np.int64))},
                 attrs={"member": str(member)})


def read(path, check: bool = True) -> Posteriors:
    ds = read_arrays(path, ("mu", "logvar"), check=check)
    return Posteriors(mu=ds["mu"], logvar=ds["logvar"], member=str(ds.attrs["member"]))
