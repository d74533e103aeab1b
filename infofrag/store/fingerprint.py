"""``fingerprints/<member>/ch<c>.zarr``: one channel's fingerprint.

Variables: ``distance`` (i, j) float32, the N x N Bhattacharyya distances (every number of the
pipeline is computed from this stored matrix); ``mu``, ``logvar`` (i) the channel's posteriors;
``factor_nmi``, ``factor_vi`` (factor) against each ground-truth factor. Attrs: member, channel,
info_bits (I(U;X)), self_info_bits (the -mean log2 mean C^2 term).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .zarr_io import open_dataset, strings, write_dataset


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    distance: np.ndarray
    mu: np.ndarray
    logvar: np.ndarray
    factor_names: list
    factor_nmi: np.ndarray
    factor_vi: np.ndarray
    member: str
    channel: int
    info_bits: float
    self_info_bits: float


def write(path, fp: Fingerprint) -> None:
    import xarray as xr

    store = xr.Dataset(
        {"distance": (("i", "j"), np.asarray(fp.distance, dtype=np.float32)),
         "mu": ("i", np.asarray(fp.mu, dtype=np.float32)),
         "logvar": ("i", np.asarray(fp.logvar, dtype=np.float32)),
         "factor_nmi": ("factor", np.asarray(fp.factor_nmi, dtype=np.float64)),
         "factor_vi": ("factor", np.asarray(fp.factor_vi, dtype=np.float64))},
        coords={"factor": strings(fp.factor_names)},
        attrs={"member": fp.member, "channel": int(fp.channel), "info_bits": float(fp.info_bits),
               "self_info_bits": float(fp.self_info_bits)})
    write_dataset(path, store)


def read(path, check: bool = True) -> Fingerprint:
    ds = open_dataset(path, check=check)
    return Fingerprint(distance=ds["distance"].values, mu=ds["mu"].values, logvar=ds["logvar"].values,
                       factor_names=[str(f) for f in ds["factor"].values],
                       factor_nmi=ds["factor_nmi"].values, factor_vi=ds["factor_vi"].values,
                       member=str(ds.attrs["member"]), channel=int(ds.attrs["channel"]),
                       info_bits=float(ds.attrs["info_bits"]), self_info_bits=float(ds.attrs["self_info_bits"]))


def read_distances(paths, check: bool = True) -> tuple[np.ndarray, list[str]]:
    """The distance matrices of several fingerprints, stacked ``[M, N, N]``, and their channel ids."""
    fps = [read(p, check=check) for p in paths]
    return np.stack([f.distance for f in fps]), [channel_id(f.member, f.channel) for f in fps]


def channel_id(member: str, channel: int) -> str:
    """The text that names one channel across stores: ``<member>/<channel>``."""
    return f"{member}/{int(channel)}"
